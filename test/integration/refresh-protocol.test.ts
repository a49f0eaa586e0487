import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withHome, runCliAsync, waitFor, sleep, ROOT, CLI, type TempHome } from '../helpers/home';
import { signedIn, entryOf, readStore, callWhoami } from '../helpers/oauth';
import { runClaude } from '../helpers/claude';
import { useStack } from '../helpers/stack';
import { holdStorageLock } from '../helpers/storage-lock';

/**
 * The refresh protocol's edges (issue 20, points 2, 3, 4, 7), each against the real authorization server and
 * with real processes: a Claude Code stand-in (test/helpers/cc-store-writer.ts) doing to the store what Claude
 * Code does, with its locks.
 */
const stack = useStack();
const WRITER = path.join(ROOT, 'out', 'test', 'helpers', 'cc-store-writer.js');
const home = (h: TempHome) => signedIn({ demo: { type: 'http', url: stack.mcpUrl } })(h);

function ccWriter(what: 'mark' | 'clear', h: TempHome, key: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, what, h.claudeDir, key], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${what}: ${code} ${err}`))));
  });
}

const refreshLockDir = (h: TempHome, key: string) =>
  path.join(h.claudeDir, `mcp-refresh-${key.replace(/[^a-zA-Z0-9]/g, '_')}.lock.lock`);

test(
  '2: Claude Code marks the entry signed out while our answer is on its way → our new tokens are stored, nothing revoked, claude connects',
  { timeout: 120_000 },
  async () => {
    await withHome(home, async (h) => {
      const { key, entry } = entryOf(h, 'demo');
      const rt0 = entry.refreshToken as string;
      const revocations0 = stack.counters.revocations;
      const revoked0 = stack.counters.grantsRevoked;
      stack.mode.holdFor[rt0] = { afterMs: 6000 };
      const granted0 = stack.counters.tokenSuccess.refresh_token ?? 0;
      let done = false;
      const ours = runCliAsync(['refresh', '--force', 'demo', '--json'], { env: h.env, cwd: h.project }).finally(
        () => (done = true),
      );
      await waitFor('our grant', () => (stack.counters.tokenSuccess.refresh_token ?? 0) > granted0, 30_000);
      // Claude Code's own 401-path refresh of rt0 lost (invalid_grant): it marks the entry signed out
      await ccWriter('mark', h, key);
      assert.equal(done, false, 'the mark was written while our answer was still on its way');
      assert.equal(readStore(h).mcpOAuth[key].accessToken, '', 'the mark is in the store before our answer lands');
      const r = await ours;
      delete stack.mode.holdFor[rt0];
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).results[0].result, 'refreshed');
      const after = readStore(h).mcpOAuth[key];
      assert.ok(after.accessToken && after.refreshToken && after.refreshToken !== rt0, 'our new tokens are stored');
      assert.equal(after.clientId, entry.clientId);
      assert.equal(stack.counters.revocations, revocations0, 'nothing revoked');
      assert.equal(stack.counters.grantsRevoked, revoked0, 'the grant is alive');
      assert.equal((await callWhoami(stack.mcpUrl, after.accessToken)).sub, 'test-user');
      const list = await runClaude(['mcp', 'list'], { env: h.env, cwd: h.project });
      assert.match(list.stdout, /demo: .*Connected/, list.stdout + list.stderr);
    });
  },
);

for (const [label, hold] of [
  ['a 200 whose body does not arrive in time', { bodyMs: 4000 }],
  ['a POST that times out after the server granted', { afterMs: 4000 }],
] as const) {
  test(`3: ${label} → the token is marked possibly spent and never sent again`, { timeout: 60_000 }, async () => {
    await withHome(home, async (h) => {
      const { key, entry } = entryOf(h, 'demo');
      const rt0 = entry.refreshToken as string;
      stack.mode.holdFor[rt0] = hold;
      const env = { ...h.env, MCP_AUTH_HTTP_TIMEOUT: '1' };
      const r = await runCliAsync(['refresh', '--force', 'demo', '--json'], { env, cwd: h.project });
      assert.equal(r.code, 1);
      assert.equal(JSON.parse(r.stdout).results[0].code, 'timeout', r.stderr);
      await sleep(4000); // the server's answer ends
      delete stack.mode.holdFor[rt0];
      const requests = stack.counters.tokenRequests.refresh_token ?? 0;
      const reuses = stack.counters.reusesDetected;
      const next = await runCliAsync(['refresh', '--force', 'demo', '--json'], { env: h.env, cwd: h.project });
      assert.equal(JSON.parse(next.stdout).results[0].code, 'token-spent', next.stderr);
      assert.equal(stack.counters.tokenRequests.refresh_token ?? 0, requests, 'not sent again');
      assert.equal(stack.counters.reusesDetected, reuses);
      assert.equal(readStore(h).mcpOAuth[key].refreshToken, undefined, 'dropped, so Claude Code cannot replay it');
      const st = JSON.parse((await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project })).stdout);
      assert.equal(st.servers[0].reason, 'token-spent');
      const doctor = await runCliAsync(['doctor', 'demo'], { env: h.env, cwd: h.project });
      assert.match(doctor.stdout, /the answer was lost on its way/);
    });
  });
}

test('3: a 503 spends nothing: the next refresh sends the token and succeeds', { timeout: 60_000 }, async () => {
  await withHome(home, async (h) => {
    stack.mode.tokenStatus = 503;
    const r = await runCliAsync(['refresh', '--force', 'demo', '--json'], { env: h.env, cwd: h.project });
    assert.equal(JSON.parse(r.stdout).results[0].code, 'server-error', r.stderr);
    stack.mode.tokenStatus = 0;
    const next = await runCliAsync(['refresh', '--force', 'demo', '--json'], { env: h.env, cwd: h.project });
    assert.equal(JSON.parse(next.stdout).results[0].result, 'refreshed', next.stderr);
  });
});

test(
  '3: a gateway 504 after the server rotated → possibly spent: never sent again, 0 reuse, the grant alive, the entry without it',
  { timeout: 60_000 },
  async () => {
    await withHome(home, async (h) => {
      const { key } = entryOf(h, 'demo');
      const granted0 = stack.counters.tokenSuccess.refresh_token ?? 0;
      const reuses0 = stack.counters.reusesDetected;
      const revoked0 = stack.counters.grantsRevoked;
      stack.mode.tokenStatusAfterGrant = 504;
      const r = await runCliAsync(['refresh', '--force', 'demo', '--json'], { env: h.env, cwd: h.project });
      stack.mode.tokenStatusAfterGrant = 0;
      assert.equal(JSON.parse(r.stdout).results[0].code, 'server-error', r.stderr);
      assert.equal(stack.counters.tokenSuccess.refresh_token ?? 0, granted0 + 1, 'the server did rotate');
      const requests = stack.counters.tokenRequests.refresh_token ?? 0;
      const next = await runCliAsync(['refresh', '--force', 'demo', '--json'], { env: h.env, cwd: h.project });
      assert.equal(JSON.parse(next.stdout).results[0].code, 'token-spent', next.stderr);
      assert.equal(stack.counters.tokenRequests.refresh_token ?? 0, requests, 'not sent again');
      assert.equal(stack.counters.reusesDetected, reuses0, 'no reuse');
      assert.equal(stack.counters.grantsRevoked, revoked0, 'the grant is alive');
      assert.equal(readStore(h).mcpOAuth[key].refreshToken, undefined, 'dropped, so Claude Code cannot replay it');
    });
  },
);

test(
  '5: SIGTERM after the grant while the store stays locked for 27 s (two write attempts) → the signal waits; the answer is stored, then the process dies of it',
  { timeout: 120_000 },
  async () => {
    await withHome(home, async (h) => {
      const { key, entry } = entryOf(h, 'demo');
      const rt0 = entry.refreshToken as string;
      const reuses0 = stack.counters.reusesDetected;
      const granted0 = stack.counters.tokenSuccess.refresh_token ?? 0;
      // POST timeout 1 s: the old bound (POST timeout + one storage-lock wait + 5 s) ran out after 21 s
      const held = holdStorageLock(h, 27_000);
      const child = spawn(process.execPath, [CLI, 'refresh', '--force', 'demo', '--json'], {
        env: { ...h.env, MCP_AUTH_HTTP_TIMEOUT: '1' },
        cwd: h.project,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
        child.on('close', (code, signal) => r({ code, signal })),
      );
      await waitFor('the grant', () => (stack.counters.tokenSuccess.refresh_token ?? 0) > granted0, 30_000);
      child.kill('SIGTERM');
      const t0 = Date.now();
      const end = await exited;
      await held;
      assert.ok(Date.now() - t0 > 20_000, `it waited for the store (${Date.now() - t0} ms)`);
      assert.ok(end.signal === 'SIGTERM' || end.code === 143, `died of the signal: ${JSON.stringify(end)} ${stderr}`);
      const after = readStore(h).mcpOAuth[key];
      assert.ok(after.refreshToken && after.refreshToken !== rt0, `the answer was stored: ${stderr}`);
      assert.equal((await callWhoami(stack.mcpUrl, after.accessToken)).sub, 'test-user');
      const next = await runCliAsync(['refresh', '--force', 'demo', '--json'], { env: h.env, cwd: h.project });
      assert.equal(JSON.parse(next.stdout).results[0].result, 'refreshed', next.stderr);
      assert.equal(stack.counters.reusesDetected, reuses0);
    });
  },
);

test('4: the metadata is fetched before the refresh lock is taken, never under it', { timeout: 60_000 }, async () => {
  await withHome(home, async (h) => {
    const { key } = entryOf(h, 'demo');
    const seen: { path: string; locked: boolean }[] = [];
    stack.mode.onRequest = (method, p) => {
      if (method === 'GET' && p.startsWith('/.well-known/'))
        seen.push({ path: p, locked: fs.existsSync(refreshLockDir(h, key)) });
      if (method === 'POST' && p === '/token') seen.push({ path: p, locked: fs.existsSync(refreshLockDir(h, key)) });
    };
    // the sign-in left the metadata in the shared cache: without it, this refresh must look it up
    const cacheFile = path.join(h.claudeDir, 'mcp-auth-metadata.json');
    assert.ok(fs.existsSync(cacheFile), 'the sign-in kept the metadata for the others');
    fs.rmSync(cacheFile);
    const r = await runCliAsync(['refresh', '--force', 'demo', '--json'], { env: h.env, cwd: h.project });
    assert.equal(r.code, 0, r.stderr);
    const metadata = seen.filter((s) => s.path.startsWith('/.well-known/'));
    assert.ok(metadata.length >= 1, JSON.stringify(seen));
    assert.deepEqual(
      metadata.filter((s) => s.locked),
      [],
      `no metadata request while the lock was held: ${JSON.stringify(seen)}`,
    );
    assert.ok(
      seen.some((s) => s.path === '/token' && s.locked),
      'the token request itself is made under the lock',
    );
    // and the next refresh finds it in the cache that one kept: no metadata request at all
    seen.length = 0;
    const again = await runCliAsync(['refresh', '--force', 'demo', '--json'], { env: h.env, cwd: h.project });
    stack.mode.onRequest = undefined;
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      seen.filter((s) => s.path.startsWith('/.well-known/')),
      [],
      JSON.stringify(seen),
    );
  });
});

test(
  '7: Claude Code 2.1.332 clears the sign-in while our refresh waits for its answer → it waits for our lock, and the entry stays cleared',
  { timeout: 60_000 },
  async () => {
    await withHome(home, async (h) => {
      const { key, entry } = entryOf(h, 'demo');
      const rt0 = entry.refreshToken as string;
      stack.mode.holdFor[rt0] = { afterMs: 1500 };
      const granted0 = stack.counters.tokenSuccess.refresh_token ?? 0;
      const ours = runCliAsync(['refresh', '--force', 'demo', '--json'], { env: h.env, cwd: h.project });
      await waitFor('our grant', () => (stack.counters.tokenSuccess.refresh_token ?? 0) > granted0, 30_000);
      const clear = await ccWriter('clear', h, key);
      const r = await ours;
      delete stack.mode.holdFor[rt0];
      assert.equal(clear.hadLock, true, 'Claude Code got the refresh lock within its 20 tries: our hold is short');
      assert.equal(JSON.parse(r.stdout).results[0].result, 'refreshed', r.stderr);
      assert.equal(readStore(h).mcpOAuth[key], undefined, 'the cleared sign-in is not written back');
    });
  },
);

test(
  '7: our sign-out holds the refresh lock only for its write, not for the revocation → Claude Code clearing meanwhile gets the lock',
  { timeout: 60_000 },
  async () => {
    await withHome(home, async (h) => {
      const { key } = entryOf(h, 'demo');
      stack.mode.revocationDelayMs = 7000;
      let revoking = false;
      stack.mode.onRequest = (method, p) => {
        if (method === 'POST' && p === '/token/revocation') revoking = true;
      };
      const revocations0 = stack.counters.revocations;
      const out = runCliAsync(['logout', 'demo'], { env: h.env, cwd: h.project });
      // Claude Code clears the same sign-in while our revocation is under way
      await waitFor('the revocation request', () => revoking, 20_000);
      const t0 = Date.now();
      const clear = await ccWriter('clear', h, key);
      const r = await out;
      stack.mode.revocationDelayMs = 0;
      stack.mode.onRequest = undefined;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(clear.hadLock, true, `Claude Code had the lock after ${Date.now() - t0} ms`);
      assert.ok(Number(clear.waitedMs) < 5000, `waited ${clear.waitedMs} ms (it gives up after 5 s)`);
      assert.ok(stack.counters.revocations > revocations0, 'the tokens were revoked');
    });
  },
);
