import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withHome, runCliAsync, type TempHome } from '../helpers/home';
import { signedIn, entryOf, callWhoami, patchEntry, readStore, writeStore } from '../helpers/oauth';
import { useStack } from '../helpers/stack';
import { runClaude } from '../helpers/claude';

const stack = useStack();

const N = 16;

/** A signed-in HOME with `demo` (ours to refresh), `other` (must not change) and unknown keys everywhere. */
async function signedInHome(h: TempHome): Promise<void> {
  await signedIn({ demo: { type: 'http', url: stack.mcpUrl }, other: { type: 'http', url: `${stack.issuer}/other` } })(
    h,
  );
  const s = readStore(h);
  s.claudeAiOauth = {
    accessToken: 'sk-ant-oat01-unrelated',
    refreshToken: 'sk-ant-ort01-unrelated',
    expiresAt: Date.now() + 1e7,
    scopes: ['user:inference'],
  };
  s.someFutureKey = { nested: [1, { deep: true }] };
  s.mcpOAuth['other|0123456789abcdef'] = {
    serverName: 'other',
    serverUrl: `${stack.issuer}/other`,
    accessToken: 'other-at',
    refreshToken: 'other-rt',
    expiresAt: 1,
    unknownField: 'kept',
  };
  const { key } = entryOf(h, 'demo');
  s.mcpOAuth[key].futureField = { keep: 'me' };
  writeStore(h, s);
}

function unrelated(h: TempHome) {
  const s = readStore(h);
  const { key } = entryOf(h, 'demo');
  const rest = { ...s, mcpOAuth: { ...s.mcpOAuth } };
  delete rest.mcpOAuth[key];
  return { rest, futureField: s.mcpOAuth[key].futureField };
}

/** A refresh lock held by "Claude Code" (a proper-lockfile directory, no owner file), heartbeat `ageMs` old. */
function foreignLock(h: TempHome, ageMs: number): string {
  const { key } = entryOf(h, 'demo');
  const lockDir = path.join(h.claudeDir, `mcp-refresh-${key.replace(/[^a-zA-Z0-9]/g, '_')}.lock.lock`);
  fs.mkdirSync(lockDir);
  const t = new Date(Date.now() - ageMs);
  fs.utimesSync(lockDir, t, t);
  return lockDir;
}

async function race(h: TempHome, n: number, env: NodeJS.ProcessEnv = h.env) {
  return Promise.all(
    Array.from({ length: n }, () => runCliAsync(['refresh', 'demo', '--json'], { env, cwd: h.project })),
  );
}

test(
  `race: ${N} processes refresh one expired entry → 1 refresh, 0 reuses, 1 refreshed + ${N - 1} adopted`,
  { timeout: 120_000 },
  async () => {
    await withHome(signedInHome, async (h) => {
      patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
      const before = unrelated(h);
      const rt0 = entryOf(h, 'demo').entry.refreshToken;
      Object.assign(stack.counters, { tokenRequests: {}, reusesDetected: 0, grantsRevoked: 0 });
      // the first POST is held long enough that every process has read the old token and is waiting (a
      // process starting after the write would rightly say `fresh`, not `adopted`)
      stack.mode.tokenDelayMs = 2500;
      const results = await race(h, N);
      const outcomes = results.map((r) => JSON.parse(r.stdout).results[0].result as string);
      assert.deepEqual(
        results.map((r) => r.code),
        Array(N).fill(0),
        results.map((r) => r.stderr).join('\n'),
      );
      assert.equal(outcomes.filter((o) => o === 'refreshed').length, 1, outcomes.join(','));
      assert.equal(outcomes.filter((o) => o === 'adopted').length, N - 1, outcomes.join(','));
      assert.equal(stack.counters.tokenRequests.refresh_token, 1);
      assert.equal(stack.counters.reusesDetected, 0);
      assert.equal(stack.counters.grantsRevoked, 0);
      const { entry } = entryOf(h, 'demo');
      assert.notEqual(entry.refreshToken, rt0);
      assert.ok(entry.expiresAt > Date.now() + 3000_000);
      assert.equal((await callWhoami(stack.mcpUrl, entry.accessToken)).sub, 'test-user');
      assert.deepEqual(unrelated(h), before, 'other entries, claudeAiOauth and unknown keys unchanged');
      assert.equal(fs.statSync(path.join(h.claudeDir, '.credentials.json')).mode & 0o777, 0o600);
      assert.deepEqual(
        fs.readdirSync(h.claudeDir).filter((n) => /\.lock|\.tmp\./.test(n)),
        [],
        'no lock or temp file left',
      );
    });
  },
);

