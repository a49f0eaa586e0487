import { assertWritableStore } from '../store/credman';
import type { ServerConfig } from '../config/types';
import { McpAuthError } from '../errors';
import { inspectLock, refreshLock } from '../lock/lock';
import { nullLogger, rememberSecret } from '../log';
import { spentCause } from '../notes';
import { authServerForEntry } from '../oauth/discovery';
import { makeHttp, type AuthorizationServer } from '../oauth/client';
import { serverKey } from '../store/key';
import type { TokenEntry } from '../store/types';
import { isRefreshDue } from '../timing';
import { TEST_HOOKS } from '../build';
import { isRemote } from '../config/types';
import type { RefreshDeps, RefreshOutcome, Run } from './types';
import { calledOff, crash, stepHook } from './hooks';
import { failed, finish, lockOrAdopt, metadataCacheOf, readEntry, readEntryAndSecret, usable } from './common';
import { SPENT_WORDS, settleSpent, spentOf } from './spent';
import { postAndPersist } from './persist';
// The coordinated refresh of one server: the orchestrator. Its steps live beside it (types, common, spent, persist, hooks).

export type { CrashPoint, RefreshDeps, RefreshOutcome, RefreshResult, RefreshStep } from './types';
export { heldSectionBoundMs } from './persist';

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
      as = await authServerForEntry(server, e, run.http, metadataCacheOf(run));
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
        const { entry: e1, staticSecret, unwritable } = await readEntryAndSecret(deps.store, run.key);
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
        // the answer must be storable before the token is spent (a lost keychain overflow refuses every write)
        if (unwritable) throw unwritable;
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
