import { assertWritableStore } from './store/credman';
import { clearNeedsAuth } from './cache/needsAuthCache';
import type { ServerConfig } from './config/types';
import { McpAuthError, isMcpAuthError, type ErrorCode } from './errors';
import { acquireLock, inspectLock, refreshLock, type HeldLock } from './lock/lock';
import { nullLogger, rememberSecret, type Logger } from './log';
import {
  fingerprint,
  markSpent,
  noteSpentAccess,
  recordClientRejected,
  recordIntent,
  recordTokenWarnings,
  resolveIntent,
  spentCause,
  type SpentCause,
} from './notes';
import { authServerForEntry } from './oauth/discovery';
import { makeHttp, refreshGrant, type AuthorizationServer, type TokenSet, type TokenWarning } from './oauth/client';
import { holdSignals } from './signals';
import { type FetchLike } from './oauth/http';
import { revokeTokens } from './oauth/revoke';
import type { ClaudePaths } from './paths';
import type { StoreBackend } from './store/backend';
import { serverKey } from './store/key';
import type { TokenEntry } from './store/types';
import { persistGrantResult, persistWorstCaseMs, updateEntry } from './store/write';
import { SIDE_LOCK_TIMEOUT_MS } from './lock/sideLock';
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

/**
 * The steps of the protocol a test can stop at (test builds only: `testHooks.pauseAt`): the process says
 * `mcp-auth-test: at <step>` on stderr and waits `pauseMs` there, so a test can interrupt it at that very step.
 */
export type RefreshStep =
  'metadata-resolved' | 'lock-taken' | 'intent-recorded' | 'body-read' | 'storage-lock-taken' | 'written' | 'renamed';

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
  /** called off (the keeper stopped): a refresh that has not sent its token yet returns `cancelled`, sending nothing */
  signal?: AbortSignal;
  /** test-only hooks: crash points, pauses, running without the refresh lock (never set by the shipped CLI) */
  testHooks?: { crashAt?: CrashPoint; noLock?: boolean; pauseMs?: number; pauseAt?: RefreshStep };
}

/** How long the storage lock is waited for when persisting an answer (each attempt). */
const PERSIST_LOCK_WAIT_MS = 15_000;

/**
 * How long termination signals may be held for one refresh: the worst case of everything between the intent
 * record and the resolved answer — the intent record (notes lock), the POST, every write attempt of the answer
 * (storage lock each time), resolving the intent (notes lock) — and 5 s to spare. A shorter bound would deliver
 * the signal while the answer is still being stored, losing it.
 */
export function heldSectionBoundMs(httpMs: number): number {
  return SIDE_LOCK_TIMEOUT_MS + httpMs + persistWorstCaseMs(PERSIST_LOCK_WAIT_MS) + SIDE_LOCK_TIMEOUT_MS + 5_000;
}

/**
 * Refresh tokens this process sent whose answer it could not store or lost: spent, or possibly spent, at the
 * authorization server. No mcp-auth process sends them again — this one remembers them, others read the mark
 * in our notes file. A newer generation stored by anyone lifts the ban, because the stored token changes.
 */
const spentHere = new Map<string, { rt: string; cause: SpentCause; at: number }>();

async function noteSpent(run: Run, rt: string, cause: SpentCause): Promise<void> {
  spentHere.set(run.key, { rt, cause, at: run.now() });
  await markSpent(run.deps.paths, run.key, rt, run.now(), cause).catch((e) =>
    run.log.warn('could not record the spent refresh token', e),
  );
}

/**
 * Resolve the intent record of `rt` (its answer is stored, or it is known unspent). Retried: a record left
 * behind reads as "possibly spent" to every process, which would then refuse a token that is fine. Failing
 * that, a warning; the record stays (erring on the side of never replaying).
 */
