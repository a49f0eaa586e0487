import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  computeStatus,
  missingScopes,
  needsAttention,
  isProblem,
  type AuthState,
  type StatusReason,
} from '../../../src/core/status';
import type { ServerConfig } from '../../../src/core/config/types';
import type { LockHolderInfo } from '../../../src/core/lock/lock';
import { noteIssued } from '../../../src/core/timing';

const NOW = 1_800_000_000_000;
const W = 300_000;
const http: ServerConfig = {
  name: 'demo',
  scope: 'user',
  file: '/x/.claude.json',
  transport: 'http',
  url: 'http://127.0.0.1:1/mcp',
};
const tok = (extra: Record<string, unknown>) => ({ accessToken: 'at-123456', refreshToken: 'rt-123456', ...extra });
const fresh = { timestamp: NOW - 60_000 };
const held: LockHolderInfo = { held: true, stale: false, ageMs: 1000, holder: 'x' };

interface Row {
  name: string;
  server?: ServerConfig;
  entry?: unknown;
  cache?: { timestamp: number; ttlMs?: number };
  lock?: LockHolderInfo;
  storeErr?: boolean | 'store-credman';
  cacheErr?: boolean;
  state: AuthState;
  reason: StatusReason;
}
const rows: Row[] = [
  { name: 'valid beyond the window', entry: tok({ expiresAt: NOW + W + 1 }), state: 'signed-in', reason: 'valid' },
  {
    name: 'exactly at the window edge is expiring (Claude Code refreshes when <= 300 s remain)',
    entry: tok({ expiresAt: NOW + W }),
    state: 'expiring',
    reason: 'in-window',
  },
  { name: 'one ms before expiry', entry: tok({ expiresAt: NOW + 1 }), state: 'expiring', reason: 'in-window' },
  {
    name: 'expiring without refresh token',
    entry: tok({ expiresAt: NOW + 1000, refreshToken: undefined }),
    state: 'expiring',
    reason: 'in-window-no-refresh-token',
  },
  {
    name: 'exactly at expiry is expired',
    entry: tok({ expiresAt: NOW }),
    state: 'expired',
    reason: 'expired-refreshable',
  },
  {
    name: 'expired, no refresh token',
    entry: tok({ expiresAt: NOW - 1, refreshToken: undefined }),
    state: 'needs-auth',
    reason: 'no-refresh-token',
  },
  {
    name: 'empty refresh token counts as none',
    entry: tok({ expiresAt: NOW - 1, refreshToken: '' }),
    state: 'needs-auth',
    reason: 'no-refresh-token',
  },
  { name: 'no expiresAt never expires', entry: tok({}), state: 'signed-in', reason: 'no-expiry' },
  {
    name: 'stub written after a 401',
    entry: { accessToken: '', discoveryState: { tokenlessRejectedAt: NOW - 5 } },
    state: 'needs-auth',
    reason: 'stub',
  },
  {
    name: 'signed out after invalid_grant',
    entry: { accessToken: '', expiresAt: 0, clientId: 'c' },
    state: 'needs-auth',
    reason: 'signed-out',
  },
  {
    name: 'empty access token with refresh token is refreshable',
    entry: { accessToken: '', refreshToken: 'rt-123456', expiresAt: 0 },
    state: 'expired',
    reason: 'expired-refreshable',
  },
  {
    name: 'no entry, oauth config',
    server: { ...http, oauth: { clientId: 'x' } },
    state: 'needs-auth',
    reason: 'no-entry',
  },
  // never contacted: not `no-auth` ("needs no sign-in"), which nobody knows yet
  { name: 'no entry, no oauth data: not checked yet', state: 'unchecked', reason: 'not-checked' },
  {
    name: 'no entry, an expired cache entry: not checked yet',
    cache: { timestamp: NOW - 16 * 60_000 },
    state: 'unchecked',
    reason: 'not-checked',
  },
  {
    name: 'static headers without Authorization, no oauth data: not checked yet',
    server: { ...http, headers: { 'X-Team': 'core' } },
    state: 'unchecked',
    reason: 'not-checked',
  },
  { name: 'no entry, fresh cache entry', cache: fresh, state: 'needs-auth', reason: 'cache-entry' },
  {
    name: 'static Authorization header',
    server: { ...http, headers: { authorization: 'Bearer x' } },
    state: 'no-auth',
    reason: 'static-headers',
  },
  {
    name: 'stdio',
    server: { name: 's', scope: 'user', file: 'f', transport: 'stdio', command: 'x' },
    state: 'no-auth',
    reason: 'stdio',
  },
  {
    name: 'valid token + fresh cache entry = blocked',
    entry: tok({ expiresAt: NOW + 3600_000 }),
    cache: fresh,
    state: 'blocked',
    reason: 'cache-entry',
  },
  {
    name: 'expired refreshable + fresh cache entry = blocked',
    entry: tok({ expiresAt: NOW - 1 }),
    cache: fresh,
    state: 'blocked',
    reason: 'cache-entry',
  },
  {
    name: 'needs-auth + fresh cache entry stays needs-auth',
    entry: { accessToken: '', discoveryState: { tokenlessRejectedAt: 1 } },
    cache: fresh,
    state: 'needs-auth',
    reason: 'stub',
  },
  {
    name: 'cache entry past its 15 min TTL is ignored',
    entry: tok({ expiresAt: NOW + 3600_000 }),
    cache: { timestamp: NOW - 15 * 60_000 },
    state: 'signed-in',
    reason: 'valid',
  },
  {
    name: 'cache entry 1 ms inside its TTL blocks',
    entry: tok({ expiresAt: NOW + 3600_000 }),
    cache: { timestamp: NOW - 15 * 60_000 + 1 },
    state: 'blocked',
    reason: 'cache-entry',
  },
  {
    name: 'ttlMs overrides the default',
    entry: tok({ expiresAt: NOW + 3600_000 }),
    cache: { timestamp: NOW - 91_000, ttlMs: 90_000 },
    state: 'signed-in',
    reason: 'valid',
  },
  {
    name: 'cache entry 59 s in the future (tolerated skew) blocks',
    entry: tok({ expiresAt: NOW + 3600_000 }),
    cache: { timestamp: NOW + 59_000 },
    state: 'blocked',
    reason: 'cache-entry',
  },
  {
    name: 'cache entry 61 s in the future is beyond the skew and ignored',
    entry: tok({ expiresAt: NOW + 3600_000 }),
    cache: { timestamp: NOW + 61_000 },
    state: 'signed-in',
    reason: 'valid',
  },
  {
    name: 'lock held and fresh = refreshing',
    entry: tok({ expiresAt: NOW - 1 }),
    lock: held,
    state: 'refreshing',
    reason: 'lock-held',
  },
  {
    name: 'stale lock is not refreshing',
    entry: tok({ expiresAt: NOW - 1 }),
    lock: { ...held, stale: true },
    state: 'expired',
    reason: 'expired-refreshable',
  },
  {
    name: 'lock held over a token inside the window = refreshing',
    entry: tok({ expiresAt: NOW + 1000 }),
    lock: held,
    state: 'refreshing',
    reason: 'lock-held',
  },
  // a held lock is only a detail of a problem: it proves nothing about the outcome, and a dead Claude Code's lock
  // (no heartbeat, stale only after 60 s) would hide the problem meanwhile
  {
    name: 'lock held + fresh cache entry over a usable token = blocked (refresh in progress as a detail)',
    entry: tok({ expiresAt: NOW + 3600_000 }),
    cache: fresh,
    lock: held,
    state: 'blocked',
    reason: 'cache-entry',
  },
  {
    name: 'lock held + expired refreshable + fresh cache entry = blocked',
    entry: tok({ expiresAt: NOW - 1 }),
    cache: fresh,
    lock: { ...held, ageMs: 55_000 },
    state: 'blocked',
    reason: 'cache-entry',
  },
  {
    name: 'lock held over a signed-out entry = needs-auth',
    entry: { accessToken: '', expiresAt: 0, clientId: 'c' },
    lock: held,
    state: 'needs-auth',
    reason: 'signed-out',
  },
  {
    name: 'lock held over a stub = needs-auth',
    entry: { accessToken: '', discoveryState: { tokenlessRejectedAt: NOW - 5 } },
    lock: held,
    state: 'needs-auth',
    reason: 'stub',
  },
  {
    name: 'lock held, expired without refresh token = needs-auth',
    entry: tok({ expiresAt: NOW - 1, refreshToken: undefined }),
    lock: held,
    state: 'needs-auth',
    reason: 'no-refresh-token',
  },
  {
    name: 'lock held, no entry at all, fresh cache entry = needs-auth',
    cache: fresh,
    lock: held,
    state: 'needs-auth',
    reason: 'cache-entry',
  },
  { name: 'store unreadable = error', storeErr: true, state: 'error', reason: 'store-error' },
  {
    name: 'tokens in Windows Credential Manager = error credman',
    storeErr: 'store-credman',
    state: 'error',
    reason: 'credman',
  },
  { name: 'cache unreadable = error', entry: tok({}), cacheErr: true, state: 'error', reason: 'cache-error' },
  {
    name: 'expiresAt of the wrong type = error',
    entry: tok({ expiresAt: 'soon' }),
    state: 'error',
    reason: 'entry-invalid',
  },
  { name: 'entry not an object = error', entry: 'x', state: 'error', reason: 'entry-invalid' },
  {
    name: 'bad url = error',
    server: { ...http, problem: { code: 'invalid-url', message: 'x' } },
    state: 'error',
    reason: 'config-error',
  },
  {
    name: 'a ${VAR} unset in this process = error unset-variable',
    server: { ...http, problem: { code: 'unset-variable', message: 'x', variables: ['HOST'] } },
    state: 'error',
    reason: 'unset-variable',
  },
];

