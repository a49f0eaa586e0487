import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  clearedFileOf,
  readCleared,
  startedInWindow,
  WRITER_LEAD_MS,
  type ClearedWindow,
} from '../../../src/core/cache/cleared';
import { removeCacheEntries, DEFAULT_TTL_MS } from '../../../src/core/cache/needsAuthCache';
import { discoverServers } from '../../../src/core/config/discover';
import { reconnectFixFor, sessionsLacking } from '../../../src/core/lacking';
import { loadModel } from '../../../src/core/model';
import { resolvePaths, type ClaudePaths } from '../../../src/core/paths';
import { processStartTime } from '../../../src/core/sessions';
import { withHome, type TempHome } from '../../helpers/home';

const linux = process.platform === 'linux';
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
});
/** A real process to stand for a Claude Code session: its pid and the start time /proc gives it. */
async function realProcess(): Promise<{ pid: number; procStart: string }> {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(c);
  await new Promise((r) => c.once('spawn', r));
  return { pid: c.pid!, procStart: (await processStartTime(c.pid!))! };
}

const pathsOf = (h: TempHome): ClaudePaths => resolvePaths({ env: h.env, home: h.home, managedDirs: [] });
function registerSession(
  h: TempHome,
  p: { pid: number; procStart: string },
  cwd: string,
  startedAt: number,
  extra: Record<string, unknown> = {},
) {
  const dir = path.join(h.claudeDir, 'sessions');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(
    path.join(dir, `${p.pid}.json`),
    JSON.stringify({
      pid: p.pid,
      cwd,
      startedAt,
      procStart: p.procStart,
      kind: 'interactive',
      entrypoint: 'cli',
      ...extra,
    }),
  );
}

test('the window rule: from the entry (less the writer lead) to the clear, and never past the TTL the entry had', () => {
  const w: ClearedWindow = { timestamp: 1_000_000, clearedAt: 1_000_000 + 60_000 };
  const ttl = DEFAULT_TTL_MS;
  assert.equal(startedInWindow(w.timestamp - WRITER_LEAD_MS - 1, w, ttl), false, 'before: it read no entry');
  assert.equal(startedInWindow(w.timestamp - WRITER_LEAD_MS, w, ttl), true, 'the session that wrote the entry');
  assert.equal(startedInWindow(w.timestamp + 30_000, w, ttl), true);
  assert.equal(startedInWindow(w.clearedAt, w, ttl), true);
  assert.equal(startedInWindow(w.clearedAt + 1, w, ttl), false, 'after our clear: it read no entry');
  // an entry cleared after its TTL ran out blocked nobody who started after it expired
  const late: ClearedWindow = { timestamp: 1_000_000, clearedAt: 1_000_000 + 3 * ttl };
  assert.equal(startedInWindow(1_000_000 + ttl - 1, late, ttl), true);
  assert.equal(startedInWindow(1_000_000 + ttl + 1, late, ttl), false);
  // the entry's own ttlMs wins (e.g. 90 s after a step-up)
  const short: ClearedWindow = { timestamp: 1_000_000, ttlMs: 90_000, clearedAt: 1_000_000 + ttl };
  assert.equal(startedInWindow(1_000_000 + 91_000, short, ttl), false);
});

test('reconnectFixFor: SDK hosts reconnect by control request, interactive sessions with /mcp, background ones restart', () => {
  assert.equal(reconnectFixFor({ kind: 'interactive', entrypoint: 'sdk-cli' }), 'sdk-reconnect');
  assert.equal(reconnectFixFor({ kind: 'interactive', entrypoint: 'sdk-ts' }), 'sdk-reconnect');
  assert.equal(reconnectFixFor({ kind: 'interactive', entrypoint: 'cli' }), 'mcp-command');
  assert.equal(reconnectFixFor({ kind: 'interactive', entrypoint: 'claude-vscode' }), 'mcp-command');
  assert.equal(reconnectFixFor({}), 'mcp-command');
  assert.equal(reconnectFixFor({ kind: 'bg', entrypoint: 'cli' }), 'restart');
  assert.equal(reconnectFixFor({ kind: 'daemon-worker' }), 'restart');
});

