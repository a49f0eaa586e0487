/**
 * The background keeper (`mcp-auth watch`), with real processes against the real OAuth + MCP stack, and real
 * Claude Code 2.1.328 sessions (claude-session-recipe.md) where the question is what a user feels: does the
 * next session get the server's tool?
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { makeHome, runCliAsync, TEST_CLI, CLI, type TempHome, sleep, waitFor } from '../helpers/home';
import { cliLogin, writeServers, entryOf, patchEntry } from '../helpers/oauth';
import { claudeSession, runClaude, startFakeMessagesApi } from '../helpers/claude';
import { useStack } from '../helpers/stack';

const stack = useStack({ resetCounters: true });
let api: Awaited<ReturnType<typeof startFakeMessagesApi>>;
before(async () => {
  api = await startFakeMessagesApi();
});
after(async () => {
  await api.close();
});

const refreshes = () => stack.counters.tokenRequests.refresh_token ?? 0;
const cacheFile = (h: TempHome) => path.join(h.claudeDir, 'mcp-needs-auth-cache.json');
const readCache = (h: TempHome): Record<string, { timestamp: number }> => {
  try {
    return JSON.parse(fs.readFileSync(cacheFile(h), 'utf8'));
  } catch {
    return {};
  }
};
const writeCache = (h: TempHome, c: Record<string, unknown>) => fs.writeFileSync(cacheFile(h), JSON.stringify(c));

async function signedInHome(): Promise<TempHome> {
  const h = makeHome();
  writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });
  const cj = path.join(h.home, '.claude.json');
  fs.writeFileSync(cj, JSON.stringify({ ...JSON.parse(fs.readFileSync(cj, 'utf8')), hasCompletedOnboarding: true }));
  const r = await cliLogin(h, 'demo', ['--timeout', '30']);
  assert.equal(r.code, 0, r.stderr);
  Object.assign(stack.counters, {
    tokenRequests: {},
    reusesDetected: 0,
    grantsRevoked: 0,
    revocations: 0,
    toolCalls: 0,
    mcpRejected: 0,
  });
  return h;
}

/** `mcp-auth watch` as its own process; `lines` grows as it prints. */
function startWatch(
  h: TempHome,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; lines: string[]; stderr: () => string; exited: Promise<number> } {
  const e = { ...h.env, ...env };
  const cli = Object.keys(env).some((k) => k.startsWith('MCP_AUTH_TEST_')) ? TEST_CLI : CLI;
  const child = spawn(process.execPath, [cli, 'watch', ...args], {
    env: e,
    cwd: h.project,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buf = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number>((r) => child.on('close', (code, sig) => r(code ?? (sig ? 128 : -1))));
  return { child, lines, stderr: () => err, exited };
}

/** A real `claude -p` session with the stand-in Messages API: the `mcp__…` tools it was offered, and its output. */
async function session(h: TempHome): Promise<{ offered: string[]; stdout: string; stderr: string; code: number }> {
  return claudeSession(api, h.env, h.project);
}

async function revokeGrant(h: TempHome): Promise<void> {
  const { entry } = entryOf(h, 'demo');
  const res = await fetch(`${stack.issuer}/token/revocation`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      token: entry.refreshToken,
      token_type_hint: 'refresh_token',
      client_id: entry.clientId,
    }),
  });
  assert.equal(res.status, 200);
}

test(
  'watch --once: an entry newer than a token the server accepts is removed; entries of names it does not know stay',
  { timeout: 60_000 },
  async () => {
    const h = await signedInHome();
    try {
      const t = Date.now();
      writeCache(h, { demo: { timestamp: t }, ghost: { timestamp: t }, 'plugin:x:y': { timestamp: t - 1000 } });
      const st = await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project });
      assert.equal(JSON.parse(st.stdout).servers[0].state, 'blocked');
      const r = await runCliAsync(['watch', '--once'], { env: h.env, cwd: h.project });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        /^unblocked demo: the server accepted the stored token \(HTTP 200\) — stale needs-auth entry removed$/m,
      );
      assert.equal(r.stdout.trim().split('\n').length, 1, `one line per action: ${r.stdout}`);
      assert.deepEqual(Object.keys(readCache(h)).sort(), ['ghost', 'plugin:x:y']);
      assert.equal(refreshes(), 0, 'a token that is not due is not refreshed');
      // --json: one object per line
      writeCache(h, { demo: { timestamp: Date.now() } });
      const j = await runCliAsync(['watch', '--once', '--json'], { env: h.env, cwd: h.project });
      assert.equal(j.code, 0, j.stderr);
      const objs = j.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        objs.map((o) => [o.action, o.name, o.because, o.probe?.verdict]),
        [['unblocked', 'demo', 'accepted', 'accepted']],
      );
    } finally {
      h.cleanup();
    }
  },
);

