import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { removeCacheEntries } from '../../../src/core/cache/needsAuthCache';
import { lockDirOf, ownerFileOf } from '../../../src/core/lock/lock';
import { sideFileLock } from '../../../src/core/lock/sideLock';
import { isSpent, markSpent, notesFile, readSpentMarks } from '../../../src/core/notes';
import { resolvePaths } from '../../../src/core/paths';
import { profilesFile } from '../../../src/core/profiles';
import { isMcpAuthError } from '../../../src/core/errors';
import { ROOT } from '../../helpers/home';

const WRITER = path.join(ROOT, 'out', 'test', 'helpers', 'sidefile-writer.js');
const HOLDER = path.join(ROOT, 'out', 'test', 'helpers', 'lock-holder.js');

async function inTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-side-')));
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const pathsOf = (dir: string) => resolvePaths({ home: dir, env: { CLAUDE_CONFIG_DIR: dir } });

type Result = { ok: boolean; error?: string; [k: string]: unknown };

/** Fork every writer, wait until all are ready, start them at once, collect what each reports. */
async function runTogether(argvs: string[][]): Promise<Result[]> {
  const children: ChildProcess[] = argvs.map((argv) =>
    fork(WRITER, argv, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] }),
  );
  const results = children.map(
    (child) =>
      new Promise<Result>((resolve, reject) => {
        let stderr = '';
        let res: Result | undefined;
        child.stderr!.on('data', (d) => (stderr += d));
        child.on('message', (m) => {
          if (m !== 'ready') res = m as Result;
        });
        child.on('exit', (code) =>
          res ? resolve(res) : reject(new Error(`writer exited ${code} without a result: ${stderr}`)),
        );
      }),
  );
  await Promise.all(children.map((child) => new Promise<void>((r) => child.once('message', () => r()))));
  for (const child of children) child.send('go');
  return Promise.all(results);
}

test(
  'notes: 8 processes each marking its own key spent 20 times at once → no mark is ever dropped',
  { timeout: 120_000 },
  async () => {
    await inTmp(async (dir) => {
      const keys = Array.from({ length: 8 }, (_, i) => `srv${i}|000000000000000${i}`);
      const results = await runTogether(keys.map((k) => ['notes', dir, k, '20']));
      for (const r of results) assert.equal(r.ok, true, r.error);
      assert.deepEqual(
        results.map((r) => r.lost),
        keys.map(() => 0),
        'a mark a writer had made was gone when it looked again',
      );
      assert.deepEqual(
        results.map((r) => r.errors),
        keys.map(() => 0),
      );
      const paths = pathsOf(dir);
      const marks = await readSpentMarks(paths);
      assert.deepEqual(Object.keys(marks).sort(), [...keys].sort(), 'every key keeps its mark');
      for (const k of keys) assert.equal(await isSpent(paths, k, `rt-${k}-19`), true, `${k}: the last mark`);
      assert.equal(fs.existsSync(lockDirOf(sideFileLock(notesFile(paths)))), false, 'no lock left behind');
      assert.equal(fs.statSync(notesFile(paths)).mode & 0o777, 0o600);
    });
  },
);

test(
  'profiles: 8 processes recording their own secure-storage dir 20 times at once → every profile is recorded',
  { timeout: 120_000 },
  async () => {
    await inTmp(async (dir) => {
      const dirs = Array.from({ length: 8 }, (_, i) => path.join(dir, `profile-${i}`));
      const results = await runTogether(dirs.map((d) => ['profiles', dir, d, '20']));
      for (const r of results) assert.equal(r.ok, true, r.error);
      const reg = JSON.parse(fs.readFileSync(profilesFile(pathsOf(dir)), 'utf8')) as {
        profiles: Record<string, unknown>;
      };
      assert.deepEqual(Object.keys(reg.profiles).sort(), [...dirs].sort());
    });
  },
);