for (const r of rows) {
  test(`computeStatus: ${r.name}`, () => {
    const s = computeStatus(
      r.server ?? http,
      r.storeErr
        ? { error: { code: r.storeErr === true ? 'store-parse' : r.storeErr, message: 'x' } }
        : { entry: r.entry },
      r.cacheErr ? { error: { code: 'cache-parse', message: 'x' } } : { entry: r.cache },
      r.lock,
      NOW,
      { refreshWindowMs: W },
    );
    assert.equal(s.state, r.state);
    assert.equal(s.reason, r.reason);
    // a held, fresh lock is always said: as the state, or as the detail of a problem
    assert.equal(s.refreshInProgress, r.lock?.held && !r.lock.stale ? true : undefined);
    if (r.lock?.held) assert.equal(s.lock?.holder, r.lock.holder, 'the holder stays on the row (tooltip, doctor)');
  });
}

test('computeStatus: plugin http server without static headers gets the 4 h TTL', () => {
  const plugin: ServerConfig = { ...http, name: 'plugin:p:s', scope: 'plugin' };
  const s = computeStatus(
    plugin,
    { entry: tok({ expiresAt: NOW + 3600_000 }) },
    { entry: { timestamp: NOW - 3 * 3600_000 } },
    undefined,
    NOW,
  );
  assert.equal(s.state, 'blocked');
  assert.equal(s.cache?.ttlMs, 4 * 3600_000);
});