test(
  'a server whose grant was revoked keeps its entry under watch (>= 3 s) and says why; watch --once exits 1',
  { timeout: 60_000 },
  async () => {
    const h = await signedInHome();
    try {
      await revokeGrant(h);
      const t = Date.now();
      writeCache(h, { demo: { timestamp: t } });
      const w = startWatch(h);
      try {
        await waitFor('a kept line', () => w.lines.some((l) => l.startsWith('kept demo')));
        await sleep(3000);
        assert.deepEqual(readCache(h), { demo: { timestamp: t } }, 'the entry is still there after 3 s');
        const kept = w.lines.filter((l) => l.startsWith('kept demo'));
        assert.equal(kept.length, 1, `said once, not on every pass: ${w.lines.join('\n')}`);
        assert.match(
          kept[0],
          /^kept demo: the server answered 401 invalid_token \(scope "mcp"\); next probe in \d+ s$/,
        );
        assert.ok(!w.lines.some((l) => l.startsWith('unblocked')), w.lines.join('\n'));
        const probes = stack.counters.mcpRejected;
        assert.equal(probes, 1, 'one probe in 3 s (at most one per server per minute)');
      } finally {
        w.child.kill('SIGTERM');
        assert.equal(await w.exited, 143, w.stderr());
      }
      const once = await runCliAsync(['watch', '--once'], { env: h.env, cwd: h.project });
      assert.equal(once.code, 1, once.stdout + once.stderr);
      assert.match(once.stdout, /^kept demo: the server answered 401 invalid_token/m);
      const d = await runCliAsync(['doctor', 'demo'], { env: h.env, cwd: h.project });
      assert.match(d.stdout, /keeper .*kept: the server answered 401 invalid_token/, d.stdout);
      assert.match(d.stdout, /fix: mcp-auth login demo/, 'a rejected token needs a sign-in, not a cleared entry');
      const dp = await runCliAsync(['doctor', 'demo', '--probe'], { env: h.env, cwd: h.project });
      assert.match(
        dp.stdout,
        /probe now: the server answered 401 invalid_token .* — the entry is not stale/,
        dp.stdout,
      );
    } finally {
      h.cleanup();
    }
  },
);

test(
  'watch stopped by SIGTERM during a refresh: the refresh completes and is stored, exit 143 (128 + SIGTERM), no lock, owner or temp file left',
  { timeout: 60_000 },
  async () => {
    const h = await signedInHome();
    try {
      const before = entryOf(h, 'demo').entry.refreshToken;
      patchEntry(h, 'demo', { expiresAt: Date.now() + 60_000 });
      stack.mode.tokenDelayMs = 1500;
      const w = startWatch(h, [], { MCP_AUTH_TEST_JITTER_MS: '1' });
      const lockDir = (n: string) => n.startsWith('mcp-refresh-') && n.endsWith('.lock.lock');
      await waitFor('the refresh lock', () => fs.readdirSync(h.claudeDir).some(lockDir));
      await waitFor('the POST', () => refreshes() === 1);
      w.child.kill('SIGTERM');
      const code = await w.exited;
      assert.equal(code, 143, `128 + SIGTERM: ${w.stderr()}`);
      assert.deepEqual(
        w.lines.map((l) => l.split(',')[0]),
        ['refreshed demo'],
        w.stderr(),
      );
      const left = fs.readdirSync(h.claudeDir).filter((n) => /\.lock$|\.owner$|\.tmp\./.test(n));
      assert.deepEqual(left, []);
      assert.notEqual(entryOf(h, 'demo').entry.refreshToken, before, 'the answer was stored before exiting');
      assert.equal(stack.counters.reusesDetected, 0);
    } finally {
      h.cleanup();
    }
  },
);

// ---- real Claude Code sessions --------------------------------------------------------------------------

test(
  'control (real claude -p): a fresh needs-auth entry and a valid token → the session is not offered the tool; without the entry it is, and calls it',
  { timeout: 120_000 },
  async () => {
    const h = await signedInHome();
    try {
      writeCache(h, { demo: { timestamp: Date.now() } });
      const blocked = await session(h);
      assert.equal(blocked.code, 0, blocked.stderr);
      assert.deepEqual(blocked.offered, [], blocked.stdout);
      assert.match(blocked.stdout, /NO-MCP-TOOL/);
      assert.equal(stack.counters.toolCalls, 0);
      writeCache(h, {});
      const ok = await session(h);
      assert.deepEqual(ok.offered, ['mcp__demo__whoami'], ok.stdout + ok.stderr);
      assert.match(ok.stdout, /TOOL-RESULT .*test-user/);
      assert.equal(stack.counters.toolCalls, 1);
    } finally {
      h.cleanup();
    }
  },
);

