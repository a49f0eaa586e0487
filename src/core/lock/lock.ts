import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as lockfile from 'proper-lockfile';
import { McpAuthError, errnoCode } from '../errors';
import { nullLogger, type Logger } from '../log';
import { refreshLockName } from '../store/key';

/** Claude Code's two locks (format doc), as the target passed to proper-lockfile's lock(). */
export interface LockSpec {
  /** the path handed to lock(); the directory on disk is `${target}.lock` */
  target: string;
  stale: number;
  update?: number;
}

export function storageLock(secureDir: string): LockSpec {
  return { target: path.join(secureDir, '.storage-write'), stale: 15_000 };
}

export function refreshLock(secureDir: string, key: string): LockSpec {
  return { target: path.join(secureDir, refreshLockName(key)), stale: 60_000, update: 5_000 };
}

export const lockDirOf = (spec: LockSpec): string => `${spec.target}.lock`;
export const ownerFileOf = (spec: LockSpec): string => `${lockDirOf(spec)}.owner`;

export interface LockOwner {
  pid: number;
  host: string;
  startedAt: number;
  /** inode of the lock directory this owner file belongs to */
  ino: number;
  tool: 'mcp-auth';
}

export interface LockHolderInfo {
  held: boolean;
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
  /** how often to retry when no fs event arrives (ms) */
  pollMs?: number;
  logger?: Logger;
  /** called once if we find we are waiting */
  onWait?: (info: LockHolderInfo) => void;
  /**
   * Checked at every wake-up while waiting (a change in the lock's folder, or the poll). When it answers
   * true, waiting stops and acquireLock returns undefined: what we waited for has happened (e.g. another
   * process stored the fresh token), so the lock is not needed any more.
   */
  stopWaiting?: () => Promise<boolean>;
}

export interface HeldLock {
  release(): Promise<void>;
  /** set when proper-lockfile reported the lock compromised (heartbeat failed, someone removed it) */
  readonly compromised: Error | undefined;
}

/** proper-lockfile needs a stale value; ours is checked by reclaim() (proper-lockfile caps update at stale/2). */
const NEVER_STALE = 2 ** 31 - 1;

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return errnoCode(e) === 'EPERM'; }
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const o = JSON.parse(fs.readFileSync(file, 'utf8')) as LockOwner;
    return typeof o.pid === 'number' && typeof o.host === 'string' ? o : undefined;
  } catch { return undefined; }
}

/** Who holds a lock, without touching it. */
export function inspectLock(spec: LockSpec, now = Date.now()): LockHolderInfo {
  let st: fs.Stats;
  try { st = fs.statSync(lockDirOf(spec)); } catch { return { held: false, stale: false }; }
  const ageMs = Math.max(0, now - st.mtimeMs);
  const owner = readOwner(ownerFileOf(spec));
  const ownerMatches = owner !== undefined && owner.ino === st.ino;
  const ownerDead = ownerMatches && owner.host === os.hostname() && !pidAlive(owner.pid);
  const holder = ownerMatches ? `mcp-auth pid ${owner.pid} on ${owner.host}` : 'another process (Claude Code or an older mcp-auth)';
  return { held: true, stale: ageMs > spec.stale || ownerDead, ageMs, owner: ownerMatches ? owner : undefined, ownerDead, holder };
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
    try { if (Date.now() - fs.statSync(mutex).mtimeMs > 10_000) fs.rmdirSync(mutex); } catch { /* gone */ }
    return false;
  }
  try {
    let st: fs.Stats;
    try { st = fs.statSync(dir); } catch { return true; } // already gone: retry at once
    const info = inspectLock(spec);
    if (!info.held || !info.stale) return false;
    const again = fs.statSync(dir);
    if (again.ino !== st.ino) return false; // replaced meanwhile: not ours to touch
    log.warn(info.ownerDead && info.owner
      ? `reclaiming ${path.basename(dir)}: holder pid ${info.owner.pid} is gone`
      : `reclaiming ${path.basename(dir)}: stale (no heartbeat for ${Math.round((info.ageMs ?? 0) / 1000)} s)`);
    const aside = `${dir}.stale.${process.pid}.${Date.now()}`;
    fs.renameSync(dir, aside);
    if (info.owner) fs.rmSync(ownerFileOf(spec), { force: true });
    fs.rmSync(aside, { recursive: true, force: true });
    return true;
  } catch (e) {
    log.debug(`reclaim of ${path.basename(dir)} failed: ${errnoCode(e) ?? e}`);
    return false;
  } finally {
    try { fs.rmdirSync(mutex); } catch { /* ignore */ }
  }
}

