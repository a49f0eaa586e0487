import { clearNeedsAuth } from '../cache/needsAuthCache';
import { McpAuthError, isMcpAuthError } from '../errors';
import { acquireLock, refreshLock, type HeldLock } from '../lock/lock';
import type { StoreBackend } from '../store/backend';
import type { TokenEntry } from '../store/types';
import { entryProblem } from '../store/validate';
import { TEST_HOOKS } from '../build';
import type { RefreshOutcome, Run } from './types';
import type { MetadataCache } from '../oauth/metadataCache';
// What every step of the refresh uses: reading the entry, taking the lock or adopting, the way out (finish, failed).

export const usable = (e: TokenEntry | undefined, now: number): e is TokenEntry =>
  !!e && !!e.accessToken && (typeof e.expiresAt !== 'number' || e.expiresAt > now);

export function failed(run: Run, e: unknown): RefreshOutcome {
  const m = isMcpAuthError(e) ? e : new McpAuthError('internal', (e as Error)?.message ?? String(e));
  // the outcome carries the failure and every caller reports it (CLI: one stderr line): logged, not warned twice
  run.log.info(`failed: ${m.code}: ${m.message}`);
  return { name: run.server.name, result: 'failed', code: m.code, message: m.message };
}

/**
 * Take the refresh lock. While waiting, every change in the folder (the holder's store write) is a chance
 * to adopt the new token without taking the lock at all: waiters do not queue behind each other. On the
 * keychain each look is a `security` process, so it looks at most once a second there.
 */
export async function lockOrAdopt(
  run: Run,
  rt0: string,
): Promise<{ lock: HeldLock | undefined; waited: boolean } | { adopted: TokenEntry }> {
  if (TEST_HOOKS && run.deps.testHooks?.noLock) return { lock: undefined, waited: false };
  let adoptable: TokenEntry | undefined;
  let waited = false;
  let lastLook = 0;
  const minGapMs = run.deps.store.kind === 'keychain' ? 1000 : 0;
  const lock = await acquireLock(refreshLock(run.deps.paths.secureDir, run.key), {
    timeoutMs: run.deps.lockTimeoutMs ?? 30_000,
    logger: run.log,
    onWait: () => {
      waited = true;
    },
    // a file store: look (read and parse) only when the file changed; the keychain has no file to watch
    watchFile: run.deps.store.kind === 'file' ? run.deps.store.location : undefined,
    stopWaiting: async () => {
      if (Date.now() - lastLook < minGapMs) return false;
      lastLook = Date.now();
      const e = await readEntry(run.deps.store, run.key);
      if (e && e.refreshToken !== rt0 && usable(e, run.now())) adoptable = e;
      return adoptable !== undefined;
    },
  });
  if (lock) return { lock, waited };
  run.log.info('adopted the token another process stored (without taking the lock)');
  return { adopted: adoptable! };
}

/**
 * Success paths: clear this server's needs-auth entries — all of them after our own write; after adopting a
 * token another process stored since this refresh first read the store (`changed`), those written before
 * that read (the token is newer than they are); else none.
 */
export async function finish(run: Run, out: RefreshOutcome, wrote: boolean | 'changed'): Promise<RefreshOutcome> {
  if (wrote === false) return out;
  try {
    const cleared = await clearNeedsAuth(run.server, run.deps, wrote === true ? true : { changedSince: run.readAt });
    if (cleared.length) out.clearedCacheEntries = cleared;
  } catch (e) {
    run.log.warn('could not clear the needs-auth cache entry', e);
  }
  return out;
}

/**
 * One read of the store: the entry, the static client secret Claude Code keeps in mcpOAuthClientConfig, and
 * whether the store can take a write now (`unwritable`: the keychain's overflow item lost or unreadable, when
 * store/keychain.ts refuses every write). Whoever is about to spend the entry's refresh token checks that last:
 * a POST then would spend it, and the answer could not be kept.
 */
export async function readEntryAndSecret(
  store: StoreBackend,
  key: string,
): Promise<{ entry: TokenEntry | undefined; staticSecret: string | undefined; unwritable?: McpAuthError }> {
  const snap = await store.read();
  const s = snap.data.mcpOAuthClientConfig?.[key]?.clientSecret;
  const e = snap.data.mcpOAuth?.[key];
  // an entry without a usable token in the main item may live in the lost overflow: not readable at all
  if (snap.overflowError && !e?.accessToken)
    throw new McpAuthError(snap.overflowError.code, snap.overflowError.message);
  if (e !== undefined) {
    const problem = entryProblem(e);
    if (problem) throw new McpAuthError('store-invalid', `the stored entry "${key}" is malformed (${problem})`);
  }
  const unwritable = snap.overflowError
    ? new McpAuthError(
        snap.overflowError.code,
        `${snap.overflowError.message}; the store cannot be written, so the refresh token was not sent`,
      )
    : undefined;
  return { entry: e, staticSecret: typeof s === 'string' ? s : undefined, ...(unwritable ? { unwritable } : {}) };
}

export async function readEntry(store: StoreBackend, key: string): Promise<TokenEntry | undefined> {
  return (await readEntryAndSecret(store, key)).entry;
}

/** The shared metadata cache of this run's store folder (oauth/metadataCache.ts). */
export const metadataCacheOf = (run: Run): MetadataCache => ({ dir: run.deps.paths.secureDir, now: run.now });
