import { cacheNamesFor, readCache, removeCacheEntries } from './cache/cache';
import type { ServerConfig } from './config/types';
import { McpAuthError, isMcpAuthError, type ErrorCode } from './errors';
import { acquireLock, refreshLock, type HeldLock } from './lock/lock';
import { nullLogger, rememberSecret, type Logger } from './log';
import { authServerForEntry } from './oauth/discovery';
import { refreshGrant, type TokenSet } from './oauth/client';
import { type FetchLike } from './oauth/http';
import { makeHttp } from './oauth/client';
import type { ClaudePaths } from './paths';
import type { StoreBackend } from './store/backend';
import { serverKey } from './store/key';
import type { TokenEntry } from './store/types';
import { updateEntry } from './store/write';
import { entryProblem } from './store/validate';

export type RefreshResult = 'refreshed' | 'adopted' | 'fresh' | 'failed';

export interface RefreshOutcome {
  name: string;
  result: RefreshResult;
  code?: ErrorCode;
  message?: string;
  expiresAt?: number;
  /** needs-auth cache entries removed on the way */
  clearedCacheEntries?: string[];
  /** ms spent waiting for another process's refresh */
  waitedMs?: number;
}

export type CrashPoint = 'after-lock' | 'after-post' | 'after-response' | 'mid-write';

export interface RefreshDeps {
  paths: ClaudePaths;
  store: StoreBackend;
  logger?: Logger;
  fetch?: FetchLike;
  now?: () => number;
  refreshWindowMs?: number;
  lockTimeoutMs?: number;
  httpTimeoutMs?: number;
  /** remove a fresh needs-auth entry when the store was written after it (design: auto-unblock) */
  autoClearStaleEntries?: boolean;
  /** all configured servers (to clear cache entries of names sharing the URL) */
  allServers?: ServerConfig[];
  /** test-only hooks: crash points, running without the refresh lock */
  testHooks?: { crashAt?: CrashPoint; noLock?: boolean };
}

const crash = (deps: RefreshDeps, at: CrashPoint) => {
  if (deps.testHooks?.crashAt === at) process.kill(process.pid, 'SIGKILL');
};

/**
 * The coordinated refresh of one server (design.md): read; if not due, done without a lock; else take
 * Claude Code's refresh lock, re-read, adopt a token another process stored, or POST with the current
 * refresh token; persist under the storage lock; clear this server's needs-auth entries; release.
 */