/**
 * Take a lock exactly as Claude Code does (proper-lockfile, realpath:false, its stale/update values),
 * retrying every pollMs and whenever the lock's folder changes, until timeoutMs.
 */
export async function acquireLock(spec: LockSpec, opts: AcquireOptions & { stopWaiting?: undefined }): Promise<HeldLock>;
export async function acquireLock(spec: LockSpec, opts?: AcquireOptions): Promise<HeldLock | undefined>;
export async function acquireLock(spec: LockSpec, opts: AcquireOptions = {}): Promise<HeldLock | undefined> {
  const log = opts.logger ?? nullLogger;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const pollMs = opts.pollMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  const folder = path.dirname(spec.target);
  await fs.promises.mkdir(folder, { recursive: true, mode: 0o700 });
  let compromised: Error | undefined;
  let waited = false;
  let watcher: fs.FSWatcher | undefined;
  let wake: (() => void) | undefined;
  try {
    for (;;) {
      try {
        const release = await lockfile.lock(spec.target, {
          realpath: false,
          // staleness is judged and reclaimed by reclaim() above; proper-lockfile only takes and heartbeats
          stale: NEVER_STALE,
          update: spec.update ?? Math.floor(spec.stale / 2),
          retries: 0,
          onCompromised: (err) => {
            compromised = err;
            log.warn(`lock ${path.basename(lockDirOf(spec))} compromised`, err);
          },
        });
        const owner = writeOwner(spec);
        return {
          get compromised() { return compromised; },
          async release() {
            // owner file first: a crash between the two leaves a lock with no owner, reclaimed by staleness
            if (owner) fs.rmSync(ownerFileOf(spec), { force: true });
            try { await release(); } catch (e) { log.debug(`release of ${path.basename(lockDirOf(spec))}: ${errnoCode(e) ?? e}`); }
          },
        };
      } catch (e) {
        if (errnoCode(e) !== 'ELOCKED') throw e;
      }
      const info = inspectLock(spec);
      if (info.stale && reclaim(spec, log)) continue;
      if (!waited) {
        waited = true;
        opts.onWait?.(info);
        log.debug(`waiting for ${path.basename(lockDirOf(spec))} held by ${info.holder ?? 'unknown'}`);
        try {
          watcher = fs.watch(folder, { persistent: false }, () => wake?.());
          watcher.on('error', () => {});
        } catch { /* polling only */ }
      }
      if (waited && opts.stopWaiting && (await opts.stopWaiting().catch(() => false))) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new McpAuthError('lock-timeout', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${lockDirOf(spec)} (held by ${info.holder ?? 'unknown'})`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.min(pollMs, left));
        function done() { clearTimeout(t); wake = undefined; resolve(); }
        wake = done;
      });
    }
  } finally {
    watcher?.close();
  }
}

function writeOwner(spec: LockSpec): boolean {
  try {
    const ino = fs.statSync(lockDirOf(spec)).ino;
    const owner: LockOwner = { pid: process.pid, host: os.hostname(), startedAt: Date.now(), ino, tool: 'mcp-auth' };
    const file = ownerFileOf(spec);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(owner), { mode: 0o600 });
    fs.renameSync(tmp, file);
    return true;
  } catch {
    return false;
  }
}

/** Run fn while holding the lock; release in finally. */
export async function withLock<T>(spec: LockSpec, opts: AcquireOptions, fn: (lock: HeldLock) => Promise<T>): Promise<T> {
  const lock = (await acquireLock(spec, { ...opts, stopWaiting: undefined }))!;
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
