/**
 * "Never the cause of a revoked grant": each defect found in review, reproduced with real processes against
 * the real authorization server (oidc-provider: single-use refresh tokens, reuse revokes the grant). Every
 * test here failed on the code before its fix.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { withHome, runCliAsync, TEST_CLI, ROOT, type HomeSetup, type TempHome, waitFor } from '../helpers/home';
import { signedIn, entryOf, callWhoami, patchEntry, readStore, writeStore } from '../helpers/oauth';
import { useStack } from '../helpers/stack';
import { holdStorageLock } from '../helpers/storage-lock';

const stack = useStack({ resetCounters: true });

const HOLDER = path.join(ROOT, 'out', 'test', 'helpers', 'cc-holder.js');
const refreshes = () => stack.counters.tokenRequests.refresh_token ?? 0;

/** A `withHome` setup: `demo` (and `servers`) configured, `demo` signed in, the AS's counters zeroed. */
function signedInHome(servers: Record<string, unknown> = {}): HomeSetup {
  return async (h) => {
    await signedIn({ demo: { type: 'http', url: stack.mcpUrl }, ...servers })(h);
    Object.assign(stack.counters, { tokenRequests: {}, reusesDetected: 0, grantsRevoked: 0, revocations: 0 });
  };
}

function lockPaths(h: TempHome) {
  const { key } = entryOf(h, 'demo');
  const dir = path.join(h.claudeDir, `mcp-refresh-${key.replace(/[^a-zA-Z0-9]/g, '_')}.lock.lock`);
  return { key, dir, owner: `${dir}.owner` };
}

/** One Claude Code process refreshing `demo` with proper-lockfile exactly as Claude Code does. */
function startHolder(
  h: TempHome,
  key: string,
  holdMs = 0,
): { child: ChildProcess; locked: Promise<number>; done: Promise<Record<string, unknown>> } {
  const child = spawn(
    process.execPath,
    [HOLDER, h.claudeDir, key, `${stack.issuer}/token`, stack.mcpUrl, String(holdMs)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const locked = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^locked (\d+)$/m.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('close', () => reject(new Error(`holder ended before locking: ${out} ${err}`)));
  });
  const done = new Promise<Record<string, unknown>>((resolve) =>
    child.on('close', () => {
      const last = out.trim().split('\n').pop() ?? '{}';
      resolve(last.startsWith('{') ? JSON.parse(last) : { out, err });
    }),
  );
  return { child, locked, done };
}

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid;
}

/** The pid namespace and boot id an owner file of this machine records (Linux). */
function pidSpace(): { pidns?: string; bootId?: string } {
  try {
    return {
      pidns: fs.readlinkSync('/proc/self/ns/pid'),
      bootId: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    };
  } catch {
    return {};
  }
}

test(
  '1a: an mcp-auth holder ended by SIGTERM leaves no owner file, so a Claude Code lock taken later on the same path is waited for, not reclaimed: 1 refresh, 0 reuses',
  { timeout: 60_000 },
  async () => {
    await withHome(signedInHome(), async (h) => {
      patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
      const { key, dir, owner } = lockPaths(h);
      // an mcp-auth refresh that holds the refresh lock is stopped (a window closing, Ctrl-C)
      const ours = spawn(process.execPath, [TEST_CLI, 'refresh', 'demo'], {
        env: { ...h.env, MCP_AUTH_TEST_CRASH_AT: 'pause-after-lock' },
        cwd: h.project,
        stdio: 'ignore',
      });
      await waitFor('our lock and its owner file', () => fs.existsSync(dir) && fs.existsSync(owner));
      const inoOurs = fs.statSync(dir).ino;
      const exited = new Promise((r) => ours.on('close', r));
      ours.kill('SIGTERM');
      await exited;
      assert.equal(fs.existsSync(dir), false, 'proper-lockfile removed the lock directory on SIGTERM');
      const ownerLeft = fs.existsSync(owner);
      // Claude Code now takes the same lock (ext4 hands it the freed inode) and refreshes slowly
      stack.mode.tokenDelayMs = 2000;
      const cc = startHolder(h, key, 5500);
      const inoCc = await cc.locked;
      // another mcp-auth process wants to refresh meanwhile
      const r = await runCliAsync(['refresh', 'demo', '--json'], { env: h.env, cwd: h.project });
      const holder = await cc.done;
      const c = JSON.stringify({ counters: stack.counters, holder, stderr: r.stderr, sameInode: inoOurs === inoCc });
      assert.equal(stack.counters.reusesDetected, 0, c);
      assert.equal(stack.counters.grantsRevoked, 0, c);
      assert.equal(refreshes(), 1, c);
      assert.equal(holder.status, 200, c);
      assert.equal(holder.compromised, null, `Claude Code's lock was never taken from it: ${c}`);
      assert.equal(JSON.parse(r.stdout).results[0].result, 'adopted', c);
      assert.equal(ownerLeft, false, 'the owner file was removed on SIGTERM');
      assert.equal((await callWhoami(stack.mcpUrl, entryOf(h, 'demo').entry.accessToken)).sub, 'test-user');
    });
  },
);