export async function refreshServer(server: ServerConfig, deps: RefreshDeps, opts: { force?: boolean } = {}): Promise<RefreshOutcome> {
  const log = (deps.logger ?? nullLogger).child(`refresh ${server.name}`);
  const now = deps.now ?? Date.now;
  const windowMs = deps.refreshWindowMs ?? 300_000;
  const http = makeHttp({ fetch: deps.fetch, timeoutMs: deps.httpTimeoutMs });
  const name = server.name;
  const fail = (e: unknown): RefreshOutcome => {
    const m = isMcpAuthError(e) ? e : new McpAuthError('internal', (e as Error)?.message ?? String(e));
    log.warn('failed', m);
    return { name, result: 'failed', code: m.code, message: m.message };
  };
  if (server.transport !== 'http' && server.transport !== 'sse') return fail(new McpAuthError('not-remote', `${name} is not a remote server`));
  if (server.problem) return fail(new McpAuthError(server.problem.code, server.problem.message));
  const key = serverKey(server);
  const expired = (e: TokenEntry) => typeof e.expiresAt === 'number' && e.expiresAt <= now();
  const due = (e: TokenEntry) => opts.force || !e.accessToken || (typeof e.expiresAt === 'number' && e.expiresAt - now() <= windowMs);

  let e0: TokenEntry | undefined;
  try {
    e0 = await readEntry(deps.store, key);
  } catch (e) { return fail(e); }
  if (!e0) return fail(new McpAuthError('no-credentials', `no stored token for ${name}: sign in first (mcp-auth login ${name})`));
  if (!due(e0)) return finish({ name, result: 'fresh', expiresAt: e0.expiresAt }, false);
  if (!e0.refreshToken) return fail(new McpAuthError('no-refresh-token', `${name} has no refresh token: sign in again (mcp-auth login ${name})`));
  const rt0 = e0.refreshToken;
  rememberSecret(rt0);

  let lock: HeldLock | undefined;
  const t0 = now();
  let waited = false;
  try {
    if (!deps.testHooks?.noLock) {
      // While waiting, every change in the folder (the holder's store write) is a chance to adopt the new
      // token without taking the lock at all: waiters do not queue behind each other.
      let adoptable: TokenEntry | undefined;
      lock = await acquireLock(refreshLock(deps.paths.secureDir, key), {
        timeoutMs: deps.lockTimeoutMs ?? 30_000, logger: log, onWait: () => { waited = true; },
        stopWaiting: async () => {
          const e = await readEntry(deps.store, key);
          if (e && e.refreshToken !== rt0 && e.accessToken && !expired(e)) adoptable = e;
          return adoptable !== undefined;
        },
      });
      if (!lock) {
        log.info('adopted the token another process stored (without taking the lock)');
        return await finish({ name, result: 'adopted', expiresAt: adoptable?.expiresAt, waitedMs: now() - t0 }, false);
      }
    }
    crash(deps, 'after-lock');
    const { entry: e1, staticSecret: e1StaticSecret } = await readEntryAndSecret(deps.store, key);
    if (!e1) return fail(new McpAuthError('no-credentials', `the stored token for ${name} was removed meanwhile`));
    const waitedMs = waited ? now() - t0 : undefined;
    // Someone rotated since we read: their token is the current generation. Adopt it while it is still
    // valid, even inside the window (short-lived tokens would otherwise be refreshed once per process).
    if (e1.refreshToken !== rt0 && e1.accessToken && !expired(e1)) {
      log.info('adopted the token another process stored');
      return await finish({ name, result: 'adopted', expiresAt: e1.expiresAt, waitedMs }, false);
    }
    if (!due(e1) && !opts.force) return await finish({ name, result: 'adopted', expiresAt: e1.expiresAt, waitedMs }, false);
    const rt = e1.refreshToken;
    if (!rt) return fail(new McpAuthError('no-refresh-token', `${name} has no refresh token any more: sign in again`));
    rememberSecret(rt);

    const creds = { clientId: e1.clientId ?? server.oauth?.clientId ?? '', clientSecret: e1.clientSecret ?? e1StaticSecret };
    if (!creds.clientId) return fail(new McpAuthError('no-credentials', `no client id stored or configured for ${name}`));
    let tokens: TokenSet;
    try {
      const as = await authServerForEntry(server, e1, http);
      const postFetch: FetchLike | undefined = deps.testHooks?.crashAt === 'after-post'
        ? async (input, init) => { const p = http(input, init); setTimeout(() => crash(deps, 'after-post'), 50); return p; }
        : http;
      tokens = await refreshGrant(as, creds, rt, server.url, postFetch!);
    } catch (e) {
      if (isMcpAuthError(e) && e.code === 'invalid-grant') return await onInvalidGrant(rt, e);
      return fail(e);
    }
    crash(deps, 'after-response');
    const expiresAt = tokens.expiresIn !== undefined ? now() + Math.round(tokens.expiresIn * 1000) : undefined;
    await updateEntry(deps.store, deps.paths, key, (cur) => {
      const base = cur ?? e1;
      const next: TokenEntry = { ...base, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken ?? rt };
      if (expiresAt !== undefined) next.expiresAt = expiresAt; else delete next.expiresAt;
      if (tokens.scope) next.scope = tokens.scope;
      if (next.discoveryState && 'tokenlessRejectedAt' in next.discoveryState) {
        next.discoveryState = { ...next.discoveryState };
        delete next.discoveryState.tokenlessRejectedAt;
      }
      return next;
    }, { logger: log }, { beforeRename: deps.testHooks?.crashAt === 'mid-write' ? () => crash(deps, 'mid-write') : undefined });
    log.info(`refreshed; expires ${expiresAt ? new Date(expiresAt).toISOString() : 'never'}`);
    return await finish({ name, result: 'refreshed', expiresAt, waitedMs }, true);
  } catch (e) {
    return fail(e);
  } finally {
    if (lock?.compromised) log.warn('the refresh lock was compromised while held');
    await lock?.release();
  }

  async function onInvalidGrant(rtUsed: string, err: McpAuthError): Promise<RefreshOutcome> {
    // Someone may have rotated the token under us (e.g. Claude Code's 401 path, which takes no refresh lock).
    const e3 = await readEntry(deps.store, key);
    if (e3 && e3.refreshToken && e3.refreshToken !== rtUsed && e3.accessToken) {
      log.info('invalid_grant, but a newer generation is stored: adopted');
      return finish({ name, result: 'adopted', expiresAt: e3.expiresAt }, false);
    }
    // Same generation: signed out, exactly as Claude Code marks it (entry kept, client kept).
    await updateEntry(deps.store, deps.paths, key, (cur) => {
      if (!cur || cur.refreshToken !== rtUsed) return null;
      const next: TokenEntry = { ...cur, accessToken: '', expiresAt: 0 };
      delete next.refreshToken;
      return next;
    }, { logger: log });
    log.warn('the refresh token was rejected (invalid_grant): signed out', err);
    return { name, result: 'failed', code: 'invalid-grant', message: `${name}: the authorization server rejected the refresh token; sign in again (mcp-auth login ${name})` };
  }

  /** Success paths: clear this server's needs-auth entries (always after our own write; else only stale ones). */
  async function finish(out: RefreshOutcome, wroteToken: boolean): Promise<RefreshOutcome> {
    try {
      const cleared = await clearNeedsAuth(server, deps, wroteToken);
      if (cleared.length) out.clearedCacheEntries = cleared;
    } catch (e) {
      log.warn('could not clear the needs-auth cache entry', e);
    }
    return out;
  }
}