async function settleIntent(run: Run, rt: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await resolveIntent(run.deps.paths, run.key, rt);
      return;
    } catch (e) {
      if (attempt >= 3) {
        run.log.warn('could not resolve the intent record: the refresh token will read as possibly spent', e);
        return;
      }
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

/**
 * This process's own guard, whatever the notes file managed to record: fingerprints of the refresh tokens it
 * sent, by server key (the last few; a token older than those is long superseded). None is ever sent twice.
 */
const sentHere = new Map<string, string[]>();
const SENT_KEPT = 8;
const sentBefore = (key: string, rt: string) => sentHere.get(key)?.includes(fingerprint(rt)) === true;
/** The answer proved the token unspent (a 4xx, `temporarily_unavailable`, a request that never left). */
function forgetSent(key: string, rt: string): void {
  const fp = fingerprint(rt);
  sentHere.set(
    key,
    (sentHere.get(key) ?? []).filter((f) => f !== fp),
  );
}
function noteSent(key: string, rt: string): void {
  const list = [...(sentHere.get(key) ?? []), fingerprint(rt)];
  sentHere.set(key, list.slice(-SENT_KEPT));
}

const crash = (deps: RefreshDeps, at: CrashPoint) => {
  if (TEST_HOOKS && deps.testHooks?.crashAt === at) process.kill(process.pid, 'SIGKILL');
};

/** Test builds only: stop at a step of the protocol for a while (see RefreshStep). */
async function stepHook(deps: RefreshDeps, at: RefreshStep): Promise<void> {
  if (!TEST_HOOKS || deps.testHooks?.pauseAt !== at) return;
  process.stderr.write(`mcp-auth-test: at ${at}\n`);
  await new Promise((r) => setTimeout(r, deps.testHooks?.pauseMs ?? 3000));
}

/** The caller called the refresh off (deps.signal) before its token was sent: stop here, nothing spent. */
function calledOff(deps: RefreshDeps): void {
  if (deps.signal?.aborted) throw new McpAuthError('cancelled', 'the refresh was called off before its token was sent');
}

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
 * The coordinated refresh of one server. The protocol, crash-consistent at every step (design.md, "the
 * transaction"; SECURITY.md, the interruption sweep):
 *
 *  1. decide, without a lock: read the entry; not due (and not --force) → done. A stored refresh token marked
 *     spent or possibly spent is never sent (go to 3b).
 *  2. resolve the authorization server's metadata (network) before the lock — never under it, so the hold is
 *     as short as the POST: Claude Code gives up on this lock after 5 tries 1–2 s apart and then refreshes on
 *     its 401 path without it. Skipped while the lock is held (a waiter that adopts never touches the AS).
 *  3. take Claude Code's refresh lock, or adopt the token its holder stores meanwhile; re-read under it.
 *     a. a newer generation is stored → adopt (no POST).
 *     b. the refresh token is marked spent, or an intent record for it is unresolved (its sender died between
 *        the POST and the write) → never send it: drop it from the entry (so no refresher, Claude Code
 *        included, replays it; the access token stays while it lasts), mark it, report token-spent.
 *  4. hold SIGINT/SIGTERM/SIGHUP (bounded: POST timeout + storage-lock wait), write the intent record
 *     (fingerprint + time + pid, fsynced), POST grant_type=refresh_token.
 *  5. persist under the storage lock: a 200 is final (its refresh token stored first; retry the write, never
 *     the request). The entry is written while it still holds the generation we sent, or when another process
 *     marked it signed out meanwhile (Claude Code's lost 401-path refresh: accessToken "", no refreshToken,
 *     same client) — a missing key means signed out and is not recreated (what we got is revoked).
 *     invalid_grant → signed out as Claude Code marks it, unless a newer generation is stored (adopt).
 *     An answer that may have spent the token but did not arrive (a 200 whose body is lost, a time-out or a
 *     broken connection after the request left) → marked possibly spent. A 4xx/5xx answer, or a request that
 *     never left → nothing spent.
 *  6. resolve the intent record, clear this server's needs-auth entries, release the lock, deliver a held
 *     signal.
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
    assertWritableStore(run.deps.store);
    run.key = serverKey(server);

    // 1. decide
    run.readAt = run.now();
    const e0 = await readEntry(deps.store, run.key);
    if (!e0) throw new McpAuthError('no-credentials', `no stored token for ${server.name}`);
    const marked = e0.refreshToken ? await spentOf(run, e0.refreshToken) : undefined;
    if (!marked && !run.force && !isRefreshDue(e0, run.now(), run.windowMs))
      return await finish(run, { name: server.name, result: 'fresh', expiresAt: e0.expiresAt }, false);
    if (!e0.refreshToken) {
      const dropped = await spentCause(deps.paths, run.key, undefined, e0.accessToken);
      if (dropped)
        throw new McpAuthError(
          'token-spent',
          `the refresh token of ${server.name} ${SPENT_WORDS[dropped.cause]}, and was removed from the entry; sign in again`,
        );
      throw new McpAuthError('no-refresh-token', `${server.name} has no refresh token`);
    }
    rememberSecret(e0.refreshToken);

    // 2. metadata, before the lock (not while someone holds it: we will most likely adopt their token)
    let as: AuthorizationServer | undefined;
    let asFor: string | undefined;
    const resolve = async (e: TokenEntry) => {
      as = await authServerForEntry(server, e, run.http);
      asFor = e.issuer ?? '';
      await stepHook(deps, 'metadata-resolved');
    };
    if (!marked && !inspectLock(refreshLock(deps.paths.secureDir, run.key)).held) await resolve(e0);

    // 3. wait or adopt
    calledOff(deps);
    const t0 = run.now();
    for (let round = 0; ; round++) {
      const got = await lockOrAdopt(run, e0.refreshToken);
      if ('adopted' in got)
        return await finish(
          run,
          { name: server.name, result: 'adopted', expiresAt: got.adopted.expiresAt, waitedMs: run.now() - t0 },
          'changed',
        );
      const lock = got.lock;
      let needMetadata: TokenEntry | undefined;
      try {
        await stepHook(deps, 'lock-taken');
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
        const rt = e1.refreshToken;
        if (!rt) {
          const dropped = await spentCause(deps.paths, run.key, undefined, e1.accessToken);
          throw new McpAuthError(
            dropped ? 'token-spent' : 'no-refresh-token',
            dropped
              ? `the refresh token of ${server.name} ${SPENT_WORDS[dropped.cause]}, and was removed from the entry; sign in again`
              : `${server.name} has no refresh token any more`,
          );
        }
        const spent = await spentOf(run, rt);
        if (spent) return await settleSpent(run, e1, rt, spent);
        if (!run.force && !isRefreshDue(e1, run.now(), run.windowMs))
          return await finish(
            run,
            { name: server.name, result: 'adopted', expiresAt: e1.expiresAt, waitedMs },
            e1.accessToken !== e0.accessToken ? 'changed' : false,
          );
        rememberSecret(rt);
        if (!as || asFor !== (e1.issuer ?? '')) {
          // metadata is never fetched under the lock, except if it changed under us twice in a row
          if (round === 0) {
            needMetadata = e1;
            continue;
          }
          log.info('the entry changed authorization server while we waited: resolving it under the lock');
          await resolve(e1);
        }

        const clientId = e1.clientId ?? server.oauth?.clientId;
        if (!clientId) throw new McpAuthError('no-credentials', `no client id stored or configured for ${server.name}`);
        // the configured static client's secret lives in mcpOAuthClientConfig; a registered client's in the entry
        const creds = {
          clientId,
          clientSecret: clientId === server.oauth?.clientId ? (staticSecret ?? e1.clientSecret) : e1.clientSecret,
        };
        calledOff(deps);
        lock?.assertHeld('the token request');
        return await postAndPersist(run, lock, e1, rt, as!, creds, waitedMs);
      } finally {
        if (lock?.compromised) log.warn('the refresh lock was compromised while held');
        await lock?.release();
        if (needMetadata) await resolve(needMetadata);
      }
    }
  } catch (e) {
    return failed(run, e);
  }
}