test(
  "1b: an owner file left by a SIGKILLed holder (dead pid, the inode Claude Code's lock gets next) is not trusted: 1 refresh, 0 reuses",
  { timeout: 60_000 },
  async () => {
    await withHome(signedInHome(), async (h) => {
      patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
      const { key, dir, owner } = lockPaths(h);
      stack.mode.tokenDelayMs = 2000;
      const cc = startHolder(h, key, 5500);
      await cc.locked;
      // What a SIGKILLed mcp-auth leaves when ext4 hands its freed inode to Claude Code's next mkdir of the
      // same path: an owner file with a dead pid naming this very inode — but the earlier birth time.
      const st = fs.statSync(dir);
      fs.writeFileSync(
        owner,
        JSON.stringify({
          pid: deadPid(),
          host: os.hostname(),
          ...pidSpace(),
          startedAt: Date.now() - 5000,
          ino: st.ino,
          dev: st.dev,
          birthtimeMs: st.birthtimeMs - 5000,
          tool: 'mcp-auth',
        }),
      );
      const r = await runCliAsync(['refresh', 'demo', '--json'], { env: h.env, cwd: h.project });
      const holder = await cc.done;
      const c = JSON.stringify({ counters: stack.counters, holder, stderr: r.stderr });
      assert.equal(stack.counters.reusesDetected, 0, c);
      assert.equal(stack.counters.grantsRevoked, 0, c);
      assert.equal(refreshes(), 1, c);
      assert.equal(holder.compromised, null, c);
      assert.equal(JSON.parse(r.stdout).results[0].result, 'adopted', c);
    });
  },
);

test('1c: doctor removes an orphan owner file of a process that is gone, and says what it risked', async () => {
  await withHome(signedInHome(), async (h) => {
    const { owner } = lockPaths(h);
    fs.writeFileSync(
      owner,
      JSON.stringify({
        pid: deadPid(),
        host: os.hostname(),
        ...pidSpace(),
        startedAt: 1,
        ino: 1,
        birthtimeMs: 1,
        tool: 'mcp-auth',
      }),
    );
    const r = await runCliAsync(['doctor'], { env: h.env, cwd: h.project });
    assert.match(r.stdout, /removed an owner file left by an interrupted mcp-auth .*Claude Code takes later/);
    assert.equal(fs.existsSync(owner), false);
  });
});