test(
  'watch running, a stale entry (the stored token rejected), then the real `claude mcp list` stores a new token → the entry is gone within 1 s → the next real session calls the tool',
  { timeout: 120_000 },
  async () => {
    const h = await signedInHome();
    try {
      // a stored access token the server rejects, inside the refresh window (Claude Code refreshes it before its next request)
      patchEntry(h, 'demo', { accessToken: 'rejected-access-token-0123456789', expiresAt: Date.now() + 120_000 });
      writeCache(h, { demo: { timestamp: Date.now() } });
      // the keeper's own proactive refresh is off here, so that only Claude Code's write can change the token
      const w = startWatch(h, ['--json'], { MCP_AUTH_TEST_NO_PROACTIVE: '1' });
      const actions = () => w.lines.map((l) => JSON.parse(l) as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
      try {
        await waitFor(
          'the keeper to keep the entry (its probe was rejected)',
          () => actions().some((a) => a.action === 'kept'),
          15_000,
        );
        const kept = actions().find((a) => a.action === 'kept')!;
        assert.deepEqual(
          [kept.name, kept.reason, kept.probe.status, kept.probe.error],
          ['demo', 'rejected', 401, 'invalid_token'],
        );
        const before = await session(h);
        assert.deepEqual(before.offered, [], 'still blocked before the new token');
        const list = await runClaude(['mcp', 'list'], { env: h.env, cwd: h.project });
        assert.match(list.stdout, /demo: .* - ✔ Connected/, list.stdout + list.stderr);
        assert.notEqual(
          entryOf(h, 'demo').entry.accessToken,
          'rejected-access-token-0123456789',
          'claude mcp list stored a new token',
        );
        assert.equal(refreshes(), 1, 'Claude Code refreshed once');
        const written = fs.statSync(path.join(h.claudeDir, '.credentials.json')).mtimeMs;
        await waitFor('the unblocked action', () => actions().some((a) => a.action === 'unblocked'), 2000);
        assert.ok(!('demo' in readCache(h)));
        const u = actions().find((a) => a.action === 'unblocked')!;
        assert.equal(u.because, 'token-changed', JSON.stringify(u));
        const ms = Date.parse(u.at) - written;
        console.log(`# entry removed ${ms} ms after Claude Code stored the new token`);
        assert.ok(ms <= 1000, `gone within 1 s of the token write: ${ms} ms`);
        const after = await session(h);
        assert.deepEqual(after.offered, ['mcp__demo__whoami'], after.stdout + after.stderr);
        assert.match(after.stdout, /TOOL-RESULT .*test-user/);
      } finally {
        w.child.kill('SIGTERM');
        assert.equal(await w.exited, 143, w.stderr());
      }
      assert.equal(stack.counters.reusesDetected, 0);
    } finally {
      h.cleanup();
    }
  },
);

test(
  '8 real sessions + 8 `mcp-auth refresh` on a near-expiry token → 1 refresh, 0 reuse, 8 tool calls',
  { timeout: 180_000 },
  async () => {
    const h = await signedInHome();
    try {
      patchEntry(h, 'demo', { expiresAt: Date.now() + 120_000 });
      const runs = await Promise.all([
        ...Array.from({ length: 8 }, () => session(h)),
        ...Array.from({ length: 8 }, () => runCliAsync(['refresh', 'demo', '--json'], { env: h.env, cwd: h.project })),
      ]);
      const sessions = runs.slice(0, 8) as Awaited<ReturnType<typeof session>>[];
      const ours = runs.slice(8) as Awaited<ReturnType<typeof runCliAsync>>[];
      const c = JSON.stringify({ counters: stack.counters, ours: ours.map((r) => r.stdout + r.stderr) });
      assert.equal(refreshes(), 1, c);
      assert.equal(stack.counters.reusesDetected, 0, c);
      assert.equal(stack.counters.grantsRevoked, 0, c);
      for (const s of sessions) assert.match(s.stdout, /TOOL-RESULT .*test-user/, s.stdout + s.stderr);
      assert.equal(stack.counters.toolCalls, 8, c);
      for (const r of ours) assert.equal(r.code, 0, r.stderr);
    } finally {
      h.cleanup();
    }
  },
);