/**
 * 4–6: with termination signals held, record the intent, POST, persist, resolve. Every way out of here leaves
 * the refresh token sent either stored-over (the answer persisted), known unspent (intent resolved), or marked
 * (possibly) spent — and a SIGKILL anywhere in between leaves the intent record, which counts as a mark.
 */
async function postAndPersist(
  run: Run,
  lock: HeldLock | undefined,
  e1: TokenEntry,
  rt: string,
  as: AuthorizationServer,
  creds: { clientId: string; clientSecret?: string },
  waitedMs: number | undefined,
): Promise<RefreshOutcome> {
  const { deps, server } = run;
  const httpMs = deps.httpTimeoutMs ?? 15_000;
  const release = holdSignals(`refresh ${server.name}`, heldSectionBoundMs(httpMs));
  try {
    if (sentBefore(run.key, rt))
      throw new McpAuthError(
        'token-spent',
        `this process already sent the refresh token of ${server.name} once; sending it again could get the grant revoked`,
      );
    try {
      // (the test-only control without a lock runs without intent records too: no coordination at all)
      if (!(TEST_HOOKS && deps.testHooks?.noLock)) await recordIntent(deps.paths, run.key, rt, run.now());
    } catch (e) {
      throw new McpAuthError(
        'intent-write',
        `could not record the refresh about to be made (${(e as Error)?.message ?? e}); not sending the token`,
        {},
        { cause: e },
      );
    }
    await stepHook(deps, 'intent-recorded');
    let sent = false;
    const http = postFetch(run);
    const tracked: FetchLike = (input, init) => {
      sent = true;
      noteSent(run.key, rt);
      return http(input, init);
    };
    let tokens: TokenSet;
    try {
      tokens = await refreshGrant(as, creds, rt, server.url, tracked);
    } catch (e) {
      if (isMcpAuthError(e) && e.code === 'invalid-grant') {
        const out = await onInvalidGrant(run, rt, e);
        await settleIntent(run, rt);
        return out;
      }
      if (isMcpAuthError(e) && e.details.oauthError === 'invalid_client') {
        await recordClientRejected(deps.paths, run.key, creds.clientId, run.now()).catch(() => {});
      }
      const cause = mayHaveSpent(e, sent);
      if (cause) {
        run.log.warn(
          cause === 'unstored'
            ? 'the authorization server answered 200 with nothing usable: the refresh token sent is spent'
            : 'the request may have reached the authorization server but no answer arrived: the refresh token sent may be spent; mcp-auth will not send it again',
        );
        // Marked only: the store is not rewritten on an error path (a token endpoint that timed out or answered
        // garbage leaves the entry as it was). The next refresh of any mcp-auth process — the keeper's pass
        // included — finds the mark and removes the token from the entry then (settleSpent).
        await noteSpent(run, rt, cause);
      } else {
        forgetSent(run.key, rt);
        await settleIntent(run, rt);
      }
      throw e;
    }
    await stepHook(deps, 'body-read');
    crash(deps, 'after-response');
    return await persist(run, lock, e1, rt, tokens, () => revokeTokens(as, creds, tokens, run.http), waitedMs);
  } finally {
    release();
  }
}