for (const [label, fields] of [
  ['no token_type', { token_type: null }],
  ['an unknown token_type', { token_type: 'N_A' }],
  ['expires_in 0', { expires_in: 0 }],
  ['an id_token that does not parse', { id_token: 'not-a-jwt' }],
] as const) {
  test(
    `2: the real AS rotates and answers 200 with ${label} → stored anyway; the next refresh uses the new token: 0 reuses, grant alive`,
    { timeout: 60_000 },
    async () => {
      await withHome(signedInHome(), async (h) => {
        const rt0 = entryOf(h, 'demo').entry.refreshToken;
        stack.mode.tokenMutate = { fields };
        const first = await runCliAsync(['refresh', 'demo', '--force', '--json'], { env: h.env, cwd: h.project });
        stack.mode.tokenMutate = null;
        assert.equal(first.code, 0, first.stderr);
        assert.equal(JSON.parse(first.stdout).results[0].result, 'refreshed');
        assert.match(first.stderr, /warning: demo: the authorization server's answer was odd/);
        const rt1 = entryOf(h, 'demo').entry.refreshToken;
        assert.notEqual(rt1, rt0, 'the new refresh token is stored');
        const second = await runCliAsync(['refresh', 'demo', '--force', '--json'], { env: h.env, cwd: h.project });
        assert.equal(second.code, 0, second.stderr);
        const c = JSON.stringify(stack.counters);
        assert.equal(stack.counters.reusesDetected, 0, c);
        assert.equal(stack.counters.grantsRevoked, 0, c);
        assert.equal(refreshes(), 2, c);
        assert.equal((await callWhoami(stack.mcpUrl, entryOf(h, 'demo').entry.accessToken)).sub, 'test-user');
      });
    },
  );
}

test(
  '2c: the store cannot be written after a 200 → the write is retried, never the request; when it finally lands, 1 request',
  { timeout: 60_000 },
  async () => {
    await withHome(signedInHome(), async (h) => {
      patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
      stack.mode.tokenDelayAfterMs = 500;
      const run = runCliAsync(['refresh', 'demo', '--json'], {
        env: { ...h.env, MCP_AUTH_LOCK_TIMEOUT: '1' },
        cwd: h.project,
      });
      await waitFor('the refresh request to reach the AS', () => refreshes() === 1); // the answer is on its way
      const held = holdStorageLock(h, 2500);
      const r = await run;
      await held;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).results[0].result, 'refreshed');
      assert.equal(refreshes(), 1);
      assert.match(r.stderr, /retrying the write, not the request/);
      assert.equal((await callWhoami(stack.mcpUrl, entryOf(h, 'demo').entry.accessToken)).sub, 'test-user');
    });
  },
);

test(
  '2d: the store stays unwritable → store-write, loudly, and the same process never sends the spent token again',
  { timeout: 60_000 },
  async () => {
    await withHome(signedInHome(), async (h) => {
      patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
      stack.mode.tokenDelayAfterMs = 500;
      // `refresh demo demo`: two refreshes of the same server in one process
      const run = runCliAsync(['refresh', 'demo', 'demo', '--json'], {
        env: { ...h.env, MCP_AUTH_LOCK_TIMEOUT: '1' },
        cwd: h.project,
      });
      await waitFor('the refresh request to reach the AS', () => refreshes() === 1);
      const held = holdStorageLock(h, 9000);
      const r = await run;
      await held;
      assert.equal(r.code, 1, r.stderr);
      const results = JSON.parse(r.stdout).results;
      assert.deepEqual(
        results.map((x: { code: string }) => x.code),
        ['store-write', 'token-spent'],
      );
      assert.match(r.stderr, /THE NEW TOKEN COULD NOT BE STORED/);
      assert.equal(refreshes(), 1, `one request: the spent token was not sent again (${r.stderr})`);
      // nor by the next process
      const next = await runCliAsync(['refresh', 'demo', '--json'], { env: h.env, cwd: h.project });
      assert.equal(JSON.parse(next.stdout).results[0].code, 'token-spent');
      assert.equal(refreshes(), 1);
    });
  },
);

