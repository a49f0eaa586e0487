import type { ClaudePaths } from '../paths';
import { acquireLock, storageLock, type AcquireOptions } from '../lock/lock';
import type { StoreBackend } from './backend';
import type { StoreData, TokenEntry } from './types';
import { McpAuthError } from '../errors';
import { entryProblem } from './validate';
import { forgetSecret } from '../log';

export interface WriteHooks {
  /**
   * Called just before the store is replaced (right before the rename; for the keychain, before the write):
   * throw to stop without writing, e.g. McpAuthError('lock-lost') when the caller's refresh lock is gone.
   */
  guard?: () => void;
  /** test-only: between the temp write and the rename */
  beforeRename?: () => void | Promise<void>;
  /** test-only: once the storage lock is taken */
  afterLock?: () => Promise<void>;
  /** test-only: after the rename, before the storage lock is released */
  afterWrite?: () => Promise<void>;
  /** test-only: skip the storage lock (to prove the tests can fail) */
  noLock?: boolean;
}

/**
 * Change one entry of `mcpOAuth` under Claude Code's storage lock: re-read the whole store, let `mutate`
 * return the new entry (or undefined to delete it, or null to leave the store untouched), write atomically.
 * Every other key of the store is carried over as read.
 */
export async function updateEntry(
  store: StoreBackend,
  paths: ClaudePaths,
  key: string,
  mutate: (current: TokenEntry | undefined, data: StoreData) => TokenEntry | undefined | null,
  lockOpts: AcquireOptions = {},
  hooks: WriteHooks = {},
): Promise<{ written: boolean; entry: TokenEntry | undefined; mtimeMs?: number }> {
  const lock = hooks.noLock
    ? undefined
    : await acquireLock(storageLock(paths.secureDir), { timeoutMs: 30_000, ...lockOpts });
  try {
    await hooks.afterLock?.();
    const snap = await store.read();
    const data = snap.data;
    const all = (data.mcpOAuth ?? {}) as Record<string, TokenEntry>;
    const current = Object.prototype.hasOwnProperty.call(all, key) ? all[key] : undefined;
    // the keychain's overflow item is lost or unreadable: an entry not found (or without a token) in the main
    // item may live there; never judge it as removed (a refresh would revoke what it got, a sign-in overwrite it)
    if (snap.overflowError && !current?.accessToken)
      throw new McpAuthError(snap.overflowError.code, snap.overflowError.message);
    if (current !== undefined && entryProblem(current)) {
      throw new McpAuthError(
        'store-invalid',
        `the stored entry "${key}" is malformed (${entryProblem(current)}); not touching it`,
      );
    }
    const next = mutate(current, data);
    if (next === null) return { written: false, entry: current };
    const mcpOAuth = { ...all };
    if (next === undefined) delete mcpOAuth[key];
    else mcpOAuth[key] = next;
    // the storage lock and the caller's own lock must still be ours at the moment the store is replaced
    const check = () => {
      lock?.assertHeld('writing the store');
      hooks.guard?.();
    };
    check();
    await store.write(
      { ...data, mcpOAuth },
      {
        beforeRename: async () => {
          check();
          await hooks.beforeRename?.();
          check();
        },
      },
    );
    await hooks.afterWrite?.();
    forgetReplaced(current, next);
    return { written: true, entry: next };
  } finally {
    await lock?.release();
  }
}

/** The tokens a write replaced or removed are no longer live: redact() stops scanning for them (log.ts). */
function forgetReplaced(before: TokenEntry | undefined, after: TokenEntry | undefined): void {
  if (!before) return;
  for (const f of ['accessToken', 'refreshToken'] as const)
    if (before[f] && before[f] !== after?.[f]) forgetSecret(before[f]);
}

/** Write attempts for a 200's answer, and the pause before attempt i + 1 (× i). */
export const PERSIST_ATTEMPTS = 4;
export const PERSIST_RETRY_DELAY_MS = 250;

/** The longest persistGrantResult can take when each attempt waits `lockWaitMs` for the storage lock. */
export function persistWorstCaseMs(lockWaitMs: number): number {
  return PERSIST_ATTEMPTS * lockWaitMs + (PERSIST_RETRY_DELAY_MS * PERSIST_ATTEMPTS * (PERSIST_ATTEMPTS - 1)) / 2;
}

/**
 * Persist what a 200 token answer gave us. The grant we sent is spent by then, so the write must land:
 * retry the write (lock timeout, disk) a bounded number of times — never the request. The last failure is
 * thrown as `store-write`.
 */
export async function persistGrantResult(
  store: StoreBackend,
  paths: ClaudePaths,
  key: string,
  mutate: (current: TokenEntry | undefined, data: StoreData) => TokenEntry | undefined | null,
  lockOpts: AcquireOptions = {},
  hooks: WriteHooks & { attempts?: number; retryDelayMs?: number } = {},
): Promise<{ written: boolean; entry: TokenEntry | undefined }> {
  const attempts = hooks.attempts ?? PERSIST_ATTEMPTS;
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await updateEntry(store, paths, key, mutate, { timeoutMs: 15_000, ...lockOpts }, hooks);
    } catch (e) {
      last = e;
      // the entry itself is malformed, or the keychain's overflow is lost: no retry helps
      if (e instanceof McpAuthError && (e.code === 'store-invalid' || e.code.startsWith('store-overflow-'))) throw e;
      lockOpts.logger?.warn(
        `could not store the new token (attempt ${i + 1} of ${attempts}); retrying the write, not the request`,
        e,
      );
      if (i + 1 < attempts)
        await new Promise((r) => setTimeout(r, (hooks.retryDelayMs ?? PERSIST_RETRY_DELAY_MS) * (i + 1)));
    }
  }
  const why = last instanceof McpAuthError ? `${last.code}: ${last.message}` : String((last as Error)?.message ?? last);
  throw new McpAuthError(
    'store-write',
    `the authorization server issued new tokens but they could not be stored (${why}); the refresh token in the store is spent`,
    {},
    { cause: last },
  );
}