/**
 * After a failed token request: may the refresh token sent be spent? `unstored`: a 200 came with nothing
 * usable. `answer-lost`: the status line said 200 and the body was lost, the request may have reached the
 * server and no status line came (time-out, broken connection), or a 5xx without the server's own
 * `temporarily_unavailable` came back (a gateway's 502/504 after the server rotated). Nothing spent: a 4xx,
 * a 5xx `temporarily_unavailable`, or a request that never left (refused connection, unknown host, refused
 * URL, never sent at all).
 */
function mayHaveSpent(e: unknown, sent: boolean): SpentCause | undefined {
  if (!sent) return undefined;
  const d = isMcpAuthError(e) ? e.details : {};
  if (d.status === 200) return e instanceof McpAuthError && e.code === 'bad-response' ? 'unstored' : 'answer-lost';
  // 4xx: the server refused it. 5xx: handled or not, only the server can say — `temporarily_unavailable` says
  // not; anything else (a gateway's 502/504, a crash after the rotation was committed) may have spent it
  if (typeof d.status === 'number' && d.status < 500) return undefined;
  if (typeof d.status === 'number') return d.oauthError === 'temporarily_unavailable' ? undefined : 'answer-lost';
  if (d.notSent) return undefined;
  return 'answer-lost';
}

function failed(run: Run, e: unknown): RefreshOutcome {
  const m = isMcpAuthError(e) ? e : new McpAuthError('internal', (e as Error)?.message ?? String(e));
  // the outcome carries the failure and every caller reports it (CLI: one stderr line): logged, not warned twice
  run.log.info(`failed: ${m.code}: ${m.message}`);
  return { name: run.server.name, result: 'failed', code: m.code, message: m.message };
}

/** A mark (this process's, or in the notes) or an unresolved intent record of another process for `rt`. */
async function spentOf(run: Run, rt: string): Promise<{ cause: SpentCause; at: number } | undefined> {
  const here = spentHere.get(run.key);
  if (here?.rt === rt) return { cause: here.cause, at: here.at };
  return spentCause(run.deps.paths, run.key, rt);
}

const SPENT_WORDS: Record<SpentCause, string> = {
  unstored: 'was already sent and answered 200, but that answer could not be stored',
  'answer-lost': 'was already sent, and the answer was lost on its way',
  interrupted: 'was being sent by a refresh that was interrupted before it could store the answer',
};

/**
 * 3b: the stored refresh token may be spent. Never send it; drop it from the entry (only while the entry still
 * holds it) so that no refresher — Claude Code included — replays it and gets the grant revoked. The access
 * token stays while it lasts. The mark stays in our notes (with the access token's fingerprint), so the row
 * keeps saying why a sign-in is needed.
 */