test('computeStatus: a custom refresh window is honoured', () => {
  const s = computeStatus(http, { entry: tok({ expiresAt: NOW + 400_000 }) }, {}, undefined, NOW, {
    refreshWindowMs: 600_000,
  });
  assert.equal(s.state, 'expiring');
});

// ---- short-lived tokens: "expiring" only once a refresh is due (timing.ts), not for the whole life of a token
// that lives no longer than the window

const jwt = (claims: Record<string, unknown>) =>
  `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
/** A JWT access token issued at `iat` (epoch s) that lives `ttl` s, stored with the matching expiresAt. */
const jwtEntry = (iat: number, ttl: number, extra: Record<string, unknown> = {}) =>
  tok({ accessToken: jwt({ iat, exp: iat + ttl }), expiresAt: (iat + ttl) * 1000, ...extra });
const T0 = NOW / 1000; // issuance, epoch s

interface ShortRow {
  name: string;
  entry: Record<string, unknown>;
  now: number;
  state: AuthState;
  reason: StatusReason;
  dueAt: number;
}
const short: ShortRow[] = [
  {
    name: 'a 300-s token 10 s old (290 s left, inside the 300-s window) is signed-in: not due before half its life',
    entry: jwtEntry(T0, 300),
    now: NOW + 10_000,
    state: 'signed-in',
    reason: 'valid',
    dueAt: NOW + 150_000,
  },
  {
    name: 'a 300-s token 1 ms before half its life is signed-in',
    entry: jwtEntry(T0, 300),
    now: NOW + 149_999,
    state: 'signed-in',
    reason: 'valid',
    dueAt: NOW + 150_000,
  },
  {
    name: 'a 300-s token at half its life is expiring',
    entry: jwtEntry(T0, 300),
    now: NOW + 150_000,
    state: 'expiring',
    reason: 'in-window',
    dueAt: NOW + 150_000,
  },
  {
    name: 'a 300-s token past half its life, no refresh token',
    entry: jwtEntry(T0, 300, { refreshToken: undefined }),
    now: NOW + 200_000,
    state: 'expiring',
    reason: 'in-window-no-refresh-token',
    dueAt: NOW + 150_000,
  },
  {
    name: 'a 300-s token at its expiry is expired',
    entry: jwtEntry(T0, 300),
    now: NOW + 300_000,
    state: 'expired',
    reason: 'expired-refreshable',
    dueAt: NOW + 150_000,
  },
  {
    name: 'a 40-s token 29.999 s old is signed-in (never due within 30 s of issuance)',
    entry: jwtEntry(T0, 40),
    now: NOW + 29_999,
    state: 'signed-in',
    reason: 'valid',
    dueAt: NOW + 30_000,
  },
  {
    name: 'a 40-s token 30 s old is expiring',
    entry: jwtEntry(T0, 40),
    now: NOW + 30_000,
    state: 'expiring',
    reason: 'in-window',
    dueAt: NOW + 30_000,
  },
  {
    name: 'a 10-s token is signed-in until it expires',
    entry: jwtEntry(T0, 10),
    now: NOW + 9_999,
    state: 'signed-in',
    reason: 'valid',
    dueAt: NOW + 10_000,
  },
  {
    name: 'a 10-s token at its expiry is expired',
    entry: jwtEntry(T0, 10),
    now: NOW + 10_000,
    state: 'expired',
    reason: 'expired-refreshable',
    dueAt: NOW + 10_000,
  },
  {
    name: 'a 1-h token with 300 s + 1 ms left is signed-in',
    entry: jwtEntry(T0, 3600),
    now: NOW + 3300_000 - 1,
    state: 'signed-in',
    reason: 'valid',
    dueAt: NOW + 3300_000,
  },
  {
    name: "a 1-h token with 300 s left is expiring (Claude Code's window)",
    entry: jwtEntry(T0, 3600),
    now: NOW + 3300_000,
    state: 'expiring',
    reason: 'in-window',
    dueAt: NOW + 3300_000,
  },
  {
    name: 'a JWT whose exp disagrees with the stored expiresAt: the window alone (200 s left → expiring)',
    entry: tok({ accessToken: jwt({ iat: T0, exp: T0 + 3600 }), expiresAt: NOW + 200_000 }),
    now: NOW,
    state: 'expiring',
    reason: 'in-window',
    dueAt: NOW + 200_000 - W,
  },
  {
    name: 'an opaque token (lifetime unknown) 120 s from expiry: the window alone → expiring',
    entry: tok({ accessToken: 'opaque-status-1', expiresAt: NOW + 120_000 }),
    now: NOW,
    state: 'expiring',
    reason: 'in-window',
    dueAt: NOW + 120_000 - W,
  },
];
for (const r of short) {
  test(`computeStatus, short-lived tokens: ${r.name}`, () => {
    const s = computeStatus(http, { entry: r.entry }, {}, undefined, r.now, { refreshWindowMs: W });
    assert.deepEqual([s.state, s.reason, s.refreshDueAt], [r.state, r.reason, r.dueAt]);
  });
}

test('computeStatus, short-lived tokens: an opaque 120-s token this process stored is due at half its life, not from birth', () => {
  noteIssued('opaque-status-2', NOW, NOW + 120_000);
  const entry = tok({ accessToken: 'opaque-status-2', expiresAt: NOW + 120_000 });
  const at = (now: number) => {
    const s = computeStatus(http, { entry }, {}, undefined, now, { refreshWindowMs: W });
    return [s.state, s.reason, s.refreshDueAt];
  };
  assert.deepEqual(at(NOW + 1000), ['signed-in', 'valid', NOW + 60_000]);
  assert.deepEqual(at(NOW + 59_999), ['signed-in', 'valid', NOW + 60_000]);
  assert.deepEqual(at(NOW + 60_000), ['expiring', 'in-window', NOW + 60_000]);
});

// ---- step-up: Claude Code's stepUpScope (written by `claude mcp list` after a 403 insufficient_scope; seen with
// 2.1.328: "stepUpScope": "<scopes from the challenge> offline_access", tokens kept, a 90-s needs-auth entry)

const stepUp = (extra: Record<string, unknown> = {}) =>
  tok({ expiresAt: NOW + 3600_000, scope: 'mcp', stepUpScope: 'mcp mcp:admin offline_access', ...extra });
const ninety = { timestamp: NOW - 10_000, ttlMs: 90_000 };

interface StepUpRow {
  name: string;
  entry: unknown;
  cache?: { timestamp: number; ttlMs?: number };
  lock?: LockHolderInfo;
  state: AuthState;
  reason: StatusReason;
  missing?: string[];
}
const stepUps: StepUpRow[] = [
  {
    name: 'a token lacking a scope of stepUpScope is needs-scope, naming what is missing (offline_access never counts)',
    entry: stepUp(),
    state: 'needs-scope',
    reason: 'step-up',
    missing: ['mcp:admin'],
  },
  {
    name: "with Claude Code's 90-s needs-auth entry it is needs-scope, not blocked (clearing the entry would not help)",
    entry: stepUp(),
    cache: ninety,
    state: 'needs-scope',
    reason: 'step-up',
    missing: ['mcp:admin'],
  },
  {
    name: 'an expired but refreshable token still lacks the scope (a refresh does not add scopes)',
    entry: stepUp({ expiresAt: NOW - 1 }),
    state: 'needs-scope',
    reason: 'step-up',
    missing: ['mcp:admin'],
  },
  {
    name: 'a token inside the refresh window',
    entry: stepUp({ expiresAt: NOW + 1000 }),
    state: 'needs-scope',
    reason: 'step-up',
    missing: ['mcp:admin'],
  },
  {
    name: 'no stored scope: every step-up scope is missing',
    entry: stepUp({ scope: undefined }),
    state: 'needs-scope',
    reason: 'step-up',
    missing: ['mcp', 'mcp:admin'],
  },
  {
    name: 'several missing, in the order the server named them, without duplicates',
    entry: stepUp({ scope: 'mcp:read', stepUpScope: 'mcp:write  mcp mcp:write offline_access' }),
    state: 'needs-scope',
    reason: 'step-up',
    missing: ['mcp:write', 'mcp'],
  },
  {
    name: 'a granted scope that covers stepUpScope (offline_access aside): the usual rule',
    entry: stepUp({ scope: 'mcp:admin mcp' }),
    state: 'signed-in',
    reason: 'valid',
  },
  {
    name: 'covered, with a fresh entry: blocked as usual',
    entry: stepUp({ scope: 'mcp mcp:admin' }),
    cache: ninety,
    state: 'blocked',
    reason: 'cache-entry',
  },
  {
    name: 'stepUpScope of only offline_access lacks nothing',
    entry: stepUp({ stepUpScope: 'offline_access' }),
    state: 'signed-in',
    reason: 'valid',
  },
  {
    name: 'an empty stepUpScope lacks nothing',
    entry: stepUp({ stepUpScope: '' }),
    state: 'signed-in',
    reason: 'valid',
  },
  {
    name: 'no usable token: needs-auth wins (a sign-in is needed anyway, and it asks for the union)',
    entry: stepUp({ expiresAt: NOW - 1, refreshToken: undefined }),
    state: 'needs-auth',
    reason: 'no-refresh-token',
  },
  {
    name: 'signed out (Claude Code keeps stepUpScope across sign-out): needs-auth',
    entry: { accessToken: '', clientId: 'c', stepUpScope: 'mcp mcp:admin offline_access' },
    state: 'needs-auth',
    reason: 'stub',
  },
  {
    name: 'a refresh in progress does not hide the step-up: needs-scope, refresh in progress as a detail',
    entry: stepUp(),
    lock: held,
    state: 'needs-scope',
    reason: 'step-up',
    missing: ['mcp:admin'],
  },
  {
    name: 'the same with a stale lock: needs-scope, no refresh in progress',
    entry: stepUp(),
    lock: { ...held, stale: true, ageMs: 61_000 },
    state: 'needs-scope',
    reason: 'step-up',
    missing: ['mcp:admin'],
  },
  {
    name: 'stepUpScope that is not a string: the entry is malformed',
    entry: stepUp({ stepUpScope: ['mcp:admin'] }),
    state: 'error',
    reason: 'entry-invalid',
  },
];
for (const r of stepUps) {
  test(`computeStatus, step-up: ${r.name}`, () => {
    const s = computeStatus(http, { entry: r.entry }, { entry: r.cache }, r.lock, NOW, { refreshWindowMs: W });
    assert.deepEqual([s.state, s.reason], [r.state, r.reason]);
    assert.deepEqual(s.missingScopes, r.missing);
    assert.equal(s.refreshInProgress, r.lock?.held && !r.lock.stale ? true : undefined);
  });
}

test('computeStatus, step-up: needs-scope keeps what the tooltip and doctor show (scope, expiry, refresh token, cache entry)', () => {
  const s = computeStatus(http, { entry: stepUp() }, { entry: ninety }, undefined, NOW);
  assert.equal(s.scope, 'mcp');
  assert.equal(s.expiresAt, NOW + 3600_000);
  assert.equal(s.hasRefreshToken, true);
  assert.deepEqual(s.cache, { timestamp: NOW - 10_000, ttlMs: 90_000, ageMs: 10_000, fresh: true });
});

test('needs-scope needs attention (status bar) and is a problem (status exit 1)', () => {
  assert.equal(needsAttention('needs-scope'), true);
  assert.equal(isProblem('needs-scope'), true);
  assert.equal(needsAttention('signed-in'), false);
});

test('missingScopes: space-separated sets, offline_access ignored, order of the requirement kept', () => {
  assert.deepEqual(missingScopes('mcp mcp:admin offline_access', 'mcp'), ['mcp:admin']);
  assert.deepEqual(missingScopes('mcp mcp:admin', 'mcp:admin\tmcp'), []);
  assert.deepEqual(missingScopes(undefined, 'mcp'), []);
  assert.deepEqual(missingScopes('a b', undefined), ['a', 'b']);
});

test('computeStatus: an unset ${VAR} names the variables; unchecked is neither a problem nor needs attention', () => {
  const s = computeStatus(
    { ...http, problem: { code: 'unset-variable', message: 'x', variables: ['HOST', 'TOKEN'] } },
    {},
    {},
    undefined,
    NOW,
  );
  assert.equal(s.code, 'unset-variable');
  assert.deepEqual(s.variables, ['HOST', 'TOKEN']);
  assert.equal(isProblem('unchecked'), false);
  assert.equal(needsAttention('unchecked'), false);
});
