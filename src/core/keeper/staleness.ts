import { createHash } from 'node:crypto';
import type { ProbeResult } from './probe';

/**
 * The one truthful staleness rule (design.md "Auto-unblock"; issue 13 item 1). A fresh needs-auth entry for
 * server S is stale — Claude Code would skip S although S would work — when a usable token is stored for S
 * and either
 *   (a) S accepts that token now: a probe (probe.ts) answered 2xx, no earlier than the entry was written; or
 *   (b) S's own token changed after the entry was written, as seen by this long-lived process.
 * Never the store file's mtime: any write to any key moves it, and the keychain has none.
 *
 * (b), precisely: each time this process reads the store it notes, per key, the token's fingerprint and the
 * time the read *started*. When the fingerprint differs from the previous read's, the new token was written
 * after the previous read started (`changedAfter`). An entry written no later than that is older than the
 * token. (Using the time we *noticed* the change instead would be wrong: Claude Code may store a token and,
 * failing with it, write the entry 50 ms later, both before our debounced read.) The first read of a key
 * is a baseline: it proves nothing.
 *
 * Loop guard: an entry we removed that comes back with a newer timestamp while the token is unchanged means
 * Claude Code really failed with this token: it stays, with that reason, until the token changes.
 *
 * Step-up: a server that answered 403 insufficient_scope (Claude Code recorded `stepUpScope`, and the token lacks
 * some of those scopes: status `needs-scope`) needs a sign-in for more scopes, not an unblock. Its entry is kept
 * without a probe (a server that checks the scope only per tool would accept `initialize` and mislead us).
 *
 * Probes: only for a fresh entry and an access token that is present and unexpired (an expired one is
 * refreshed first: the refresh's own write clears the entry); at most one per server per minute; after a
 * rejection or no answer the gap doubles up to 30 min; a new token starts over (still ≥ 1 min apart).
 */

export const PROBE_MIN_GAP_MS = 60_000;
export const PROBE_MAX_GAP_MS = 30 * 60_000;

export const tokenFingerprint = (accessToken: string): string =>
  createHash('sha256').update(accessToken).digest('hex').slice(0, 32);

/** What this process has seen of one key's token. */
export interface TokenSighting {
  /** fingerprint of the access token; '' = no usable access token stored */
  fingerprint: string;
  /** the token was written after this time (the start of the last read that still saw the previous one); undefined = baseline */
  changedAfter?: number;
  /** start of the last read that saw this token */
  lastSeenAt: number;
}

/** Per key: the sightings of a long-lived process. */
export class TokenSightings {
  private readonly byKey = new Map<string, TokenSighting>();
  /** Record one read of the store that started at `readStartedAt`. */
  observe(key: string, accessToken: string | undefined, readStartedAt: number): TokenSighting {
    const fp = accessToken ? tokenFingerprint(accessToken) : '';
    const prev = this.byKey.get(key);
    let next: TokenSighting;
    if (!prev) next = { fingerprint: fp, lastSeenAt: readStartedAt };
    else if (prev.fingerprint === fp) next = { ...prev, lastSeenAt: Math.max(prev.lastSeenAt, readStartedAt) };
    else next = { fingerprint: fp, changedAfter: prev.lastSeenAt, lastSeenAt: readStartedAt };
    this.byKey.set(key, next);
    return next;
  }
  get(key: string): TokenSighting | undefined {
    return this.byKey.get(key);
  }
}

/** The last probe of one server (its key). */
export interface ProbeMemo {
  fingerprint: string;
  result: ProbeResult;
  /** consecutive probes of this token that did not accept it */
  failures: number;
  /** no probe of this server before this time */
  nextAt: number;
}

/** Update the memo after a probe. */
export function recordProbe(prev: ProbeMemo | undefined, fingerprint: string, result: ProbeResult): ProbeMemo {
  const failures =
    result.verdict === 'accepted' ? 0 : (prev && prev.fingerprint === fingerprint ? prev.failures : 0) + 1;
  const gap = failures === 0 ? PROBE_MIN_GAP_MS : Math.min(PROBE_MIN_GAP_MS * 2 ** (failures - 1), PROBE_MAX_GAP_MS);
  return { fingerprint, result, failures, nextAt: result.at + gap };
}

/** An entry this process removed. */
export interface Removal {
  /** the removed entry's timestamp */
  timestamp: number;
  /** the token it was removed for */
  fingerprint: string;
  at: number;
}

export interface StaleInput {
  now: number;
  /** the needs-auth entry of this name, if any */
  entry?: { timestamp: number; fresh: boolean };
  /** the stored token: `usable` = valid or refreshable; `probeable` = an access token present and unexpired */
  token?: { fingerprint: string; usable: boolean; probeable: boolean };
  sighting?: TokenSighting;
  probe?: ProbeMemo;
  removed?: Removal;
  /** step-up: the scopes the server asked for (stepUpScope) that the stored token lacks */
  missingScopes?: string[];
}

export type KeptReason =
  | { code: 'loop-guard'; removedAt: number }
  | { code: 'needs-scope'; missingScopes: string[] }
  | { code: 'rejected'; probe: ProbeResult; nextProbeAt: number }
  | { code: 'unreachable'; probe: ProbeResult; nextProbeAt: number }
  | { code: 'inconclusive'; probe: ProbeResult; nextProbeAt: number }
  | { code: 'newer-than-probe'; probe: ProbeResult; nextProbeAt: number }
  | { code: 'probe-pending'; nextProbeAt: number };

export type StaleDecision =
  | { action: 'none' }
  | { action: 'remove'; because: 'token-changed'; changedAfter: number }
  | { action: 'remove'; because: 'accepted'; probe: ProbeResult }
  | { action: 'probe' }
  | { action: 'keep'; reason: KeptReason };

/** Pure: what to do about one server's needs-auth entry. */
export function decideStale(i: StaleInput): StaleDecision {
  const { entry, token } = i;
  if (!entry || !entry.fresh || !token || !token.usable || !token.fingerprint) return { action: 'none' };
  // step-up: Claude Code's entry is right until the token has the scopes (a new sign-in, whose write clears it)
  if (i.missingScopes?.length)
    return { action: 'keep', reason: { code: 'needs-scope', missingScopes: i.missingScopes } };
  // loop guard: it came back, newer, while the token stayed what we removed it for
  if (i.removed && entry.timestamp > i.removed.timestamp && i.removed.fingerprint === token.fingerprint) {
    return { action: 'keep', reason: { code: 'loop-guard', removedAt: i.removed.at } };
  }
  // (b) the token changed after the entry was written
  const s = i.sighting;
  if (s && s.fingerprint === token.fingerprint && s.changedAfter !== undefined && entry.timestamp <= s.changedAfter) {
    return { action: 'remove', because: 'token-changed', changedAfter: s.changedAfter };
  }
  // (a) the server accepts it now
  if (!token.probeable) return { action: 'none' };
  const p = i.probe;
  const sameToken = p !== undefined && p.fingerprint === token.fingerprint;
  if (sameToken && p.result.verdict === 'accepted' && p.result.at >= entry.timestamp)
    return { action: 'remove', because: 'accepted', probe: p.result };
  if (!p || i.now >= p.nextAt) return { action: 'probe' };
  // a new token, but this server was asked less than a minute ago: ask again when the gap is over
  if (!sameToken) return { action: 'keep', reason: { code: 'probe-pending', nextProbeAt: p.nextAt } };
  const code = p.result.verdict === 'accepted' ? 'newer-than-probe' : p.result.verdict;
  return { action: 'keep', reason: { code, probe: p.result, nextProbeAt: p.nextAt } as KeptReason };
}