test(
  'needs-auth cache: Claude Code writing the file in place while we remove entries → none of its entries is lost',
  { timeout: 120_000 },
  async () => {
    await inTmp(async (dir) => {
      const file = path.join(dir, 'mcp-needs-auth-cache.json');
      fs.writeFileSync(file, JSON.stringify({ keep: { timestamp: 1, ttlMs: 5, id: 'x' } }), { mode: 0o644 });
      const stop = path.join(dir, 'stop');
      const n = 300;
      const claude = runTogether([['claude-cache', file, 'cc', String(n)]]);
      const ours = runTogether([
        ['cache-remove', file, 'victim-', stop],
        ['cache-remove', file, 'victim-', stop],
      ]);
      const [cc] = await claude;
      assert.equal(cc.ok, true, cc.error);
      fs.writeFileSync(stop, '');
      const removers = await ours;
      for (const r of removers) assert.equal(r.ok, true, r.error);
      const after = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
      const missing = Array.from({ length: n }, (_, i) => `cc-${i}`).filter((k) => !(k in after));
      assert.deepEqual(missing, [], `entries Claude Code wrote were lost (removers: ${JSON.stringify(removers)})`);
      assert.deepEqual(after.keep, { timestamp: 1, ttlMs: 5, id: 'x' }, 'unknown fields survive');
      assert.deepEqual(
        Object.keys(after).filter((k) => k.startsWith('victim-')),
        [],
        'the last removal removed them all',
      );
      assert.ok(
        removers.some((r) => (r.removed as number) > 0),
        'the removers did remove entries while Claude Code wrote',
      );
    });
  },
);

test('needs-auth cache: a file that changes before every rename → cache-write (busy), nothing written, nothing lost', async () => {
  await inTmp(async (dir) => {
    const file = path.join(dir, 'mcp-needs-auth-cache.json');
    fs.writeFileSync(file, JSON.stringify({ gone: { timestamp: 1 } }));
    let n = 0;
    // what Claude Code does between our read and our rename, every time: a write in place
    const writeInPlace = () => {
      const obj = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
      obj[`cc-${n++}`] = { timestamp: n };
      fs.writeFileSync(file, JSON.stringify(obj));
    };
    await assert.rejects(
      removeCacheEntries(file, (k) => k === 'gone', { beforeRename: writeInPlace }),
      (e) => isMcpAuthError(e) && e.code === 'cache-write' && e.details.reason === 'busy',
    );
    const after = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    assert.ok(n >= 2, 'it tried more than once');
    assert.deepEqual(Object.keys(after).sort(), ['gone', ...Array.from({ length: n }, (_, i) => `cc-${i}`)].sort());
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes('.tmp.') || f.endsWith('.lock')),
      [],
      'no temp file, no lock left',
    );
  });
});

test('needs-auth cache: a write in place just before our rename lands in the file we replaced → re-applied after the rename', async () => {
  await inTmp(async (dir) => {
    const file = path.join(dir, 'mcp-needs-auth-cache.json');
    fs.writeFileSync(file, JSON.stringify({ gone: { timestamp: 1 }, keep: { timestamp: 2 } }));
    let once = false;
    const r = await removeCacheEntries(file, (k) => k === 'gone', {
      // after our last check, before the rename: Claude Code's in-place write goes to the old file
      atRename: () => {
        if (once) return;
        once = true;
        fs.writeFileSync(
          file,
          JSON.stringify({ gone: { timestamp: 1 }, keep: { timestamp: 2 }, late: { timestamp: 3 } }),
        );
      },
    });
    assert.equal(once, true);
    assert.deepEqual(r.removed, ['gone']);
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { keep: { timestamp: 2 }, late: { timestamp: 3 } });
  });
});

