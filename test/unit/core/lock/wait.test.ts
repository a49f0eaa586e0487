import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { acquireLock, lockDirOf, type LockSpec } from '../../../../src/core/lock/lock';
import { Backoff, FolderWake, fileSignature } from '../../../../src/core/lock/wait';
import { ROOT } from '../../../helpers/home';

const HOLDER = path.join(ROOT, 'out', 'test', 'helpers', 'lock-holder.js');
const tmp = () => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-wait-')));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A real process of ours holding the lock until killed (SIGTERM: it removes the lock on the way out). */
async function holder(target: string) {
  const child = spawn(process.execPath, [HOLDER, target, 'wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('held')) resolve();
    });
    child.on('close', () => reject(new Error('the holder ended before holding')));
  });
  const closed = new Promise((r) => child.on('close', r));
  return {
    release: async () => {
      child.kill('SIGTERM');
      await closed;
    },
  };
}

test('Backoff: 50 ms doubling to 1 s, each delay jittered into [base/2, base]', () => {
  const low = new Backoff(50, 1000, () => 0);
  assert.deepEqual(
    Array.from({ length: 7 }, () => low.next()),
    [25, 50, 100, 200, 400, 500, 500],
  );
  const high = new Backoff(50, 1000, () => 1);
  assert.deepEqual(
    Array.from({ length: 7 }, () => high.next()),
    [50, 100, 200, 400, 800, 1000, 1000],
  );
});

test('fileSignature: a write in place, a rename into place and a removal each change it', () => {
  const dir = tmp();
  try {
    const f = path.join(dir, '.credentials.json');
    assert.equal(fileSignature(f), 'absent');
    fs.writeFileSync(f, '{"a":1}');
    const s1 = fileSignature(f);
    assert.equal(fileSignature(f), s1, 'stable while nothing changes');
    fs.writeFileSync(f, '{"a":2}'); // same size, in place
    const s2 = fileSignature(f);
    assert.notEqual(s2, s1);
    fs.writeFileSync(`${f}.tmp`, '{"a":2}');
    fs.renameSync(`${f}.tmp`, f);
    assert.notEqual(fileSignature(f), s2);
    fs.rmSync(f);
    assert.equal(fileSignature(f), 'absent');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('FolderWake: only the watched names wake it; an event while nobody sleeps is kept for the next sleep', async () => {
  const dir = tmp();
  const w = new FolderWake([path.join(dir, 'x.lock.lock'), path.join(dir, '.credentials.json')]);
  try {
    setTimeout(() => {
      for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dir, `other-${i}`), 'x');
      fs.mkdirSync(path.join(dir, 'y.lock.lock'));
      fs.writeFileSync(path.join(dir, 'x.lock.lock.owner'), '{}');
    }, 20);
    const quiet = await w.sleep(400);
    assert.deepEqual({ timer: quiet.timer, names: [...quiet.names] }, { timer: true, names: [] });
    fs.writeFileSync(path.join(dir, '.credentials.json'), '{}');
    await sleep(100); // nobody sleeps now: the event waits
    const t = Date.now();
    const woke = await w.sleep(5000);
    assert.equal(woke.timer, false);
    assert.ok(woke.names.has('.credentials.json'), [...woke.names].join());
    assert.ok(Date.now() - t < 1000);
    setTimeout(() => fs.mkdirSync(path.join(dir, 'x.lock.lock')), 20);
    const lock = await w.sleep(5000);
    assert.ok(!lock.timer && lock.names.has('x.lock.lock'), JSON.stringify([...lock.names]));
  } finally {
    w.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('acquireLock waiting on a real holder: the folder churning does not make it look at the store; a store change does, once, and ends the wait', async () => {
  const dir = tmp();
  const spec: LockSpec = { target: path.join(dir, 'mcp-refresh-demo_1.lock'), stale: 60_000, update: 5_000 };
  const store = path.join(dir, '.credentials.json');
  fs.writeFileSync(store, '{"mcpOAuth":{}}');
  const h = await holder(spec.target);
  try {
    let asked = 0;
    let storeWritten = false;
    const churn = setInterval(() => {
      // what shares the folder: other locks and their heartbeats, temp files, owner files, notes
      fs.writeFileSync(path.join(dir, `.credentials.json.tmp.${Math.random().toString(16).slice(2, 10)}`), 'x');
      fs.writeFileSync(path.join(dir, 'mcp-auth-notes.json'), String(Date.now()));
      fs.utimesSync(lockDirOf(spec), new Date(), new Date());
      fs.writeFileSync(`${lockDirOf(spec)}.owner.x.tmp`, 'x');
    }, 10);
    const got = acquireLock(spec, {
      timeoutMs: 20_000,
      watchFile: store,
      stopWaiting: async () => {
        asked++;
        return storeWritten;
      },
    });
    await sleep(2000);
    clearInterval(churn);
    assert.equal(asked, 1, `asked ${asked} times in 2 s of churn (once at the start is right)`);
    storeWritten = true;
    const t = Date.now();
    fs.writeFileSync(`${store}.tmp`, '{"mcpOAuth":{"x":{}}}');
    fs.renameSync(`${store}.tmp`, store);
    assert.equal(await got, undefined, 'the wait ended without the lock');
    assert.equal(asked, 2);
    assert.ok(Date.now() - t < 1500, `woken by the store's event: ${Date.now() - t} ms`);
  } finally {
    await h.release();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('acquireLock: the holder leaving (its lock directory removed) hands the lock to the waiter', async () => {
  const dir = tmp();
  const spec: LockSpec = { target: path.join(dir, '.storage-write'), stale: 15_000 };
  const h = await holder(spec.target);
  try {
    let waited = false;
    const got = acquireLock(spec, { timeoutMs: 20_000, onWait: () => (waited = true) });
    await sleep(1500); // the backoff has reached its ceiling
    await h.release();
    const lock = await got;
    assert.ok(waited);
    assert.ok(lock.stillHeld());
    await lock.release();
    assert.equal(fs.existsSync(lockDirOf(spec)), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