test(
  'removeCacheEntries remembers the window of each entry it removes (0600, names and times only) while a session that started in it is registered',
  { skip: !linux && 'needs /proc' },
  async () => {
    await withHome(async (h) => {
      const cache = path.join(h.claudeDir, 'mcp-needs-auth-cache.json');
      const rec = clearedFileOf(cache);
      const t = 1_790_000_000_000;
      fs.writeFileSync(cache, JSON.stringify({ a: { timestamp: t, ttlMs: 90_000 }, b: { timestamp: t + 5 } }));
      // no registered session started in the window: nothing to remember, no file
      await removeCacheEntries(cache, (n) => n === 'a', { at: t + 60_000 });
      assert.equal(fs.existsSync(rec), false);
      registerSession(h, await realProcess(), h.project, t + 1000);
      await removeCacheEntries(cache, (n) => n === 'b', { at: t + 60_000 });
      assert.deepEqual(await readCleared(cache), {
        b: [{ timestamp: t + 5, ttlMs: undefined, clearedAt: t + 60_000 }],
      });
      assert.equal(fs.statSync(rec).mode & 0o777, 0o600);
      assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(rec, 'utf8'))), ['cleared']);
      // a cache that is not JSON is never rewritten, and no window is remembered
      fs.writeFileSync(cache, '{"c":');
      await assert.rejects(
        removeCacheEntries(cache, () => true, { at: t + 70_000 }),
        { code: 'cache-parse' },
      );
      assert.deepEqual(Object.keys(await readCleared(cache)), ['b']);
      // an unreadable record is an empty one, and the next clear replaces it
      fs.writeFileSync(rec, 'garbage');
      assert.deepEqual(await readCleared(cache), {});
      fs.writeFileSync(cache, JSON.stringify({ c: { timestamp: t + 10 } }));
      await removeCacheEntries(cache, () => true, { at: t + 80_000 });
      assert.deepEqual(Object.keys(await readCleared(cache)), ['c']);
    });
  },
);

test(
  'folder matching: a user-scope server is lacked in any folder, a local-scope one only in its project (git root or below); the window and liveness decide the rest',
  { skip: !linux && 'needs /proc' },
  async () => {
    await withHome(async (h) => {
      const P = h.project;
      fs.mkdirSync(path.join(P, '.git'));
      fs.mkdirSync(path.join(P, 'sub'));
      const Q = path.join(h.home, 'code', 'other');
      fs.mkdirSync(Q, { recursive: true });
      const url = (p: string) => `https://mcp.test/${p}`;
      fs.writeFileSync(
        path.join(h.home, '.claude.json'),
        JSON.stringify({
          mcpServers: { u: { type: 'http', url: url('u') } },
          projects: {
            [P]: { mcpServers: { loc: { type: 'http', url: url('loc') } } },
            // another folder's own server of that name: another server, not ours
            [Q]: { mcpServers: { u: { type: 'http', url: url('q-u') } } },
          },
        }),
      );
      const paths = pathsOf(h);
      const t = Date.now() - 120_000;
      const cache = paths.needsAuthCacheFile;
      fs.writeFileSync(cache, JSON.stringify({ u: { timestamp: t }, loc: { timestamp: t } }));
      const inP = await realProcess();
      const inSub = await realProcess();
      const inQ = await realProcess();
      const before = await realProcess();
      const afterClear = await realProcess();
      const elsewhere = await realProcess();
      registerSession(h, inP, P, t + 1000);
      registerSession(h, inSub, path.join(P, 'sub'), t + 2000, { kind: 'interactive', entrypoint: 'sdk-ts' });
      registerSession(h, inQ, Q, t + 3000);
      registerSession(h, elsewhere, path.join(h.home, 'code'), t + 4000);
      registerSession(h, before, P, t - WRITER_LEAD_MS - 1000);
      await removeCacheEntries(cache, () => true, { at: t + 60_000 });
      registerSession(h, afterClear, P, t + 61_000);
      // a record whose pid was since reused (start time differs): never named
      const reused = await realProcess();
      registerSession(h, { pid: reused.pid, procStart: String(Number(reused.procStart) + 7) }, P, t + 1500);

      const fromP = await discoverServers({ paths, cwd: P, env: h.env });
      const lacking = await sessionsLacking(fromP.servers, { paths, env: h.env });
      const pids = (n: string) => (lacking.get(n) ?? []).map((s) => s.pid).sort((a, b) => a - b);
      const sorted = (...xs: number[]) => xs.sort((a, b) => a - b);
      assert.deepEqual(
        pids('u'),
        sorted(inP.pid, inSub.pid, elsewhere.pid),
        'user scope: every folder but Q, where u is another server',
      );
      assert.deepEqual(pids('loc'), sorted(inP.pid, inSub.pid), 'local scope: the project (its git root) and below');
      const sub = lacking.get('loc')!.find((s) => s.pid === inSub.pid)!;
      assert.equal(sub.fix, 'sdk-reconnect');
      assert.equal(sub.entryTimestamp, t);
      assert.equal(sub.clearedAt, t + 60_000);
      // seen from Q, its own u is lacked by the session in Q only
      const fromQ = await discoverServers({ paths, cwd: Q, env: h.env });
      const q = await sessionsLacking(fromQ.servers, { paths, env: h.env });
      assert.deepEqual(
        (q.get('u') ?? []).map((s) => s.pid),
        [inQ.pid],
      );
      // through the model: the rows carry them
      const m = await loadModel({ paths, cwd: P, env: h.env });
      assert.deepEqual(
        m.servers.map((r) => [r.config.name, (r.sessionsLacking ?? []).length]).sort(),
        [
          ['loc', 2],
          ['u', 3],
        ].sort(),
      );
    });
  },
);