async function settleSpent(
  run: Run,
  e1: TokenEntry,
  rt: string,
  spent: { cause: SpentCause; at: number },
): Promise<RefreshOutcome> {
  await markSpent(run.deps.paths, run.key, rt, spent.at, spent.cause).catch(() => {});
  await dropSpent(run, e1, rt, spent.cause);
  throw new McpAuthError(
    'token-spent',
    `the stored refresh token of ${run.server.name} ${SPENT_WORDS[spent.cause]}; sending it again could get the grant revoked (sign in again)`,
  );
}

/**
 * Remove a (possibly) spent refresh token from the entry, only while the entry still holds it, under the storage
 * lock; the access token stays while it lasts. Best effort: the mark in our notes stands either way.
 */
async function dropSpent(run: Run, e1: TokenEntry, rt: string, cause: SpentCause): Promise<void> {
  const { deps, log, key } = run;
  try {
    const r = await updateEntry(
      deps.store,
      deps.paths,
      key,
      (cur) => {
        if (!cur || cur.refreshToken !== rt) return null;
        const next: TokenEntry = { ...cur };
        delete next.refreshToken;
        return next;
      },
      { logger: log, timeoutMs: 5_000 },
    );
    if (r.written) {
      await noteSpentAccess(deps.paths, key, rt, e1.accessToken ?? '').catch(() => {});
      log.warn(
        `the stored refresh token ${SPENT_WORDS[cause]}: removed it from the entry so that nobody replays it (sign in again)`,
      );
    }
  } catch (e) {
    log.warn('could not remove the possibly spent refresh token from the entry', e);
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
  e1: TokenEntry,
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
        // only a missing key means signed out (our logout and `claude mcp logout` delete the key)
        if (!cur) {
          fate = 'gone';
          return null;
        }
        // Marked signed out meanwhile by another process (Claude Code's 401-path refresh lost to ours and
        // it set accessToken "", no refreshToken), or our own possibly-spent mark dropped the refresh token:
        // the same client's entry minus its refresh token. Ours is the live generation: it gets our tokens.
        const markedMeanwhile =
          !cur.refreshToken &&
          (!cur.accessToken || cur.accessToken === e1.accessToken) &&
          (cur.clientId ?? '') === (e1.clientId ?? '');
        if (cur.refreshToken !== rt && !markedMeanwhile) {
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
      { logger: log, timeoutMs: Math.min(deps.lockTimeoutMs ?? PERSIST_LOCK_WAIT_MS, PERSIST_LOCK_WAIT_MS) },
      {
        // No refresh-lock guard here, on purpose: the answer is already issued and the token we sent is
        // spent, so dropping the answer would leave a spent token for the next refresh to replay. Writing only
        // while the entry still holds the generation we sent (above, under the storage lock) is what keeps a
        // newer generation safe, whoever holds the refresh lock now.
        afterLock: TEST_HOOKS ? () => stepHook(deps, 'storage-lock-taken') : undefined,
        beforeRename: TEST_HOOKS
          ? async () => {
              crash(deps, 'mid-write');
              await stepHook(deps, 'written');
            }
          : undefined,
        afterWrite: TEST_HOOKS ? () => stepHook(deps, 'renamed') : undefined,
      },
    );
  } catch (e) {
    await noteSpent(run, rt, 'unstored');
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
    await settleIntent(run, rt);
    throw new McpAuthError('no-credentials', `${server.name} was signed out while the refresh was under way`);
  }
  if (fate === 'superseded') {
    log.warn('a newer generation was stored while the refresh was under way: kept it');
    await settleIntent(run, rt);
    return await finish(
      run,
      { name: server.name, result: 'adopted', expiresAt: current?.expiresAt, waitedMs },
      'changed',
    );
  }
  noteIssued(tokens.accessToken, issuedAt, expiresAt);
  await settleIntent(run, rt);
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
  // the keychain's overflow item is lost or unreadable: an entry without a usable token there may live in it
  if (snap.overflowError && !e?.accessToken)
    throw new McpAuthError(snap.overflowError.code, snap.overflowError.message);
  if (e !== undefined) {
    const problem = entryProblem(e);
    if (problem) throw new McpAuthError('store-invalid', `the stored entry "${key}" is malformed (${problem})`);
  }
  return { entry: e, staticSecret: typeof s === 'string' ? s : undefined };
}

async function readEntry(store: StoreBackend, key: string): Promise<TokenEntry | undefined> {
  return (await readEntryAndSecret(store, key)).entry;
}
