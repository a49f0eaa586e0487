import { joinIn } from '../paths';

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
