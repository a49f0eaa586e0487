import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { planPass, type KeeperMemory, type PlanInput, type Step } from '../../../../src/core/keeper/plan';
import { SAFETY_RELOAD_MS, KEYCHAIN_RELOAD_MS } from '../../../../src/core/keeper/plan';
import { tokenFingerprint, type ProbeMemo } from '../../../../src/core/keeper/staleness';
import { computeStatus, type StatusReason } from '../../../../src/core/status';
import type { ServerConfig } from '../../../../src/core/config/types';
import type { LockHolderInfo } from '../../../../src/core/lock/lock';
import type { AuthModel, ServerRow } from '../../../../src/core/model';

/**
 * The keeper's plan (core/keeper/plan.ts), table-tested like computeStatus: a row's stored token, needs-auth
 * entry, lock and the keeper's memory in; the steps of the pass and when it wakes out.
 */
const NOW = 1_800_000_000_000;
const W = 300_000;
const KEY = 'demo|0123456789abcdef';
const server = (extra: Partial<ServerConfig> = {}): ServerConfig => ({
  name: 'demo',
  scope: 'user',
  file: '/x/.claude.json',
  transport: 'http',
  url: 'http://127.0.0.1:1/mcp',
  ...extra,
});
const tok = (extra: Record<string, unknown>) => ({ accessToken: 'at-123456', refreshToken: 'rt-123456', ...extra });
const held: LockHolderInfo = { held: true, stale: false, ageMs: 1000, holder: 'x' };
const accepted = (at: number): ProbeMemo => ({
  fingerprint: tokenFingerprint('at-123456'),
  result: { verdict: 'accepted', status: 200, at, ms: 1 },
  failures: 0,
  nextAt: at + 60_000,
});

const memory = (m: Partial<KeeperMemory> = {}): KeeperMemory => ({
  refreshing: new Set(),
  probing: new Set(),
  backoff: new Map(),
  sightings: new Map(),
  probes: new Map(),
  removals: new Map(),
  kept: new Map(),
  ...m,
});

interface Row {
  name: string;
  server?: ServerConfig;
  entry?: Record<string, unknown>;
  cache?: { timestamp: number; ttlMs?: number };
  lock?: LockHolderInfo;
  /** a status reason computed elsewhere (notes: a possibly spent token) */
  reason?: StatusReason;
  memory?: Partial<KeeperMemory>;
  input?: Partial<PlanInput>;
  /** the steps, as `do name` (refresh: `+jitter` when it waits a random moment first) */
  steps: string[];
  /** ms from now to the wake (undefined: no wake) */
  wakeIn?: number | undefined;
}