test(
  "3a: logout while another process's refresh answer is on its way → logout waits, revokes the new tokens, and the entry stays gone",
  { timeout: 60_000 },
  async () => {
    await withHome(signedInHome(), async (h) => {
      patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
      const { dir } = lockPaths(h);
      stack.mode.tokenDelayAfterMs = 1500;
      const refresh = runCliAsync(['refresh', 'demo', '--json'], { env: h.env, cwd: h.project });
      await waitFor('the refresh to hold its lock', () => fs.existsSync(dir));
      await waitFor('the refresh request to reach the AS', () => refreshes() === 1);
      const logout = await runCliAsync(['logout', 'demo'], { env: h.env, cwd: h.project });
      const r = await refresh;
      assert.equal(logout.code, 0, logout.stderr);
      assert.equal(r.code, 0, r.stderr);
      const store = readStore(h);
      assert.deepEqual(
        Object.keys(store.mcpOAuth ?? {}).filter((k) => k.startsWith('demo|')),
        [],
        'signed out stays signed out',
      );
      const st = JSON.parse((await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project })).stdout);
      assert.notEqual(st.servers.find((s: { name: string }) => s.name === 'demo').state, 'signed-in');
      assert.ok(stack.counters.revocations >= 1, JSON.stringify(stack.counters));
    });
  },
);

test(
  '3b: an entry removed under an in-flight refresh (a sign-out that took no lock) is not recreated; what the refresh got is revoked',
  { timeout: 60_000 },
  async () => {
    await withHome(signedInHome(), async (h) => {
      patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
      stack.mode.tokenDelayAfterMs = 1500;
      const refresh = runCliAsync(['refresh', 'demo', '--json'], { env: h.env, cwd: h.project });
      await waitFor('the refresh request to reach the AS', () => refreshes() === 1);
      const s = readStore(h);
      const { key } = entryOf(h, 'demo');
      delete s.mcpOAuth[key];
      writeStore(h, s);
      const r = await refresh;
      assert.equal(r.code, 1);
      assert.equal(JSON.parse(r.stdout).results[0].code, 'no-credentials');
      assert.deepEqual(Object.keys(readStore(h).mcpOAuth ?? {}), [], 'not recreated');
      assert.ok(stack.counters.revocations >= 1, `the new tokens were revoked: ${JSON.stringify(stack.counters)}`);
    });
  },
);