test(
  'control: the same race without the refresh lock shows reuse and a revoked grant (the test can fail)',
  { timeout: 120_000 },
  async () => {
    await withHome(signedInHome, async (h) => {
      patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
      Object.assign(stack.counters, { tokenRequests: {}, reusesDetected: 0, grantsRevoked: 0 });
      stack.mode.tokenDelayMs = 1500; // every process reads the old token before the first answer arrives
      const results = await race(h, 8, { ...h.env, MCP_AUTH_TEST_NO_LOCK: '1' });
      const c = JSON.stringify(stack.counters);
      assert.ok(stack.counters.tokenRequests.refresh_token > 1, c);
      assert.ok(stack.counters.reusesDetected >= 1, c);
      assert.ok(stack.counters.grantsRevoked >= 1, c);
      void results;
      // the harm the lock prevents: the grant family is revoked, so even the stored token is dead
      await assert.rejects(callWhoami(stack.mcpUrl, entryOf(h, 'demo').entry.accessToken));
    });
  },
);

test('fresh entries need no lock and no request; --force refreshes anyway', async () => {
  await withHome(signedInHome, async (h) => {
    const n0 = stack.counters.tokenRequests.refresh_token ?? 0;
    const r = await runCliAsync(['refresh', 'demo'], { env: h.env, cwd: h.project });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^demo: fresh, expires in \d+ min/m);
    assert.equal(stack.counters.tokenRequests.refresh_token ?? 0, n0);
    const f = await runCliAsync(['refresh', 'demo', '--force'], { env: h.env, cwd: h.project });
    assert.equal(f.code, 0, f.stderr);
    assert.match(f.stdout, /^demo: refreshed/m);
    assert.equal(stack.counters.tokenRequests.refresh_token, n0 + 1);
  });
});

test(
  'fault: a holder SIGKILLed with the lock held → the next process proceeds at once (dead PID), not after 60 s',
  { timeout: 60_000 },
  async () => {
    await withHome(signedInHome, async (h) => {
      patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
      const dead = await runCliAsync(['refresh', 'demo'], {
        env: { ...h.env, MCP_AUTH_TEST_CRASH_AT: 'after-lock' },
        cwd: h.project,
      });
      assert.equal(dead.code, 128, 'killed');
      assert.ok(
        fs.readdirSync(h.claudeDir).some((n) => n.startsWith('mcp-refresh-') && n.endsWith('.lock.lock')),
        'the lock is left behind',
      );
      const next = await runCliAsync(['refresh', 'demo', '--verbose'], { env: h.env, cwd: h.project });
      assert.equal(next.code, 0, next.stderr);
      assert.match(next.stdout, /demo: refreshed/);
      assert.match(next.stderr, /reclaiming .* holder pid \d+ is gone/);
      assert.ok(next.ms < 15_000, `took ${next.ms} ms (stale reclaim would take 60 s)`);
      console.log(`# dead-holder reclaim: next refresh done in ${next.ms} ms`);
    });
  },
);

for (const [name, mode, code, env] of [
  ['503', { tokenStatus: 503 }, 'server-error', {}],
  ['a hang', { tokenHang: true }, 'timeout', { MCP_AUTH_HTTP_TIMEOUT: '2' }],
  ['garbage', { tokenBody: '<html>oops' }, 'bad-response', {}],
] as const) {
  test(
    `fault: the token endpoint answers ${name} → entry unchanged, exit 1 with ${code}`,
    { timeout: 60_000 },
    async () => {
      await withHome(signedInHome, async (h) => {
        patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
        const before = fs.readFileSync(path.join(h.claudeDir, '.credentials.json'), 'utf8');
        Object.assign(stack.mode, mode);
        const r = await runCliAsync(['refresh', 'demo'], { env: { ...h.env, ...env }, cwd: h.project });
        assert.equal(r.code, 1);
        assert.match(r.stderr, new RegExp(`^mcp-auth: ${code}: `, 'm'));
        assert.equal(fs.readFileSync(path.join(h.claudeDir, '.credentials.json'), 'utf8'), before);
        assert.ok(!/\n\s+at /.test(r.stderr));
      });
    },
  );
}

