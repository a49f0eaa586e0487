import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  decideStale,
  recordProbe,
  TokenSightings,
  tokenFingerprint,
  PROBE_MIN_GAP_MS,
  PROBE_MAX_GAP_MS,
  type StaleInput,
} from '../../../../src/core/keeper/staleness';
import type { ProbeResult } from '../../../../src/core/keeper/probe';

const NOW = 1_800_000_000_000;
const FP = tokenFingerprint('at-one');
const FP2 = tokenFingerprint('at-two');
const tok = { fingerprint: FP, usable: true, probeable: true };
const entry = { timestamp: NOW - 10_000, fresh: true };
const accepted = (at: number): ProbeResult => ({ verdict: 'accepted', status: 200, at, ms: 5 });
const rejected = (at: number): ProbeResult => ({
  verdict: 'rejected',
  status: 401,
  challenge: true,
  error: 'invalid_token',
  at,
  ms: 5,
});
const base: StaleInput = { now: NOW, entry, token: tok };

test('nothing to decide without a fresh entry and a usable token', () => {
  assert.deepEqual(decideStale({ ...base, entry: undefined }), { action: 'none' });
  assert.deepEqual(decideStale({ ...base, entry: { ...entry, fresh: false } }), { action: 'none' });
  assert.deepEqual(decideStale({ ...base, token: undefined }), { action: 'none' });
  assert.deepEqual(decideStale({ ...base, token: { ...tok, usable: false } }), { action: 'none' });
});

test('an expired (refreshable) access token is not probed: the refresh comes first', () => {
  assert.deepEqual(decideStale({ ...base, token: { ...tok, probeable: false } }), { action: 'none' });
});

test('a fresh entry and a probeable token with no probe yet: probe', () => {
  assert.deepEqual(decideStale(base), { action: 'probe' });
});

test('(a) a probe that accepted this token at or after the entry was written: remove', () => {
  const probe = recordProbe(undefined, FP, accepted(NOW - 5_000));
  const d = decideStale({ ...base, probe });
  assert.equal(d.action, 'remove');
  assert.equal(d.action === 'remove' && d.because, 'accepted');
});

test('(a) an accepting probe older than the entry does not count: Claude Code failed after it; wait a minute, then probe again', () => {
  const probe = recordProbe(undefined, FP, accepted(NOW - 20_000));
  const d = decideStale({ ...base, probe });
  assert.equal(d.action, 'keep');
  assert.equal(d.action === 'keep' && d.reason.code, 'newer-than-probe');
  assert.deepEqual(decideStale({ ...base, probe, now: NOW - 20_000 + PROBE_MIN_GAP_MS }), { action: 'probe' });
});

test('(a) a rejection keeps the entry with the verdict; probes back off 1, 2, 4 min … up to 30 min', () => {
  let probe = recordProbe(undefined, FP, rejected(NOW));
  const d = decideStale({ ...base, now: NOW + 1000, probe });
  assert.equal(d.action, 'keep');
  assert.ok(d.action === 'keep' && d.reason.code === 'rejected' && d.reason.probe.verdict === 'rejected');
  assert.equal(probe.nextAt - NOW, PROBE_MIN_GAP_MS);
  const gaps = [PROBE_MIN_GAP_MS];
  for (let i = 0; i < 8; i++) {
    probe = recordProbe(probe, FP, rejected(NOW));
    gaps.push(probe.nextAt - NOW);
  }
  assert.deepEqual(gaps.slice(0, 4), [60_000, 120_000, 240_000, 480_000]);
  assert.equal(gaps[gaps.length - 1], PROBE_MAX_GAP_MS);
  // an acceptance resets the backoff
  assert.equal(recordProbe(probe, FP, accepted(NOW)).failures, 0);
  // a new token starts its count over
  assert.equal(recordProbe(probe, FP2, rejected(NOW)).failures, 1);
});

test('a new token within a minute of the last probe of this server waits for the gap (never two probes a minute)', () => {
  const probe = recordProbe(undefined, FP2, rejected(NOW - 1000));
  const d = decideStale({ ...base, probe });
  assert.equal(d.action, 'keep');
  assert.equal(d.action === 'keep' && d.reason.code, 'probe-pending');
  assert.deepEqual(decideStale({ ...base, probe, now: NOW - 1000 + PROBE_MIN_GAP_MS }), { action: 'probe' });
});

