import { clearNeedsAuth } from './cache/needsAuthCache';
import type { ServerConfig } from './config/types';
import { McpAuthError, isMcpAuthError, type ErrorCode } from './errors';
import { acquireLock, refreshLock, type HeldLock } from './lock/lock';
import { nullLogger, rememberSecret, type Logger } from './log';
import { isSpent, markSpent, recordClientRejected, recordTokenWarnings } from './notes';
import { authServerForEntry } from './oauth/discovery';
import { makeHttp, refreshGrant, type TokenSet, type TokenWarning } from './oauth/client';
import { type FetchLike } from './oauth/http';
import { revokeTokens } from './oauth/revoke';
import type { ClaudePaths } from './paths';
import type { StoreBackend } from './store/backend';
import { serverKey } from './store/key';
import type { TokenEntry } from './store/types';
import { persistGrantResult, updateEntry } from './store/write';
import { entryProblem } from './store/validate';
import { isRefreshDue, noteIssued } from './timing';
import { TEST_HOOKS } from './build';
import { isRemote } from './config/types';

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
  /** what was odd: in the authorization server's 200 answer (stored anyway), or `lock-lost` when the refresh
   * lock was taken from us while the answer was on its way (stored anyway: the refresh token sent is spent) */
  warnings?: (TokenWarning | 'lock-lost')[];
}

export type CrashPoint = 'after-lock' | 'after-post' | 'after-response' | 'mid-write' | 'pause-after-lock';

export interface RefreshDeps {
  paths: ClaudePaths;
  store: StoreBackend;
  logger?: Logger;
  fetch?: FetchLike;
  now?: () => number;
  refreshWindowMs?: number;
  lockTimeoutMs?: number;
  httpTimeoutMs?: number;
  /** remove a needs-auth entry written before a token change this refresh saw (design: auto-unblock) */
  autoClearStaleEntries?: boolean;
  /** all configured servers (to clear cache entries of names sharing the key) */
  allServers?: ServerConfig[];
  /** test-only hooks: crash points, running without the refresh lock (never set by the shipped CLI) */
  testHooks?: { crashAt?: CrashPoint; noLock?: boolean; pauseMs?: number };
}

/**
 * Refresh tokens sent and answered 200 whose answer could not be stored (the write failed even after its
 * retries, or the 200 carried nothing usable). They are spent at the authorization server: no mcp-auth
 * process sends them again — this one remembers them, others read the mark in our notes file. A newer
 * generation stored by anyone lifts the ban, because the stored token changes.
 */
const spentUnstored = new Map<string, string>();

async function noteSpent(run: Run, rt: string): Promise<void> {
  spentUnstored.set(run.key, rt);
  await markSpent(run.deps.paths, run.key, rt, run.now()).catch((e) =>
    run.log.warn('could not record the spent refresh token', e),
  );
}

const crash = (deps: RefreshDeps, at: CrashPoint) => {
  if (TEST_HOOKS && deps.testHooks?.crashAt === at) process.kill(process.pid, 'SIGKILL');
};

/** Everything one refresh needs, built once. */
interface Run {
  server: ServerConfig;
  deps: RefreshDeps;
  key: string;
  log: Logger;
  now: () => number;
  windowMs: number;
  http: FetchLike;
  force: boolean;
  /** when this refresh first read the store: a token found changed later was written after this */
  readAt: number;
}

const usable = (e: TokenEntry | undefined, now: number): e is TokenEntry =>
  !!e && !!e.accessToken && (typeof e.expiresAt !== 'number' || e.expiresAt > now);

/**
 * The coordinated refresh of one server, in four steps: decide (is a refresh due, without a
 * lock); wait or adopt (take Claude Code's refresh lock, or adopt the token its holder stores meanwhile);
 * post (with the refresh token read under the lock, only while the lock is still ours); persist (a 200 is
 * final: store it, retrying the write, never the request), then clear this server's needs-auth entries.
 */