test(
  "4a: a refresh lock lost before the POST → lock-lost, no request, and the new holder's lock is left alone",
  { timeout: 60_000 },
  async () => {
    await withHome(signedInHome(), async (h) => {
      patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
      const before = fs.readFileSync(path.join(h.claudeDir, '.credentials.json'), 'utf8');
      const { dir } = lockPaths(h);
      const run = spawn(process.execPath, [TEST_CLI, 'refresh', 'demo', '--json'], {
        env: { ...h.env, MCP_AUTH_TEST_CRASH_AT: 'pause-after-lock', MCP_AUTH_TEST_PAUSE_MS: '1500' },
        cwd: h.project,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      run.stdout!.on('data', (d) => (stdout += d));
      const code = new Promise<number | null>((r) => run.on('close', r));
      await waitFor('our lock and its owner file', () => fs.existsSync(`${dir}.owner`));
      // someone judged our lock stale and took it over: a new directory at the same path
      fs.rmdirSync(dir);
      fs.mkdirSync(dir);
      const theirs = fs.statSync(dir);
      assert.equal(await code, 1);
      assert.equal(JSON.parse(stdout).results[0].code, 'lock-lost');
      assert.equal(refreshes(), 0, 'no request under a lock that is not ours');
      assert.equal(fs.readFileSync(path.join(h.claudeDir, '.credentials.json'), 'utf8'), before, 'nothing written');
      assert.ok(fs.existsSync(dir), "the other holder's lock directory is still there");
      assert.equal(fs.statSync(dir).birthtimeMs, theirs.birthtimeMs);
      fs.rmdirSync(dir);
    });
  },
);

test(
  "4b: a refresh lock replaced while the 200 is on its way → the answer is still stored (the token sent is spent), lock-lost is reported, the new holder's lock is left alone",
  { timeout: 60_000 },
  async () => {
    await withHome(signedInHome(), async (h) => {
      patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
      const rt0 = entryOf(h, 'demo').entry.refreshToken;
      const { dir } = lockPaths(h);
      stack.mode.tokenDelayAfterMs = 1500;
      const refresh = runCliAsync(['refresh', 'demo', '--json'], { env: h.env, cwd: h.project });
      await waitFor('the refresh request to reach the AS', () => refreshes() === 1);
      fs.rmdirSync(dir);
      fs.mkdirSync(dir);
      const theirs = fs.statSync(dir);
      const r = await refresh;
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout).results[0];
      assert.equal(out.result, 'refreshed');
      assert.deepEqual(out.warnings, ['lock-lost']);
      assert.match(r.stderr, /lock-lost: the refresh lock was taken over/);
      assert.notEqual(
        entryOf(h, 'demo').entry.refreshToken,
        rt0,
        'the new generation is stored: nobody replays the spent one',
      );
      assert.ok(fs.existsSync(dir), "the other holder's lock directory is still there");
      assert.equal(fs.statSync(dir).birthtimeMs, theirs.birthtimeMs);
      fs.rmdirSync(dir);
      assert.equal((await callWhoami(stack.mcpUrl, entryOf(h, 'demo').entry.accessToken)).sub, 'test-user');
    });
  },
);

test(
  '4c: a 200 with nothing usable in it → bad-response, and no mcp-auth process sends that refresh token again',
  { timeout: 60_000 },
  async () => {
    await withHome(signedInHome(), async (h) => {
      patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
      stack.mode.tokenMutate = { fields: { access_token: null, refresh_token: null } };
      const first = await runCliAsync(['refresh', 'demo', '--json'], { env: h.env, cwd: h.project });
      stack.mode.tokenMutate = null;
      assert.equal(JSON.parse(first.stdout).results[0].code, 'bad-response');
      const second = await runCliAsync(['refresh', 'demo', '--json'], { env: h.env, cwd: h.project });
      assert.equal(second.code, 1);
      assert.equal(JSON.parse(second.stdout).results[0].code, 'token-spent');
      assert.equal(refreshes(), 1, 'the spent token was sent once');
      assert.equal(stack.counters.reusesDetected, 0);
      const d = await runCliAsync(['doctor', 'demo'], { env: h.env, cwd: h.project });
      assert.match(d.stdout, /answered 200, but the answer could not be stored: it is spent/);
    });
  },
);

test(
  '5: tokens that live no longer than the 300-s window are not refreshed on every pass (no refresh storm)',
  { timeout: 60_000 },
  async () => {
    stack.mode.accessTokenTTL = 20;
    await withHome(signedInHome(), async (h) => {
      for (let i = 0; i < 6; i++) {
        const r = await runCliAsync(['refresh', 'demo', '--json'], { env: h.env, cwd: h.project });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).results[0].result, 'fresh', `pass ${i}`);
      }
      assert.equal(refreshes(), 0, 'a 20-s token with 20 s left is not due: it is due at half its lifetime');
      const st = JSON.parse((await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project })).stdout);
      assert.equal(st.servers.find((s: { name: string }) => s.name === 'demo').state, 'signed-in');
    });
  },
);

test(
  '8: after storing the token of key K only the needs-auth entries of names with key K are cleared, not every name sharing the URL',
  { timeout: 60_000 },
  async () => {
    await withHome(
      signedInHome({ teamed: { type: 'http', url: stack.mcpUrl, headers: { 'X-Team': 'blue' } } }),
      async (h) => {
        const cache = path.join(h.claudeDir, 'mcp-needs-auth-cache.json');
        fs.writeFileSync(cache, JSON.stringify({ demo: { timestamp: Date.now() }, teamed: { timestamp: Date.now() } }));
        const r = await runCliAsync(['refresh', 'demo', '--force', '--json'], { env: h.env, cwd: h.project });
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout).results[0].clearedCacheEntries, ['demo']);
        assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(cache, 'utf8'))), ['teamed']);
      },
    );
  },
);