test('(b) sightings: a baseline proves nothing; a change proves the new token was written after the previous read started', () => {
  const s = new TokenSightings();
  const first = s.observe('k', 'at-one', NOW - 60_000);
  assert.equal(first.changedAfter, undefined);
  s.observe('k', 'at-one', NOW - 30_000);
  const changed = s.observe('k', 'at-two', NOW - 1000);
  assert.equal(changed.changedAfter, NOW - 30_000);
  assert.equal(changed.fingerprint, FP2);
  // the same token seen again keeps the bound
  assert.equal(s.observe('k', 'at-two', NOW).changedAfter, NOW - 30_000);
  // a token appearing where there was none is a change too
  s.observe('k2', undefined, NOW - 5000);
  assert.equal(s.observe('k2', 'at-x', NOW).changedAfter, NOW - 5000);
});

test('(b) an entry written no later than the last read that saw the previous token: remove without probing', () => {
  const s = new TokenSightings();
  s.observe('k', 'at-zero', NOW - 60_000);
  s.observe('k', 'at-zero', entry.timestamp + 1); // the read that followed the entry's write still saw the old token
  const sighting = s.observe('k', 'at-one', NOW);
  assert.deepEqual(decideStale({ ...base, sighting }), {
    action: 'remove',
    because: 'token-changed',
    changedAfter: entry.timestamp + 1,
  });
});

test('(b) token stored and entry written between two reads (Claude Code failed with the new token): not proven stale, probe instead', () => {
  const s = new TokenSightings();
  s.observe('k', 'at-zero', entry.timestamp - 100);
  const sighting = s.observe('k', 'at-one', NOW);
  assert.deepEqual(decideStale({ ...base, sighting }), { action: 'probe' });
});

test('(b) the store file mtime plays no part: a baseline sighting after the entry does not remove it', () => {
  const s = new TokenSightings();
  const sighting = s.observe('k', 'at-one', NOW);
  assert.deepEqual(decideStale({ ...base, sighting }), { action: 'probe' });
});

test('loop guard: an entry we removed that returns newer with the same token stays, with its reason; a new token lifts it', () => {
  const removed = { timestamp: entry.timestamp - 50_000, fingerprint: FP, at: NOW - 40_000 };
  const probe = recordProbe(undefined, FP, accepted(NOW - 1)); // even an accepting probe does not override it
  const d = decideStale({ ...base, removed, probe });
  assert.deepEqual(d, { action: 'keep', reason: { code: 'loop-guard', removedAt: NOW - 40_000 } });
  // the same (not newer) entry: our earlier removal did not happen; decide normally
  assert.equal(decideStale({ ...base, removed: { ...removed, timestamp: entry.timestamp }, probe }).action, 'remove');
  // a new token: the guard no longer applies
  assert.equal(decideStale({ ...base, token: { ...tok, fingerprint: FP2 }, removed }).action, 'probe');
});

test('step-up: a token lacking the scopes the server asked for keeps the entry, with no probe, even after an accepting probe or a token change', () => {
  const keep = { action: 'keep', reason: { code: 'needs-scope', missingScopes: ['mcp:admin'] } };
  assert.deepEqual(decideStale({ ...base, missingScopes: ['mcp:admin'] }), keep);
  assert.deepEqual(
    decideStale({ ...base, missingScopes: ['mcp:admin'], probe: recordProbe(undefined, FP, accepted(NOW - 1000)) }),
    keep,
  );
  const sightings = new TokenSightings();
  sightings.observe('k', 'at-zero', NOW - 60_000);
  const sighting = sightings.observe('k', 'at-one', NOW - 1000);
  assert.deepEqual(
    decideStale({ ...base, entry: { timestamp: NOW - 30_000, fresh: true }, sighting, missingScopes: ['mcp:admin'] }),
    keep,
  );
  assert.deepEqual(decideStale({ ...base, missingScopes: [] }), { action: 'probe' }, 'nothing missing: the usual rule');
});