export async function refreshServer(
  server: ServerConfig,
  deps: RefreshDeps,
  opts: { force?: boolean } = {},
): Promise<RefreshOutcome> {
  const log = (deps.logger ?? nullLogger).child(`refresh ${server.name}`);
  const run: Run = {
    server,
    deps,
    log,
    key: '',
    now: deps.now ?? Date.now,
    windowMs: deps.refreshWindowMs ?? 300_000,
    http: makeHttp({ fetch: deps.fetch, timeoutMs: deps.httpTimeoutMs }),
    force: opts.force === true,
    readAt: 0,
  };
  try {
    if (!isRemote(server)) throw new McpAuthError('not-remote', `${server.name} is not a remote server`);
    if (server.problem) throw new McpAuthError(server.problem.code, server.problem.message);
    run.key = serverKey(server);

    // 1. decide
    run.readAt = run.now();
    const e0 = await readEntry(deps.store, run.key);
    if (!e0) throw new McpAuthError('no-credentials', `no stored token for ${server.name}`);
    if (!run.force && !isRefreshDue(e0, run.now(), run.windowMs))
      return await finish(run, { name: server.name, result: 'fresh', expiresAt: e0.expiresAt }, false);
    if (!e0.refreshToken) throw new McpAuthError('no-refresh-token', `${server.name} has no refresh token`);
    await refuseSpent(run, e0.refreshToken);
    rememberSecret(e0.refreshToken);

    // 2. wait or adopt
    const t0 = run.now();
    const got = await lockOrAdopt(run, e0.refreshToken);
    if ('adopted' in got)
      return await finish(
        run,
        { name: server.name, result: 'adopted', expiresAt: got.adopted.expiresAt, waitedMs: run.now() - t0 },
        'changed',
      );
    const lock = got.lock;
    try {
      crash(deps, 'after-lock');
      // test-only: hold the lock for a while (the test ends this process with a signal meanwhile)
      if (TEST_HOOKS && deps.testHooks?.crashAt === 'pause-after-lock')
        await new Promise((r) => setTimeout(r, deps.testHooks?.pauseMs ?? 30_000));
      const { entry: e1, staticSecret } = await readEntryAndSecret(deps.store, run.key);
      if (!e1) throw new McpAuthError('no-credentials', `the stored token for ${server.name} was removed meanwhile`);
      const waitedMs = got.waited ? run.now() - t0 : undefined;
      // Someone rotated since we read: theirs is the current generation. Adopt it while it is valid, even
      // inside the window (short-lived tokens would otherwise be refreshed once per process).
      if (e1.refreshToken !== e0.refreshToken && usable(e1, run.now())) {
        log.info('adopted the token another process stored');
        return await finish(
          run,
          { name: server.name, result: 'adopted', expiresAt: e1.expiresAt, waitedMs },
          'changed',
        );
      }
      if (!run.force && !isRefreshDue(e1, run.now(), run.windowMs))
        return await finish(
          run,
          { name: server.name, result: 'adopted', expiresAt: e1.expiresAt, waitedMs },
          e1.accessToken !== e0.accessToken ? 'changed' : false,
        );
      const rt = e1.refreshToken;
      if (!rt) throw new McpAuthError('no-refresh-token', `${server.name} has no refresh token any more`);
      await refuseSpent(run, rt);
      rememberSecret(rt);

      // 3. post
      const clientId = e1.clientId ?? server.oauth?.clientId;
      if (!clientId) throw new McpAuthError('no-credentials', `no client id stored or configured for ${server.name}`);
      // the configured static client's secret lives in mcpOAuthClientConfig; a registered client's in the entry
      const creds = {
        clientId,
        clientSecret: clientId === server.oauth?.clientId ? (staticSecret ?? e1.clientSecret) : e1.clientSecret,
      };
      const as = await authServerForEntry(server, e1, run.http);
      lock?.assertHeld('the token request');
      let tokens: TokenSet;
      try {
        tokens = await refreshGrant(as, creds, rt, server.url, postFetch(run));
      } catch (e) {
        if (isMcpAuthError(e) && e.code === 'invalid-grant') return await onInvalidGrant(run, rt, e);
        if (isMcpAuthError(e) && e.details.oauthError === 'invalid_client') {
          await recordClientRejected(deps.paths, run.key, clientId, run.now()).catch(() => {});
        }
        // a 200 that carried nothing usable: the server has taken the token all the same
        if (isMcpAuthError(e) && e.details.status === 200) await noteSpent(run, rt);
        throw e;
      }
      crash(deps, 'after-response');

      // 4. persist
      return await persist(run, lock, rt, tokens, () => revokeTokens(as, creds, tokens, run.http), waitedMs);
    } finally {
      if (lock?.compromised) log.warn('the refresh lock was compromised while held');
      await lock?.release();
    }
  } catch (e) {
    return failed(run, e);
  }
}

