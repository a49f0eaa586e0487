import { McpAuthError, isMcpAuthError } from '../errors';
import { fingerprint, markSpent, noteSpentAccess, resolveIntent, spentCause, type SpentCause } from '../notes';
import type { TokenEntry } from '../store/types';
import { updateEntry } from '../store/write';
import type { RefreshOutcome, Run } from './types';
// (Possibly) spent refresh tokens: this process's guards, the marks in our notes, intent records, settling a
// stored token that may be spent (SECURITY.md, the refresh protocol).

/**
 * Refresh tokens this process sent whose answer it could not store or lost: spent, or possibly spent, at the
 * authorization server. No mcp-auth process sends them again — this one remembers them, others read the mark
 * in our notes file. A newer generation stored by anyone lifts the ban, because the stored token changes.
 */
export const spentHere = new Map<string, { rt: string; cause: SpentCause; at: number }>();

export async function noteSpent(run: Run, rt: string, cause: SpentCause): Promise<void> {
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
export async function settleIntent(run: Run, rt: string): Promise<void> {
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
export const sentHere = new Map<string, string[]>();
export const SENT_KEPT = 8;
export const sentBefore = (key: string, rt: string) => sentHere.get(key)?.includes(fingerprint(rt)) === true;
/** The answer proved the token unspent (a 4xx, `temporarily_unavailable`, a request that never left). */
export function forgetSent(key: string, rt: string): void {
  const fp = fingerprint(rt);
  sentHere.set(
    key,
    (sentHere.get(key) ?? []).filter((f) => f !== fp),
  );
}
export function noteSent(key: string, rt: string): void {
  const list = [...(sentHere.get(key) ?? []), fingerprint(rt)];
  sentHere.set(key, list.slice(-SENT_KEPT));
}

/**
 * After a failed token request: may the refresh token sent be spent? `unstored`: a 200 came with nothing
 * usable. `answer-lost`: the status line said 200 and the body was lost, the request may have reached the
 * server and no status line came (time-out, broken connection), or a 5xx without the server's own
 * `temporarily_unavailable` came back (a gateway's 502/504 after the server rotated). Nothing spent: a 4xx,
 * a 5xx `temporarily_unavailable`, or a request that never left (refused connection, unknown host, refused
 * URL, never sent at all).
 */
export function mayHaveSpent(e: unknown, sent: boolean): SpentCause | undefined {
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

/** A mark (this process's, or in the notes) or an unresolved intent record of another process for `rt`. */
export async function spentOf(run: Run, rt: string): Promise<{ cause: SpentCause; at: number } | undefined> {
  const here = spentHere.get(run.key);
  if (here?.rt === rt) return { cause: here.cause, at: here.at };
  return spentCause(run.deps.paths, run.key, rt);
}

export const SPENT_WORDS: Record<SpentCause, string> = {
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
export async function settleSpent(
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
export async function dropSpent(run: Run, e1: TokenEntry, rt: string, cause: SpentCause): Promise<void> {
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
