import type { Logger } from '../log';
import { acquireLock, type LockSpec } from './lock';

/**
 * A small lock of ours around every read-modify-write of a side file: our notes (`S/mcp-auth-notes.json`), our
 * profiles record (`D/mcp-auth-profiles.json`) and our rewrites of Claude Code's needs-auth cache. The same
 * proper-lockfile semantics as Claude Code's locks (acquireLock: `mkdir <file>.lock`, mtime heartbeat, an owner
 * file of ours beside it so that a dead holder of ours is reclaimed at once), under a name nothing of Claude
 * Code's takes: target `<file>`, directory `<file>.lock`. Held only for a read, a change and one atomic write
 * (milliseconds), so it is stale after a few seconds without a heartbeat, and a waiter gives up soon.
 *
 * A leaf lock: nothing else is ever taken while it is held, so it cannot deadlock with the refresh, storage or
 * sign-in locks (which may be held by the caller around it).
 */
export const SIDE_LOCK_STALE_MS = 10_000;
const SIDE_LOCK_UPDATE_MS = 2_000;
export const SIDE_LOCK_TIMEOUT_MS = 15_000;

export function sideFileLock(file: string): LockSpec {
  return { target: file, stale: SIDE_LOCK_STALE_MS, update: SIDE_LOCK_UPDATE_MS };
}

export interface SideLockOptions {
  timeoutMs?: number;
  logger?: Logger;
}

/**
 * Run `fn` holding the side-file lock of `file`; released in finally. A lock we cannot have in time is
 * McpAuthError `lock-timeout` (nothing was read or written). The lock's folder is the file's: the caller makes sure it
 * may exist (acquireLock creates it, 0700).
 */
export async function withSideFileLock<T>(file: string, fn: () => Promise<T>, opts: SideLockOptions = {}): Promise<T> {
  const lock = await acquireLock(sideFileLock(file), {
    timeoutMs: opts.timeoutMs ?? SIDE_LOCK_TIMEOUT_MS,
    logger: opts.logger,
  });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
