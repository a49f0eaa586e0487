import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as lockfile from 'proper-lockfile';
import onExit from 'signal-exit';
import { McpAuthError, errnoCode } from '../errors';
import { nullLogger, type Logger } from '../log';
import { holdSignals } from '../signals';
import { joinIn } from '../paths';
import { Backoff, FolderWake, fileSignature } from './wait';

/** Claude Code's two locks (names and options as Claude Code 2.1.328 uses them), as the target passed to proper-lockfile's lock(). */
export interface LockSpec {
  /** the path handed to lock(); the directory on disk is `${target}.lock` */
  target: string;
  stale: number;
  update?: number;
}

export function storageLock(secureDir: string): LockSpec {
  return { target: joinIn(secureDir, '.storage-write'), stale: 15_000 };
}

export function refreshLock(secureDir: string, key: string): LockSpec {
  return { target: joinIn(secureDir, refreshLockName(key)), stale: 60_000, update: 5_000 };
}

/** The refresh-lock target Claude Code derives from a key: every non-alphanumeric character becomes `_`. */
export function refreshLockName(key: string): string {
  return `mcp-refresh-${key.replace(/[^a-zA-Z0-9]/g, '_')}.lock`;
}

export const lockDirOf = (spec: LockSpec): string => `${spec.target}.lock`;
export const ownerFileOf = (spec: LockSpec): string => `${lockDirOf(spec)}.owner`;

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

