/**
 * Taking and releasing Claude Code's proper-lockfile locks: waiting (wake on the lock directory's events, a
 * backoff as the safety net), reclaiming (reclaim.ts) and the guarded proper-lockfile glue. Who holds a lock
 * lives in owner.ts, the lock names in spec.ts; both are re-exported here for the importers.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lockfile from 'proper-lockfile';
import { McpAuthError, errnoCode } from '../errors';
import { nullLogger, type Logger } from '../log';
import { holdSignals } from '../signals';
import { currentIdentity, removeOwnFile, sameDir, writeOwner, type DirIdentity } from './owner';
import { inspectLock, reclaim, type LockHolderInfo } from './reclaim';
import { lockDirOf, ownerFileOf, type LockSpec } from './spec';
import { Backoff, FolderWake, fileSignature } from './wait';

export { dirIdentity, sameDir, type DirIdentity, type LockOwner } from './owner';
export { inspectLock, removeOrphanOwner, type LockHolderInfo } from './reclaim';
export { lockDirOf, ownerFileOf, refreshLock, refreshLockName, storageLock, type LockSpec } from './spec';

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
    // staleness is judged and reclaimed by reclaim() (reclaim.ts); proper-lockfile only takes and heartbeats
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
