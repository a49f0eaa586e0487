import { McpAuthError, isMcpAuthError } from '../errors';
import { type HeldLock } from '../lock/lock';
import { fingerprint, recordClientRejected, recordIntent, recordTokenWarnings } from '../notes';
import { discoverAuthorizationServer, refreshGrant, type AuthorizationServer, type TokenSet } from '../oauth/client';
import { holdSignals } from '../signals';
import { forgetDiscovery, rememberDiscovery } from '../oauth/metadataCache';
import { discoveryUrlOf, isDefaultEndpoints } from '../oauth/discovery';
import { type FetchLike } from '../oauth/http';
import { revokeTokens } from '../oauth/revoke';
import type { TokenEntry } from '../store/types';
import { persistGrantResult, persistWorstCaseMs, updateEntry } from '../store/write';
import { SIDE_LOCK_TIMEOUT_MS } from '../lock/sideLock';
import { noteIssued } from '../timing';
import { TEST_HOOKS } from '../build';
import type { RefreshOutcome, Run } from './types';
import { crash, stepHook } from './hooks';
import { finish, metadataCacheOf, readEntry } from './common';
import { forgetSent, mayHaveSpent, noteSent, noteSpent, sentBefore, settleIntent } from './spent';
// Steps 4–6 of the refresh: with signals held, the intent record, the POST, storing the answer (or marking the
// token sent), and invalid_grant.

/** How long the storage lock is waited for when persisting an answer (each attempt). */
export const PERSIST_LOCK_WAIT_MS = 15_000;

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
 * 4–6: with termination signals held, record the intent, POST, persist, resolve. Every way out of here leaves
 * the refresh token sent either stored-over (the answer persisted), known unspent (intent resolved), or marked
 * (possibly) spent — and a SIGKILL anywhere in between leaves the intent record, which counts as a mark.
 */
export async function postAndPersist(
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
        const moved = await movedEndpoint(run, e1, as, rt);
        if (moved) {
          // refused by an endpoint the server no longer names: not the end of the grant. Nothing was spent there
          forgetSent(run.key, rt);
          await settleIntent(run, rt);
          throw new McpAuthError(
            'endpoint-moved',
            `${server.name}: the authorization server's token endpoint moved to ${moved}; the old one refused the refresh token, the next refresh uses the new one`,
          );
        }
        const out = await onInvalidGrant(run, rt, e);
        await settleIntent(run, rt);
        return out;
      }
      // the endpoint may have moved since the metadata was cached: look it up again next time
      await forgetDiscovery(discoveryUrlOf(run.server, e1), metadataCacheOf(run));
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
    const out = await persist(run, lock, e1, rt, tokens, () => revokeTokens(as, creds, tokens, run.http), waitedMs);
    // the token endpoint answered 200: its metadata is good for the others (only now, never on an error path)
    if (!isDefaultEndpoints(as)) await rememberDiscovery(discoveryUrlOf(run.server, e1), as, metadataCacheOf(run));
    return out;
  } finally {
    release();
  }
}

export function postFetch(run: Run): FetchLike {
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
export async function persist(
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

export async function onInvalidGrant(run: Run, rtUsed: string, err: McpAuthError): Promise<RefreshOutcome> {
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

/** Refresh tokens (by key and fingerprint) that already met a moved endpoint in this process. */
const movedOnce = new Set<string>();

/**
 * After an invalid_grant: when the metadata came by discovery (perhaps from the shared cache, kept a day), the
 * copy is dropped and the server asked again, no token sent. The token endpoint it names now, if another than
 * the one that refused: a moved endpoint is not a sign-out. Undefined otherwise (or when the lookup fails).
 */
async function movedEndpoint(
  run: Run,
  e1: TokenEntry,
  as: AuthorizationServer,
  rt: string,
): Promise<string | undefined> {
  const url = discoveryUrlOf(run.server, e1);
  if (!url) return undefined;
  await forgetDiscovery(url, metadataCacheOf(run));
  // once per refresh token: a document that keeps naming other endpoints (a rollout, a hostile server) must not
  // keep a dead token from being taken as the sign-out it is
  const once = `${run.key}\0${fingerprint(rt)}`;
  if (movedOnce.has(once)) return undefined;
  try {
    const now = await discoverAuthorizationServer(url, run.http);
    if (typeof now.token_endpoint !== 'string' || now.token_endpoint === as.token_endpoint) return undefined;
    movedOnce.add(once);
    if (movedOnce.size > 64) movedOnce.delete(movedOnce.values().next().value as string);
    return new URL(now.token_endpoint).href; // as parsed: no control characters from the document
  } catch (e) {
    run.log.warn('could not look the authorization server up again after invalid_grant', e);
    return undefined;
  }
}