function currentIdentity(dir: string): DirIdentity | undefined {
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

export interface LockHolderInfo {
  held: boolean;
  /** an owner file of ours lies beside the lock but describes another (or no) lock directory */
  orphanOwner?: LockOwner;
  stale: boolean;
  /** age of the lock directory's heartbeat, ms */
  ageMs?: number;
  owner?: LockOwner;
  /** the owner is a process of ours on this host that no longer exists */
  ownerDead?: boolean;
  /** who: "mcp-auth pid 123 on host" or "another process (no owner file: Claude Code)" */
  holder?: string;
}

export interface AcquireOptions {
  /** give up after this long (ms): McpAuthError('lock-timeout') */
  timeoutMs?: number;
  /**
   * The safety net when no file event arrives: a jittered backoff from `pollMs` (default 50 ms), doubling up to
   * `maxPollMs` (default 1000 ms). Events wake a waiter at once: the lock directory's own (its release, a
   * reclaim) and the `watchFile`'s; every other change in the folder is ignored.
   */
  pollMs?: number;
  maxPollMs?: number;
  logger?: Logger;
  /** called once if we find we are waiting */
  onWait?: (info: LockHolderInfo) => void;
  /**
   * The file whose change may end the wait (the credential store, when it is a file): watched by name, and
   * `stopWaiting` is asked only when its signature (inode, size, mtime) changed since the last ask — once at
   * the start of the wait, then after a change. Without it, `stopWaiting` is asked at every wake-up.
   */
  watchFile?: string;
  /**
   * When it answers true, waiting stops and acquireLock returns undefined: what we waited for has happened (e.g.
   * another process stored the fresh token), so the lock is not needed any more.
   */
  stopWaiting?: () => Promise<boolean>;
}

export interface HeldLock {
  release(): Promise<void>;
  /** set when proper-lockfile reported the lock compromised (heartbeat failed, someone removed it) */
  readonly compromised: Error | undefined;
  /**
   * The lock is still ours: not reported compromised, and the lock directory on disk is the very one we
   * created. Checked just before a POST and just before a rename.
   */
  stillHeld(): boolean;
  /** throws McpAuthError('lock-lost') unless stillHeld() */
  assertHeld(what: string): void;
}

/** proper-lockfile needs a stale value; ours is checked by reclaim() (proper-lockfile caps update at stale/2). */
const NEVER_STALE = 2 ** 31 - 1;

function pidAlive(pid: number): boolean {
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
function ownerPidVisible(o: LockOwner): boolean {
  return o.host === os.hostname() && o.pidns === pidSpace.pidns && o.bootId === pidSpace.bootId;
}

/** An owner file of ours (never Claude Code's own owner files, which have other names and no `tool`). */
function readOwner(file: string): LockOwner | undefined {
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
function ownerDescribes(owner: LockOwner, st: fs.Stats): boolean {
  const id = dirIdentity(st);
  if (id.birthtimeMs === 0 || owner.birthtimeMs === undefined) return false;
  return (
    owner.ino === id.ino && (owner.dev === undefined || owner.dev === id.dev) && owner.birthtimeMs === id.birthtimeMs
  );
}

/** Who holds a lock, without touching it. */
export function inspectLock(spec: LockSpec, now = Date.now()): LockHolderInfo {
  const owner = readOwner(ownerFileOf(spec));
  let st: fs.Stats;
  try {
    st = fs.statSync(lockDirOf(spec));
  } catch {
    return { held: false, stale: false, orphanOwner: owner };
  }
  const ageMs = Math.max(0, now - st.mtimeMs);
  const ownerMatches = owner !== undefined && ownerDescribes(owner, st);
  const ownerDead = ownerMatches && ownerPidVisible(owner) && !pidAlive(owner.pid);
  const holder = ownerMatches
    ? `mcp-auth pid ${owner.pid} on ${owner.host}`
    : 'another process (Claude Code or an older mcp-auth)';
  return {
    held: true,
    stale: ageMs > spec.stale || ownerDead,
    ageMs,
    owner: ownerMatches ? owner : undefined,
    ownerDead,
    holder,
    orphanOwner: owner && !ownerMatches ? owner : undefined,
  };
}

/**
 * Remove an owner file that describes no current lock directory and whose process is gone. Such a file is
 * left when an mcp-auth holder died in a way no handler sees (SIGKILL, power loss). This version never trusts
 * it for a lock taken later (see ownerDescribes), but an older mcp-auth would: it could take the dead
 * owner for the holder of Claude Code's live lock and reclaim it, and two processes would then send the
 * same refresh token. Returns true when the file was removed.
 */
export function removeOrphanOwner(spec: LockSpec): boolean {
  const o = inspectLock(spec).orphanOwner;
  if (!o || !ownerPidVisible(o) || pidAlive(o.pid)) return false;
  try {
    fs.rmSync(ownerFileOf(spec), { force: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * Reclaim a lock that is stale (heartbeat older than its `stale`, as Claude Code and proper-lockfile judge
 * it) or whose recorded owner is a dead process of ours on this host. proper-lockfile's own stale reclaim
 * is not safe when several processes reclaim at once (proper-lockfile#121: B removes the fresh lock A just
 * took), so we never let it reclaim: a reclaim mutex (mkdir) admits one reclaimer, which re-checks under
 * the mutex that the very same directory (inode) is still stale or dead-owned, moves it aside with an atomic
 * rename, then removes it. Everyone else just retries the normal mkdir.
 */
function reclaim(spec: LockSpec, log: Logger): boolean {
  const dir = lockDirOf(spec);
  const mutex = `${dir}.reclaim`;
  try {
    fs.mkdirSync(mutex);
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') return false;
    try {
      if (Date.now() - fs.statSync(mutex).mtimeMs > 10_000) fs.rmdirSync(mutex);
    } catch {
      /* gone */
    }
    return false;
  }
  try {
    const before = currentIdentity(dir);
    if (!before) return true; // already gone: retry at once
    const info = inspectLock(spec);
    if (!info.held || !info.stale) return false;
    // re-check just before the reclaim: the very same directory (inode and birth time), still stale
    const again = currentIdentity(dir);
    if (!again || !sameDir(again, before) || again.birthtimeMs !== before.birthtimeMs) return false; // replaced meanwhile: not ours to touch
    if (!inspectLock(spec).stale) return false;
    log.warn(
      info.ownerDead && info.owner
        ? `reclaiming ${path.basename(dir)}: holder pid ${info.owner.pid} is gone`
        : `reclaiming ${path.basename(dir)}: stale (no heartbeat for ${Math.round((info.ageMs ?? 0) / 1000)} s)`,
    );
    // the owner file first: once the directory is gone another process of ours may take the lock and
    // write its own owner file, which must not be the one removed here
    if (info.owner || info.orphanOwner) fs.rmSync(ownerFileOf(spec), { force: true });
    const aside = `${dir}.stale.${process.pid}.${Date.now()}`;
    fs.renameSync(dir, aside);
    const moved = currentIdentity(aside);
    if (!moved || !sameDir(moved, again) || moved.birthtimeMs !== again.birthtimeMs) {
      // a process that does not use our reclaim mutex (Claude Code's own stale reclaim) replaced it in the
      // instant between the check and the rename: put its lock back if the path is still free
      log.warn(`reclaim of ${path.basename(dir)} raced with another process; putting its lock back`);
      if (!fs.existsSync(dir)) fs.renameSync(aside, dir);
      return false;
    }
    fs.rmSync(aside, { recursive: true, force: true });
    return true;
  } catch (e) {
    log.debug(`reclaim of ${path.basename(dir)} failed: ${errnoCode(e) ?? e}`);
    return false;
  } finally {
    try {
      fs.rmdirSync(mutex);
    } catch {
      /* ignore */
    }
  }
}

/**
 * Take a lock exactly as Claude Code does (proper-lockfile, realpath:false, its stale/update values), retrying
 * when the lock directory changes (its release) and on a jittered backoff (50 ms doubling to ~1 s) in case an
 * event is missed, until timeoutMs. While waiting, `stopWaiting` may end the wait without the lock.
 */
export async function acquireLock(
  spec: LockSpec,
  opts: AcquireOptions & { stopWaiting?: undefined },
): Promise<HeldLock>;
export async function acquireLock(spec: LockSpec, opts?: AcquireOptions): Promise<HeldLock | undefined>;
export async function acquireLock(spec: LockSpec, opts: AcquireOptions = {}): Promise<HeldLock | undefined> {
  const log = opts.logger ?? nullLogger;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const folder = path.dirname(spec.target);
  await fs.promises.mkdir(folder, { recursive: true, mode: 0o700 });
  const lockName = path.basename(lockDirOf(spec));
  const watchName = opts.watchFile ? path.basename(opts.watchFile) : undefined;
  const backoff = new Backoff(opts.pollMs ?? 50, opts.maxPollMs ?? 1000);
  let compromised: Error | undefined;
  let waker: FolderWake | undefined;
  let info: LockHolderInfo | undefined;
  /** the watched file's signature when stopWaiting was last asked (undefined: not asked yet) */
  let askedAt: string | undefined;
  // what to do on this round: try the lock (first round, its directory changed, the backoff ran out), ask
  // stopWaiting (first round, the watched file changed, the backoff ran out)
  let tryLock = true;
  let lookAtFile = true;
  try {
    for (;;) {
      if (tryLock) {
        try {
          return await takeLock(
            spec,
            log,
            (e) => (compromised = e),
            () => compromised,
          );
        } catch (e) {
          if (errnoCode(e) !== 'ELOCKED') throw e;
        }
        info = inspectLock(spec);
        if (info.stale && reclaim(spec, log)) continue;
      }
      if (!waker) {
        opts.onWait?.(info!);
        log.debug(`waiting for ${lockName} held by ${info?.holder ?? 'unknown'}`);
        waker = new FolderWake([lockDirOf(spec), ...(opts.watchFile ? [opts.watchFile] : [])]);
      }
      if (opts.stopWaiting && lookAtFile) {
        const sig = opts.watchFile ? fileSignature(opts.watchFile) : undefined;
        if (sig === undefined || sig !== askedAt) {
          askedAt = sig;
          if (await opts.stopWaiting().catch(() => false)) return undefined;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new McpAuthError(
          'lock-timeout',
          `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${lockDirOf(spec)} (held by ${info?.holder ?? 'unknown'})`,
        );
      }
      const wake = await waker.sleep(Math.min(backoff.next(), left));
      const any = wake.timer || wake.names.has('*');
      tryLock = any || wake.names.has(lockName);
      lookAtFile = any || (watchName !== undefined && wake.names.has(watchName));
    }
  } finally {
    waker?.close();
  }
}

/** One attempt at the lock (proper-lockfile, no retries); ELOCKED when someone holds it. */
async function takeLock(
  spec: LockSpec,
  log: Logger,
  setCompromised: (e: Error) => void,
  getCompromised: () => Error | undefined,
): Promise<HeldLock> {
  const held: { id?: DirIdentity } = {};
  const release = await lockfile.lock(spec.target, {
    realpath: false,
    // staleness is judged and reclaimed by reclaim() above; proper-lockfile only takes and heartbeats
    stale: NEVER_STALE,
    update: spec.update ?? Math.floor(spec.stale / 2),
    retries: 0,
    // proper-lockfile removes the directory on release and at exit, and touches it every `update` ms,
    // without asking whether it is still the one it created: never let it touch someone else's lock
    fs: guardedFs(lockDirOf(spec), () => held.id, log),
    onCompromised: (err) => {
      setCompromised(err);
      log.warn(`lock ${path.basename(lockDirOf(spec))} compromised`, err);
    },
  });
  const taken = (held.id = currentIdentity(lockDirOf(spec)));
  const owner = taken ? writeOwner(spec, taken) : false;
  const stillHeld = () => {
    if (getCompromised() || !taken) return false;
    const now = currentIdentity(lockDirOf(spec));
    return now !== undefined && sameDir(now, taken) && now.birthtimeMs === taken.birthtimeMs;
  };
  return {
    get compromised() {
      return getCompromised();
    },
    stillHeld,
    assertHeld(what: string) {
      if (!stillHeld())
        throw new McpAuthError(
          'lock-lost',
          `${path.basename(lockDirOf(spec))} is no longer ours (${getCompromised() ? 'reported compromised' : 'the directory was removed or replaced'}); stopped before ${what}`,
        );
    },
    async release() {
      // A termination signal that comes now waits until the directory is gone: proper-lockfile forgets a lock
      // before its asynchronous rmdir, so its exit handler would not remove it, and the lock would be left for
      // its staleness (Claude Code's refreshes would wait for it).
      const signals = holdSignals(`releasing ${path.basename(lockDirOf(spec))}`, 5_000);
      try {
        // owner file first: a crash between the two leaves a lock with no owner, reclaimed by staleness
        if (owner) removeOwnFile(ownerFileOf(spec));
        // the guarded fs skips the rmdir when the directory is no longer the one we created
        await release();
      } catch (e) {
        log.debug(`release of ${path.basename(lockDirOf(spec))}: ${errnoCode(e) ?? e}`);
      } finally {
        signals();
      }
    },
  };
}

/** Owner files this process wrote and has not removed yet; removed on every way out (exit, signals). */
const ownFiles = new Set<string>();
let exitHookInstalled = false;

function removeOwnFile(file: string): void {
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

function writeOwner(spec: LockSpec, id: DirIdentity): boolean {
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

type Cb = (err?: NodeJS.ErrnoException | null) => void;

/**
 * The file-system calls proper-lockfile makes, refusing to heartbeat or remove a lock directory that is not
 * the one we created (`taken`: undefined while taking it). A refused heartbeat reads as ENOENT, which
 * proper-lockfile reports as compromised; a refused removal is skipped.
 */
function guardedFs(dir: string, taken: () => DirIdentity | undefined, log: Logger) {
  const ours = (): boolean => {
    const t = taken();
    if (!t) return true;
    const now = currentIdentity(dir);
    return now !== undefined && sameDir(now, t) && now.birthtimeMs === t.birthtimeMs;
  };
  const refused = (what: string) => {
    log.warn(`not ${what} ${path.basename(dir)}: it is no longer the lock this process took`);
    return Object.assign(new Error(`${dir} is not ours`), { code: 'ENOENT' });
  };
  return {
    mkdir: (p: string, cb: Cb) => fs.mkdir(p, cb),
    stat: (p: string, cb: (e: NodeJS.ErrnoException | null, st: fs.Stats) => void) => fs.stat(p, cb),
    realpath: (p: string, cb: (e: NodeJS.ErrnoException | null, r: string) => void) => fs.realpath(p, cb),
    utimes: (p: string, a: Date, m: Date, cb: Cb) => (ours() ? fs.utimes(p, a, m, cb) : cb(refused('touching'))),
    rmdir: (p: string, cb: Cb) => {
      if (ours()) return fs.rmdir(p, cb);
      refused('removing');
      cb(null);
    },
    rmdirSync: (p: string) => {
      if (ours()) fs.rmdirSync(p);
    },
  };
}

/** Run fn while holding the lock; release in finally. */
export async function withLock<T>(
  spec: LockSpec,
  opts: AcquireOptions,
  fn: (lock: HeldLock) => Promise<T>,
): Promise<T> {
  const lock = (await acquireLock(spec, { ...opts, stopWaiting: undefined }))!;
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
