import { createHash } from 'node:crypto';
import type { TokenEntry } from './store/types';

/**
 * When a token should be refreshed. Claude Code refreshes when ≤ 300 s remain (the window). A token that
 * lives no longer than the window (Keycloak's default is 5 min) would then be "expiring" from birth, and
 * every pass would POST again: a refresh storm. So:
 *   - due when ≤ min(window, half the token's lifetime) remains, and
 *   - not again within max(30 s, half its lifetime) of its issuance,
 *   - always due once expired (or with no access token), and when forced.
 * The lifetime comes from the access token itself when it is a JWT with `iat` and `exp` (read, not
 * validated: only for timing), or from this process having stored it; else it is unknown and Claude Code's
 * window alone applies.
 */
export interface TokenTiming {
  /** epoch ms the access token was issued */
  issuedAt?: number;
  /** ms between issuance and expiry */
  lifetimeMs?: number;
}

export const MIN_REFRESH_INTERVAL_MS = 30_000;

/** Tokens this process stored, by fingerprint: their issuance and lifetime as we saw them. */
const seen = new Map<string, Required<TokenTiming> & { expiresAt: number }>();

const fingerprint = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 32);

/** Remember when a token we just stored was issued (opaque tokens carry no `iat`). */
export function noteIssued(accessToken: string, issuedAt: number, expiresAt: number | undefined): void {
  if (!accessToken || expiresAt === undefined) return;
  if (seen.size > 1000) seen.clear();
  seen.set(fingerprint(accessToken), { issuedAt, lifetimeMs: Math.max(0, expiresAt - issuedAt), expiresAt });
}

/** How far the stored `expiresAt` may differ from the JWT's `exp` for the JWT to describe this entry. */
const EXP_AGREEMENT_MS = 60_000;

function jwtTimes(token: string, storedExpiresAt: number | undefined): TokenTiming {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1].length > 8192) return {};
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { iat?: unknown; exp?: unknown };
    const iat = typeof claims.iat === 'number' && Number.isFinite(claims.iat) ? claims.iat * 1000 : undefined;
    const exp = typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
    // the store's expiresAt is what Claude Code goes by; a JWT that disagrees with it says nothing about it
    if (exp !== undefined && storedExpiresAt !== undefined && Math.abs(exp - storedExpiresAt) > EXP_AGREEMENT_MS)
      return {};
    return { issuedAt: iat, lifetimeMs: iat !== undefined && exp !== undefined && exp > iat ? exp - iat : undefined };
  } catch {
    return {};
  }
}

export function tokenTiming(entry: Pick<TokenEntry, 'accessToken' | 'expiresAt'>): TokenTiming {
  const at = entry.accessToken;
  if (!at) return {};
  const mine = seen.get(fingerprint(at));
  // what we stored describes the entry only while its expiresAt is still the one we stored
  if (mine && mine.expiresAt === entry.expiresAt) return { issuedAt: mine.issuedAt, lifetimeMs: mine.lifetimeMs };
  const j = jwtTimes(at, typeof entry.expiresAt === 'number' ? entry.expiresAt : undefined);
  if (
    j.lifetimeMs === undefined &&
    j.issuedAt !== undefined &&
    typeof entry.expiresAt === 'number' &&
    entry.expiresAt > j.issuedAt
  ) {
    j.lifetimeMs = entry.expiresAt - j.issuedAt;
  }
  return j;
}

/**
 * The time from which a refresh is due (epoch ms); 0 = due now whatever the clock says (no access token);
 * undefined = never (no expiry).
 */
export function refreshDueAt(
  entry: Pick<TokenEntry, 'accessToken' | 'expiresAt'>,
  windowMs: number,
): number | undefined {
  if (!entry.accessToken) return 0;
  if (typeof entry.expiresAt !== 'number') return undefined;
  const { issuedAt, lifetimeMs } = tokenTiming(entry);
  if (lifetimeMs === undefined) return entry.expiresAt - windowMs;
  let due = entry.expiresAt - Math.min(windowMs, lifetimeMs / 2);
  if (issuedAt !== undefined) due = Math.max(due, issuedAt + Math.max(MIN_REFRESH_INTERVAL_MS, lifetimeMs / 2));
  // an expired token is always due
  return Math.min(due, entry.expiresAt);
}

export function isRefreshDue(
  entry: Pick<TokenEntry, 'accessToken' | 'expiresAt'>,
  now: number,
  windowMs: number,
): boolean {
  const at = refreshDueAt(entry, windowMs);
  return at !== undefined && now >= at;
}
