import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { inspectLock, lockDirOf, ownerFileOf, type LockSpec } from '../../../../src/core/lock/lock';
import { ROOT } from '../../../helpers/home';

const HOLDER = path.join(ROOT, 'out', 'test', 'helpers', 'lock-holder.js');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-lock-'));

function hold(
  target: string,
  how: string,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; child: ReturnType<typeof spawn> }> {
  const child = spawn(process.execPath, [HOLDER, target, how], { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('held') && how === 'wait') resolve({ code: null, signal: null, child });
    });
    child.on('close', (code, signal) => resolve({ code, signal, child }));
  });
}

for (const how of ['exit', 'throw', 'SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  test(`lock: a holder of ours that leaves by ${how} removes its lock directory and its owner file`, async () => {
    const dir = tmp();
    try {
      const spec: LockSpec = { target: path.join(dir, 'mcp-refresh-x.lock'), stale: 60_000, update: 5_000 };
      if (how.startsWith('SIG')) {
        const { child } = await hold(spec.target, 'wait');
        assert.ok(fs.existsSync(ownerFileOf(spec)), 'held with an owner file');
        const closed = new Promise((r) => child.on('close', r));
        child.kill(how as NodeJS.Signals);
        await closed;
      } else {
        await hold(spec.target, how);
      }
      assert.equal(fs.existsSync(lockDirOf(spec)), false, 'lock directory removed');
      assert.equal(fs.existsSync(ownerFileOf(spec)), false, 'owner file removed');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('lock: an owner file is trusted only for the directory it recorded (inode and birth time), only if it is ours, only where its pid is visible', () => {
  const dir = tmp();
  try {
    const spec: LockSpec = { target: path.join(dir, 'mcp-refresh-y.lock'), stale: 60_000, update: 5_000 };
    fs.mkdirSync(lockDirOf(spec));
    const st = fs.statSync(lockDirOf(spec));
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    let pidns: string | undefined;
    let bootId: string | undefined;
    try {
      pidns = fs.readlinkSync('/proc/self/ns/pid');
      bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      /* not Linux */
    }
    const base = {
      pid: dead,
      host: os.hostname(),
      pidns,
      bootId,
      startedAt: 1,
      ino: st.ino,
      dev: st.dev,
      birthtimeMs: st.birthtimeMs,
      tool: 'mcp-auth',
    };
    const write = (o: object) => fs.writeFileSync(ownerFileOf(spec), JSON.stringify(o));
    write(base);
    assert.equal(inspectLock(spec).ownerDead, true, 'the very directory, a dead pid of ours: reclaimable at once');
    write({ ...base, birthtimeMs: st.birthtimeMs - 1000 });
    assert.equal(inspectLock(spec).stale, false, 'same inode, other birth time: a later lock, not trusted');
    assert.ok(inspectLock(spec).orphanOwner);
    write({ ...base, tool: undefined });
    assert.equal(inspectLock(spec).stale, false, 'an owner file that is not ours is never trusted');
    write({ ...base, pidns: 'pid:[1]' });
    assert.equal(inspectLock(spec).stale, false, 'a pid from another pid namespace cannot be judged dead from here');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