/** One read of the store: the entry, and the static client secret Claude Code keeps in mcpOAuthClientConfig. */
async function readEntryAndSecret(store: StoreBackend, key: string): Promise<{ entry: TokenEntry | undefined; staticSecret: string | undefined }> {
  const snap = await store.read();
  const s = snap.data.mcpOAuthClientConfig?.[key]?.clientSecret;
  const e = snap.data.mcpOAuth?.[key];
  if (e !== undefined) {
    const problem = entryProblem(e);
    if (problem) throw new McpAuthError('store-invalid', `the stored entry "${key}" is malformed (${problem})`);
  }
  return { entry: e, staticSecret: typeof s === 'string' ? s : undefined };
}

async function readEntry(store: StoreBackend, key: string): Promise<TokenEntry | undefined> {
  return (await readEntryAndSecret(store, key)).entry;
}

/**
 * Remove the needs-auth cache entries of a server. `always`: we just stored a token. Otherwise only
 * entries older than the store's last write (auto-unblock: the token is newer than the failure), so a
 * server that really rejects the token cannot cause a clear → fail → re-add loop.
 */
export async function clearNeedsAuth(server: ServerConfig, deps: Pick<RefreshDeps, 'paths' | 'store' | 'allServers' | 'autoClearStaleEntries' | 'logger'>, always: boolean): Promise<string[]> {
  if (!always && deps.autoClearStaleEntries === false) return [];
  const names = cacheNamesFor(server, deps.allServers ?? [server]);
  const file = deps.paths.needsAuthCacheFile;
  if (!always) {
    const snap = await deps.store.read();
    const storeWritten = snap.mtimeMs;
    if (storeWritten === undefined) return [];
    const cache = await readCache(file);
    const stale = [...names].filter((n) => cache.entries[n] && cache.entries[n].timestamp < storeWritten);
    if (stale.length === 0) return [];
    const r = await removeCacheEntries(file, (n) => stale.includes(n));
    if (r.removed.length) deps.logger?.info(`removed stale needs-auth entries (older than the last token write): ${r.removed.join(', ')}`);
    return r.removed;
  }
  const r = await removeCacheEntries(file, (n) => names.has(n));
  if (r.removed.length) deps.logger?.info(`removed needs-auth entries: ${r.removed.join(', ')}`);
  return r.removed;
}