const rows: Row[] = [
  {
    name: 'a valid token beyond the window: nothing to do, wake when it falls due',
    entry: tok({ expiresAt: NOW + W + 60_000 }),
    steps: [],
    wakeIn: 60_000 + 50,
  },
  {
    name: 'a token inside the window: refresh after a random moment',
    entry: tok({ expiresAt: NOW + 60_000 }),
    steps: ['refresh demo +jitter'],
    wakeIn: SAFETY_RELOAD_MS + 50,
  },
  {
    name: 'watch --once: refresh without jitter, and no wake',
    entry: tok({ expiresAt: NOW + 60_000 }),
    input: { once: true },
    steps: ['refresh demo'],
    wakeIn: undefined,
  },
  {
    name: 'a possibly spent refresh token is settled at once, whatever its expiry says',
    entry: tok({ expiresAt: NOW + 3_600_000 }),
    reason: 'token-spent',
    steps: ['refresh demo'],
  },
  {
    name: 'due, but its refresh lock is held by someone else: nothing; wake at the lock’s stale time',
    entry: tok({ expiresAt: NOW + 60_000 }),
    lock: held,
    steps: [],
    wakeIn: 60_000 - 1000 + 50,
  },
  {
    name: 'due, with our refresh under way: nothing, and no timer for it (its end pokes)',
    entry: tok({ expiresAt: NOW + 60_000 }),
    memory: { refreshing: new Set([KEY]) },
    steps: [],
    wakeIn: SAFETY_RELOAD_MS + 50,
  },
  {
    name: 'due, in its failure backoff: nothing; wake when the backoff ends',
    entry: tok({ expiresAt: NOW + 60_000 }),
    memory: { backoff: new Map([[KEY, { until: NOW + 120_000, delay: 120_000 }]]) },
    steps: [],
    wakeIn: 120_000 + 50,
  },
  {
    name: 'proactive refresh off: a due token is left alone',
    entry: tok({ expiresAt: NOW + 60_000 }),
    input: { proactiveRefresh: false },
    steps: [],
    wakeIn: SAFETY_RELOAD_MS + 50,
  },
  {
    name: 'a .mcp.json server awaiting approval: never acted on, no timer',
    server: server({ scope: 'project', approval: 'pending' }),
    entry: tok({ expiresAt: NOW + 60_000 }),
    cache: { timestamp: NOW - 1000 },
    steps: [],
    wakeIn: SAFETY_RELOAD_MS + 50,
  },
  {
    name: 'Restricted Mode (canAct says no): never acted on, no timer',
    entry: tok({ expiresAt: NOW + 60_000 }),
    input: { canAct: () => false },
    steps: [],
    wakeIn: SAFETY_RELOAD_MS + 50,
  },
  {
    name: 'a fresh needs-auth entry and a valid token never probed: probe; wake when the entry lapses',
    entry: tok({ expiresAt: NOW + 3_600_000 }),
    cache: { timestamp: NOW - 1000, ttlMs: 120_000 },
    steps: ['probe demo'],
    wakeIn: 120_000 - 1000 + 50,
  },
  {
    name: 'a probe of this server already under way: no second one',
    entry: tok({ expiresAt: NOW + 3_600_000 }),
    cache: { timestamp: NOW - 1000 },
    memory: { probing: new Set([KEY]) },
    steps: [],
  },
  {
    name: 'the server accepted this very token after the entry was written: remove',
    entry: tok({ expiresAt: NOW + 3_600_000 }),
    cache: { timestamp: NOW - 10_000 },
    memory: { probes: new Map([[KEY, accepted(NOW - 5_000)]]) },
    steps: ['remove demo'],
  },
  {
    name: 'the entry is newer than the probe that accepted the token: keep (newer-than-probe), wake for the next probe',
    entry: tok({ expiresAt: NOW + 3_600_000 }),
    cache: { timestamp: NOW - 1_000 },
    memory: { probes: new Map([[KEY, accepted(NOW - 5_000)]]) },
    steps: ['keep demo newer-than-probe'],
    wakeIn: 55_000 + 50,
  },
  {
    name: 'the token changed after the entry was written: remove, no probe',
    entry: tok({ expiresAt: NOW + 3_600_000 }),
    cache: { timestamp: NOW - 10_000 },
    memory: {
      sightings: new Map([
        [KEY, { fingerprint: tokenFingerprint('at-123456'), changedAfter: NOW - 5_000, lastSeenAt: NOW }],
      ]),
    },
    steps: ['remove demo'],
  },
  {
    name: 'it came back newer after we removed it for this token: keep (loop-guard)',
    entry: tok({ expiresAt: NOW + 3_600_000 }),
    cache: { timestamp: NOW - 1_000 },
    memory: {
      removals: new Map([
        ['demo', { timestamp: NOW - 10_000, fingerprint: tokenFingerprint('at-123456'), at: NOW - 9_000 }],
      ]),
    },
    steps: ['keep demo loop-guard'],
  },
  {
    name: 'the same kept reason as last pass: no new step',
    entry: tok({ expiresAt: NOW + 3_600_000 }),
    cache: { timestamp: NOW - 1_000 },
    memory: {
      removals: new Map([
        ['demo', { timestamp: NOW - 10_000, fingerprint: tokenFingerprint('at-123456'), at: NOW - 9_000 }],
      ]),
      kept: new Map([
        [
          'demo',
          {
            reason: { code: 'loop-guard', removedAt: NOW - 9_000 },
            sig: `${NOW - 1_000}|loop-guard|`,
            entryTimestamp: NOW - 1_000,
          },
        ],
      ]),
    },
    steps: [],
  },
  {
    name: 'step-up (needs-scope): keep, never probe',
    entry: tok({ expiresAt: NOW + 3_600_000, scope: 'mcp', stepUpScope: 'mcp mcp:admin' }),
    cache: { timestamp: NOW - 1_000 },
    steps: ['keep demo needs-scope'],
  },
  {
    name: 'auto-clear off: the entry is left alone',
    entry: tok({ expiresAt: NOW + 3_600_000 }),
    cache: { timestamp: NOW - 1_000 },
    input: { autoClearStaleEntries: false },
    steps: [],
  },
  {
    name: 'due with an entry: the refresh comes first (its own write clears the entry), no probe',
    entry: tok({ expiresAt: NOW + 60_000 }),
    cache: { timestamp: NOW - 1_000 },
    steps: ['refresh demo +jitter'],
  },
  {
    name: 'due, our refresh under way, with an entry: the entry is judged meanwhile',
    entry: tok({ expiresAt: NOW + 60_000 }),
    cache: { timestamp: NOW - 1_000 },
    memory: { refreshing: new Set([KEY]) },
    steps: ['probe demo'],
  },
  {
    name: 'stopping: no step and no wake',
    entry: tok({ expiresAt: NOW + 60_000 }),
    input: { stopped: true },
    steps: [],
    wakeIn: undefined,
  },
  {
    name: 'the keychain (no file to watch): the safety reload is 30 s',
    entry: tok({ expiresAt: NOW + W + 3_600_000 }),
    input: { storeKind: 'keychain' },
    steps: [],
    wakeIn: KEYCHAIN_RELOAD_MS + 50,
  },
];