test(
  'fault: invalid_grant because another process rotated meanwhile → adopted, not wiped',
  { timeout: 60_000 },
  async () => {
    await withHome(signedInHome, async (h) => {
      patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
      const { entry } = entryOf(h, 'demo');
      stack.mode.tokenDelayMs = 1500;
      const before = stack.counters.tokenRequests.refresh_token ?? 0;
      const ours = runCliAsync(['refresh', 'demo', '--json'], { env: h.env, cwd: h.project });
      while ((stack.counters.tokenRequests.refresh_token ?? 0) === before) await new Promise((r) => setTimeout(r, 20));
      // "another process" (e.g. Claude Code's 401 path, which takes no refresh lock) rotates rt0 first
      const res = await fetch(`${stack.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-test-nodelay': '1' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: entry.refreshToken,
          client_id: entry.clientId,
          resource: stack.mcpUrl,
        }),
      });
      const rotated = (await res.json()) as { refresh_token: string; access_token: string };
      assert.equal(res.status, 200);
      patchEntry(h, 'demo', {
        accessToken: rotated.access_token,
        refreshToken: rotated.refresh_token,
        expiresAt: Date.now() + 3600_000,
      });
      const r = await ours;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).results[0].result, 'adopted');
      assert.equal(entryOf(h, 'demo').entry.refreshToken, rotated.refresh_token, 'the newer generation is kept');
    });
  },
);

test('invalid_grant for the current generation → signed out exactly as Claude Code marks it (entry kept)', async () => {
  await withHome(signedInHome, async (h) => {
    patchEntry(h, 'demo', { expiresAt: Date.now() - 1000, refreshToken: 'not-a-token-the-AS-knows' });
    const r = await runCliAsync(['refresh', 'demo'], { env: h.env, cwd: h.project });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^mcp-auth: invalid-grant: /m);
    const { entry } = entryOf(h, 'demo');
    assert.equal(entry.accessToken, '');
    assert.equal(entry.expiresAt, 0);
    assert.equal(entry.refreshToken, undefined);
    assert.ok(entry.clientId && entry.issuer && entry.discoveryState && entry.futureField);
    const st = await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project });
    const demo = JSON.parse(st.stdout).servers.find((s: { name: string }) => s.name === 'demo');
    assert.deepEqual([demo.state, demo.reason], ['needs-auth', 'signed-out']);
  });
});

test(
  'a stale lock left by a dead Claude Code (no owner file) is reclaimed once, race-free: 8 processes → 1 refresh, 0 reuses',
  { timeout: 60_000 },
  async () => {
    await withHome(signedInHome, async (h) => {
      patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
      foreignLock(h, 120_000);
      Object.assign(stack.counters, { tokenRequests: {}, reusesDetected: 0, grantsRevoked: 0 });
      stack.mode.tokenDelayMs = 1500;
      const results = await race(h, 8);
      assert.deepEqual(
        results.map((r) => r.code),
        Array(8).fill(0),
        results.map((r) => r.stderr).join('\n'),
      );
      const outcomes = results.map((r) => JSON.parse(r.stdout).results[0].result as string);
      assert.equal(outcomes.filter((o) => o === 'refreshed').length, 1, outcomes.join(','));
      assert.equal(stack.counters.tokenRequests.refresh_token, 1);
      assert.equal(stack.counters.reusesDetected, 0);
      assert.deepEqual(
        fs.readdirSync(h.claudeDir).filter((n) => /\.lock|\.stale\.|\.reclaim/.test(n)),
        [],
      );
    });
  },
);

test('lock timeout → exit 3 with lock-timeout', { timeout: 60_000 }, async () => {
  await withHome(signedInHome, async (h) => {
    patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
    const lockDir = foreignLock(h, 0); // heartbeat fresh: alive
    const r = await runCliAsync(['refresh', 'demo'], { env: { ...h.env, MCP_AUTH_LOCK_TIMEOUT: '1' }, cwd: h.project });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^mcp-auth: lock-timeout: /m);
    assert.ok(fs.existsSync(lockDir), 'a live lock of another process is never removed');
  });
});

test(
  `interlock with the real Claude Code: ${N / 2} mcp-auth + ${N / 2} claude processes on a near-expiry token → 1 refresh, 0 reuses`,
  { timeout: 180_000 },
  async () => {
    await withHome(signedInHome, async (h) => {
      patchEntry(h, 'demo', { expiresAt: Date.now() + 60_000 });
      const rt0 = entryOf(h, 'demo').entry.refreshToken;
      Object.assign(stack.counters, { tokenRequests: {}, reusesDetected: 0, grantsRevoked: 0, toolCalls: 0 });
      stack.mode.tokenDelayMs = 200;
      const ours = Array.from({ length: N / 2 }, () =>
        runCliAsync(['refresh', 'demo', '--json'], { env: h.env, cwd: h.project }),
      );
      const theirs = Array.from({ length: N / 2 }, () =>
        runClaude(['mcp', 'list'], { env: h.env, cwd: h.project, timeoutMs: 120_000 }),
      );
      const [a, b] = await Promise.all([Promise.all(ours), Promise.all(theirs)]);
      assert.deepEqual(
        a.map((r) => r.code),
        Array(N / 2).fill(0),
        a.map((r) => r.stderr).join('\n'),
      );
      for (const r of b) assert.match(r.stdout, /demo: .* Connected/, r.stdout + r.stderr);
      assert.equal(stack.counters.tokenRequests.refresh_token, 1, JSON.stringify(stack.counters));
      assert.equal(stack.counters.reusesDetected, 0);
      assert.equal(stack.counters.grantsRevoked, 0);
      const { entry } = entryOf(h, 'demo');
      assert.notEqual(entry.refreshToken, rt0);
      for (const k of [
        'serverName',
        'serverUrl',
        'accessToken',
        'refreshToken',
        'expiresAt',
        'clientId',
        'issuer',
        'discoveryState',
      ])
        assert.ok(k in entry, k);
      assert.equal(typeof entry.expiresAt, 'number');
      assert.equal((await callWhoami(stack.mcpUrl, entry.accessToken)).sub, 'test-user');
    });
  },
);
