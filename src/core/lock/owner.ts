/**
 * Who holds a lock: the identity of a lock directory (device, inode, birth time), where a pid means something
 * (host, pid namespace, boot id), and the owner files of ours beside Claude Code's lock directories.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import onExit from 'signal-exit';
import { errnoCode } from '../errors';
import { ownerFileOf, type LockSpec } from './spec';

/**
 * Which lock directory a holder took. ext4 hands a freed inode to the next `mkdir` of the same path, so an
 * inode alone can name a lock Claude Code took after ours was removed; the birth time tells them apart.
 */
export interface DirIdentity {
  dev: number;
  ino: number;
  /** 0 where the file system does not report a birth time */
  birthtimeMs: number;
}

export function dirIdentity(st: fs.Stats): DirIdentity {
  return { dev: st.dev, ino: st.ino, birthtimeMs: st.birthtimeMs > 0 ? st.birthtimeMs : 0 };
}

/** Same directory: same device and inode, and the same birth time where both are known. */
export function sameDir(a: DirIdentity, b: DirIdentity): boolean {
  return (
    a.dev === b.dev &&
    a.ino === b.ino &&
    (a.birthtimeMs === 0 || b.birthtimeMs === 0 || a.birthtimeMs === b.birthtimeMs)
  );
}

export function currentIdentity(dir: string): DirIdentity | undefined {
  try {
    return dirIdentity(fs.statSync(dir));
  } catch {
    return undefined;
  }
}

export interface LockOwner {
  pid: number;
  host: string;
  startedAt: number;
  /** the lock directory this owner file belongs to */
  ino: number;
  dev?: number;
  birthtimeMs?: number;
  /** Linux: the pid namespace and boot the pid belongs to */
  pidns?: string;
  bootId?: string;
  tool: 'mcp-auth';
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

/**
 * Where a pid means something: the host name alone is not enough (a container with the host's network
 * has its host name, and its own pids). On Linux: the pid namespace and the boot id; elsewhere empty.
 */
const pidSpace: { pidns?: string; bootId?: string } = (() => {
  const out: { pidns?: string; bootId?: string } = {};
  try {
    out.pidns = fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    /* not Linux */
  }
  try {
    out.bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    /* not Linux */
  }
  return out;
})();

/** Can this process tell whether the owner's pid is alive? Same host, same pid namespace, same boot. */
export function ownerPidVisible(o: LockOwner): boolean {
  return o.host === os.hostname() && o.pidns === pidSpace.pidns && o.bootId === pidSpace.bootId;
}

/** An owner file of ours (never Claude Code's own owner files, which have other names and no `tool`). */
export function readOwner(file: string): LockOwner | undefined {
  try {
    const o = JSON.parse(fs.readFileSync(file, 'utf8')) as LockOwner;
    return o && o.tool === 'mcp-auth' && typeof o.pid === 'number' && typeof o.host === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Does an owner file describe this lock directory? Device, inode and birth time must all match. Where the
 * file system reports no birth time (some network and foreign file systems) an owner file is never
 * trusted: a reused inode could then name a lock Claude Code took later, so such locks are reclaimed only
 * by staleness, as Claude Code reclaims them.
 */
export function ownerDescribes(owner: LockOwner, st: fs.Stats): boolean {
  const id = dirIdentity(st);
  if (id.birthtimeMs === 0 || owner.birthtimeMs === undefined) return false;
  return (
    owner.ino === id.ino && (owner.dev === undefined || owner.dev === id.dev) && owner.birthtimeMs === id.birthtimeMs
  );
}

/** Owner files this process wrote and has not removed yet; removed on every way out (exit, signals). */
const ownFiles = new Set<string>();
let exitHookInstalled = false;

export function removeOwnFile(file: string): void {
  ownFiles.delete(file);
  try {
    // only our own: another process may have written this path since (after a reclaim)
    if (readOwner(file)?.pid === process.pid) fs.rmSync(file, { force: true });
  } catch {
    /* gone */
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // signal-exit (what proper-lockfile uses to remove its lock directories) runs this on a normal exit, an
  // uncaught error, and SIGINT/SIGTERM/SIGHUP, before the signal is re-raised.
  onExit(() => {
    for (const f of [...ownFiles]) removeOwnFile(f);
  });
}

export function writeOwner(spec: LockSpec, id: DirIdentity): boolean {
  installExitHook();
  const file = ownerFileOf(spec);
  try {
    const owner: LockOwner = {
      pid: process.pid,
      host: os.hostname(),
      ...pidSpace,
      startedAt: Date.now(),
      ino: id.ino,
      dev: id.dev,
      birthtimeMs: id.birthtimeMs,
      tool: 'mcp-auth',
    };
    const tmp = `${file}.${process.pid}.tmp`;
    ownFiles.add(file);
    fs.writeFileSync(tmp, JSON.stringify(owner), { mode: 0o600 });
    fs.renameSync(tmp, file);
    return true;
  } catch {
    ownFiles.delete(file);
    return false;
  }
}