function failed(run: Run, e: unknown): RefreshOutcome {
  const m = isMcpAuthError(e) ? e : new McpAuthError('internal', (e as Error)?.message ?? String(e));
  run.log.warn('failed', m);
  return { name: run.server.name, result: 'failed', code: m.code, message: m.message };
}

async function refuseSpent(run: Run, rt: string): Promise<void> {
  if (spentUnstored.get(run.key) === rt || (await isSpent(run.deps.paths, run.key, rt))) {
    throw new McpAuthError(
      'token-spent',
      `the stored refresh token of ${run.server.name} was already sent and answered 200, but that answer could not be stored; sending it again would get the grant revoked`,
    );
  }
}

/**
 * Take the refresh lock. While waiting, every change in the folder (the holder's store write) is a chance
 * to adopt the new token without taking the lock at all: waiters do not queue behind each other. On the
 * keychain each look is a `security` process, so it looks at most once a second there.
 */
async function lockOrAdopt(
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

function postFetch(run: Run): FetchLike {
  if (TEST_HOOKS && run.deps.testHooks?.crashAt === 'after-post') {
    return async (input, init) => {
      const p = run.http(input, init);
      setTimeout(() => crash(run.deps, 'after-post'), 50);
      return p;
    };
  }
  return run.http;
}

/**
 * Store a 200 answer. It is final: the refresh token we sent is spent. The new refresh token is stored (or
 * the old one kept when none came back) whatever else was odd in the answer. The entry is only updated while
 * it still holds the generation we refreshed: an entry that was removed (signed out) is not recreated — the
 * tokens we got are revoked instead — and a newer generation stored by someone else is kept.
 */
async function persist(
  run: Run,
  lock: HeldLock | undefined,
  rt: string,
  tokens: TokenSet,
  revoke: () => Promise<unknown>,
  waitedMs: number | undefined,
): Promise<RefreshOutcome> {
  const { deps, log, key, server } = run;
  const issuedAt = run.now();
  const expiresAt = tokens.expiresIn !== undefined ? issuedAt + Math.round(tokens.expiresIn * 1000) : undefined;
  for (const w of tokens.warnings)
    log.warn(`the token answer was odd (${w}); stored anyway: the refresh token sent is spent`);
  let fate = 'stored' as 'stored' | 'gone' | 'superseded';
  let current = undefined as TokenEntry | undefined;
  try {
    await persistGrantResult(
      deps.store,
      deps.paths,
      key,
      (cur) => {
        current = cur;
        if (!cur || (!cur.accessToken && !cur.refreshToken)) {
          fate = 'gone';
          return null;
        }
        if (cur.refreshToken !== rt) {
          fate = 'superseded';
          return null;
        }
        fate = 'stored';
        const next: TokenEntry = { ...cur, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken ?? rt };
        if (expiresAt !== undefined) next.expiresAt = tokens.accessToken ? expiresAt : 0;
        else if (tokens.accessToken) delete next.expiresAt;
        else next.expiresAt = 0;
        if (tokens.scope) next.scope = tokens.scope;
        if (next.discoveryState && 'tokenlessRejectedAt' in next.discoveryState) {
          next.discoveryState = { ...next.discoveryState };
          delete next.discoveryState.tokenlessRejectedAt;
        }
        return next;
      },
      { logger: log, timeoutMs: Math.min(deps.lockTimeoutMs ?? 15_000, 15_000) },
      {
        // No refresh-lock guard here, on purpose: the answer is already issued and the token we sent is
        // spent, so dropping the answer would leave a spent token for the next refresh to replay. Writing only
        // while the entry still holds the generation we sent (above, under the storage lock) is what keeps a
        // newer generation safe, whoever holds the refresh lock now.
        beforeRename:
          TEST_HOOKS && deps.testHooks?.crashAt === 'mid-write' ? () => crash(deps, 'mid-write') : undefined,
      },
    );
  } catch (e) {
    await noteSpent(run, rt);
    log.error(
      'THE NEW TOKEN COULD NOT BE STORED: the refresh token in the store is spent; mcp-auth will not send it again',
      e,
    );
    throw isMcpAuthError(e) && e.code === 'store-write'
      ? e
      : new McpAuthError(
          'store-write',
          `the new token for ${server.name} could not be stored: ${(e as Error)?.message ?? e}`,
          {},
          { cause: e },
        );
  }
  if (fate === 'gone') {
    log.warn(
      'the entry was removed while the refresh was under way (signed out): not recreating it; revoking what the server just issued',
    );
    await revoke().catch((e) => log.warn('could not revoke the tokens issued to a signed-out entry', e));
    throw new McpAuthError('no-credentials', `${server.name} was signed out while the refresh was under way`);
  }
  if (fate === 'superseded') {
    log.warn('a newer generation was stored while the refresh was under way: kept it');
    return await finish(
      run,
      { name: server.name, result: 'adopted', expiresAt: current?.expiresAt, waitedMs },
      'changed',
    );
  }
  noteIssued(tokens.accessToken, issuedAt, expiresAt);
  if (tokens.warnings.length) await recordTokenWarnings(deps.paths, key, tokens.warnings, issuedAt).catch(() => {});
  log.info(`refreshed; expires ${expiresAt ? new Date(expiresAt).toISOString() : 'never'}`);
  const out: RefreshOutcome = { name: server.name, result: 'refreshed', expiresAt, waitedMs };
  const warnings: RefreshOutcome['warnings'] = [...tokens.warnings];
  if (lock && !lock.stillHeld()) {
    log.warn(
      "the refresh lock was taken from us while the answer was on its way; the answer was stored all the same (the token sent is spent), and the other holder's lock was left alone",
    );
    warnings.push('lock-lost');
  }
  if (warnings.length) out.warnings = warnings;
  return await finish(run, out, true);
}

async function onInvalidGrant(run: Run, rtUsed: string, err: McpAuthError): Promise<RefreshOutcome> {
  const { deps, log, key, server } = run;
  // Someone may have rotated the token under us (e.g. Claude Code's 401 path, which takes no refresh lock).
  const e3 = await readEntry(deps.store, key);
  if (e3 && e3.refreshToken && e3.refreshToken !== rtUsed && e3.accessToken) {
    log.info('invalid_grant, but a newer generation is stored: adopted');
    return finish(run, { name: server.name, result: 'adopted', expiresAt: e3.expiresAt }, 'changed');
  }
  // Same generation: signed out, exactly as Claude Code marks it (entry kept, client kept).
  await updateEntry(
    deps.store,
    deps.paths,
    key,
    (cur) => {
      if (!cur || cur.refreshToken !== rtUsed) return null;
      const next: TokenEntry = { ...cur, accessToken: '', expiresAt: 0 };
      delete next.refreshToken;
      return next;
    },
    { logger: log },
  );
  log.warn('the refresh token was rejected (invalid_grant): signed out', err);
  return {
    name: server.name,
    result: 'failed',
    code: 'invalid-grant',
    message: `${server.name}: the authorization server rejected the refresh token`,
  };
}

/**
 * Success paths: clear this server's needs-auth entries — all of them after our own write; after adopting a
 * token another process stored since this refresh first read the store (`changed`), those written before
 * that read (the token is newer than they are); else none.
 */
async function finish(run: Run, out: RefreshOutcome, wrote: boolean | 'changed'): Promise<RefreshOutcome> {
  if (wrote === false) return out;
  try {
    const cleared = await clearNeedsAuth(run.server, run.deps, wrote === true ? true : { changedSince: run.readAt });
    if (cleared.length) out.clearedCacheEntries = cleared;
  } catch (e) {
    run.log.warn('could not clear the needs-auth cache entry', e);
  }
  return out;
}

/** One read of the store: the entry, and the static client secret Claude Code keeps in mcpOAuthClientConfig. */
async function readEntryAndSecret(
  store: StoreBackend,
  key: string,
): Promise<{ entry: TokenEntry | undefined; staticSecret: string | undefined }> {
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
