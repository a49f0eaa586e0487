/** Inspecting a lock without touching it, and reclaiming one that is stale or whose owner of ours is gone. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoCode } from '../errors';
import type { Logger } from '../log';
import {
  currentIdentity,
  ownerDescribes,
  ownerPidVisible,
  pidAlive,
  readOwner,
  sameDir,
  type LockOwner,
} from './owner';
import { lockDirOf, ownerFileOf, type LockSpec } from './spec';

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
export function reclaim(spec: LockSpec, log: Logger): boolean {
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