test('needs-auth cache: a write in place lost in the file we replaced, then a file that keeps changing for 40 rounds → the repair is not given up, nothing lost', async () => {
  await inTmp(async (dir) => {
    const file = path.join(dir, 'mcp-needs-auth-cache.json');
    fs.writeFileSync(file, JSON.stringify({ gone: { timestamp: 1 }, keep: { timestamp: 2 } }));
    let landed = false;
    let busy = 0;
    const r = await removeCacheEntries(file, (k) => k === 'gone', {
      // round 1: Claude Code's write in place goes to the file we are about to replace (owed: a repair)
      atRename: () => {
        if (landed) return;
        landed = true;
        fs.writeFileSync(
          file,
          JSON.stringify({ gone: { timestamp: 1 }, keep: { timestamp: 2 }, late: { timestamp: 3 } }),
        );
      },
      // then, for 40 rounds (more than the rounds a plain removal gets), it writes again before each rename
      beforeRename: () => {
        if (!landed || busy >= 40) return;
        const obj = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
        obj[`cc-${busy++}`] = { timestamp: 10 + busy };
        fs.writeFileSync(file, JSON.stringify(obj));
      },
    });
    assert.equal(busy, 40, 'it kept colliding for 40 rounds');
    assert.deepEqual(r.removed, ['gone']);
    const after = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(
      Object.keys(after).sort(),
      ['keep', 'late', ...Array.from({ length: 40 }, (_, i) => `cc-${i}`)].sort(),
      'the entry written into the replaced file, and every later one, are there',
    );
  });
});

test('needs-auth cache: a write in place that read the file before our repair and lands after it → the repair is made again', async () => {
  await inTmp(async (dir) => {
    const file = path.join(dir, 'mcp-needs-auth-cache.json');
    fs.writeFileSync(file, JSON.stringify({ gone: { timestamp: 1 }, keep: { timestamp: 2 } }));
    let round = 0;
    let late: Promise<void> | undefined;
    await removeCacheEntries(file, (k) => k === 'gone', {
      atRename: () => {
        round++;
        // round 1: Claude Code's write in place goes to the file we are about to replace (a repair is owed)
        if (round === 1)
          fs.writeFileSync(
            file,
            JSON.stringify({ gone: { timestamp: 1 }, keep: { timestamp: 2 }, late: { timestamp: 3 } }),
          );
        // round 2, the repair: Claude Code has read the file as it was before it, and writes just after our rename
        if (round === 2) {
          const before = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
          late = new Promise((r) =>
            setTimeout(() => {
              fs.writeFileSync(file, JSON.stringify({ ...before, next: { timestamp: 4 } }));
              r();
            }, 5),
          );
        }
      },
    });
    assert.ok(late, 'the repair round ran');
    await late;
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), {
      keep: { timestamp: 2 },
      next: { timestamp: 4 },
      late: { timestamp: 3 },
    });
  });
});

test(
  'side-file lock: a holder SIGKILLed while holding it does not block the next writer for long',
  { timeout: 60_000 },
  async () => {
    await inTmp(async (dir) => {
      const paths = pathsOf(dir);
      const spec = sideFileLock(notesFile(paths));
      const child = spawn(process.execPath, [HOLDER, spec.target, 'wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
      await new Promise<void>((resolve) => {
        let out = '';
        child.stdout!.on('data', (d) => {
          out += d;
          if (out.includes('held')) resolve();
        });
      });
      const gone = new Promise((r) => child.on('close', r));
      child.kill('SIGKILL');
      await gone;
      assert.ok(fs.existsSync(lockDirOf(spec)) && fs.existsSync(ownerFileOf(spec)), 'the dead holder left its lock');
      const t0 = Date.now();
      await markSpent(paths, 'k|0', 'rt-after-kill', Date.now());
      const tookMs = Date.now() - t0;
      assert.equal(await isSpent(paths, 'k|0', 'rt-after-kill'), true);
      assert.ok(tookMs < 5_000, `reclaimed at once (owner gone), took ${tookMs} ms`);
      assert.equal(fs.existsSync(lockDirOf(spec)), false);

      // a lock directory with no owner file (a holder killed before it wrote one): reclaimed once stale
      fs.mkdirSync(lockDirOf(spec));
      const old = new Date(Date.now() - spec.stale - 1_000);
      fs.utimesSync(lockDirOf(spec), old, old);
      const t1 = Date.now();
      await markSpent(paths, 'k|0', 'rt-after-stale', Date.now());
      assert.ok(Date.now() - t1 < 5_000, 'a stale lock is reclaimed at once');
      assert.equal(await isSpent(paths, 'k|0', 'rt-after-stale'), true);
    });
  },
);