function modelOf(r: Row): AuthModel {
  const config = r.server ?? server();
  const status = computeStatus(config, { entry: r.entry }, { entry: r.cache as never }, r.lock, NOW, {
    refreshWindowMs: W,
  });
  if (r.reason) status.reason = r.reason;
  const row: ServerRow = { config, key: KEY, status };
  return {
    servers: [row],
    issues: [],
    store: { data: { mcpOAuth: r.entry ? { [KEY]: r.entry } : {} } } as never,
    configFiles: [],
    projectKey: '/p',
    storeLocation: '/s',
    now: NOW,
  };
}

const show = (s: Step) =>
  s.do === 'refresh'
    ? `refresh ${s.row.config.name}${s.jitter ? ' +jitter' : ''}`
    : s.do === 'keep'
      ? `keep ${s.name} ${s.reason.code}`
      : `${s.do} ${s.row.config.name}`;

for (const r of rows) {
  test(`planPass: ${r.name}`, () => {
    const plan = planPass({
      model: modelOf(r),
      now: NOW,
      once: false,
      stopped: false,
      proactiveRefresh: true,
      autoClearStaleEntries: true,
      windowMs: W,
      secureDir: '/home/u/.claude',
      storeKind: 'file',
      memory: memory(r.memory),
      ...r.input,
    });
    assert.deepEqual(plan.steps.map(show), r.steps);
    if ('wakeIn' in r) assert.equal(plan.wakeInMs, r.wakeIn);
    if (r.lock?.held && !r.input?.once)
      assert.deepEqual([...plan.heldLocks], [`mcp-refresh-demo_0123456789abcdef.lock.lock`]);
  });
}

test('planPass: two rows with the same key plan one refresh, and the entry of a removed name is no longer one with entries', () => {
  const m = modelOf({ name: '', entry: tok({ expiresAt: NOW + 60_000 }), steps: [] });
  m.servers.push({ ...m.servers[0], config: { ...m.servers[0].config, scope: 'local' } });
  const plan = planPass({
    model: m,
    now: NOW,
    once: true,
    stopped: false,
    proactiveRefresh: true,
    autoClearStaleEntries: true,
    windowMs: W,
    secureDir: '/s',
    storeKind: 'file',
    memory: memory({
      kept: new Map([['gone', { reason: { code: 'loop-guard', removedAt: 0 }, sig: 'x', entryTimestamp: 0 }]]),
    }),
  });
  assert.deepEqual(plan.steps.map(show), ['refresh demo']);
  assert.deepEqual([...plan.withEntries], []);
});
