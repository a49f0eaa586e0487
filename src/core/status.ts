import { ttlFor, isFresh, type CacheEntry } from './cache/needsAuthCache';
import { connectorStatus } from './connectors';
import type { ServerConfig } from './config/types';
import type { LockHolderInfo } from './lock/lock';
import { entryProblem } from './store/validate';
import { refreshDueAt } from './timing';
import type { TokenEntry } from './store/types';
import { isRemote } from './config/types';
import type { ErrorCode } from './errors';
import type { AuthState, CacheInfo, ServerStatus, StatusReason } from './statusTypes';

export type { AuthState, CacheInfo, ServerStatus, StatusReason } from './statusTypes';

export interface StatusSettings {
  /** Claude Code refreshes when ≤ 300 s remain */
  refreshWindowMs: number;
}

export const DEFAULT_SETTINGS: StatusSettings = { refreshWindowMs: 300_000 };

export interface CredentialInput {
  entry?: unknown;
  /** the store as a whole could not be read */
  error?: { code: ErrorCode; message: string };
}

export interface CacheInput {
  entry?: CacheEntry;
  error?: { code: ErrorCode; message: string };
}

/** The one place that decides a server's state. Pure: no I/O, `now` injected. */
export function computeStatus(
  server: ServerConfig,
  credential: CredentialInput,
  cacheEntry: CacheInput,
  lock: LockHolderInfo | undefined,
  now: number,
  settings: StatusSettings = DEFAULT_SETTINGS,
): ServerStatus {
  const base = { hasRefreshToken: false } as const;
  if (server.approval === 'pending') return { ...base, state: 'not-approved', reason: 'awaiting-approval' };
  if (server.problem) {
    return {
      ...base,
      state: 'error',
      reason: server.problem.code === 'unset-variable' ? 'unset-variable' : 'config-error',
      code: server.problem.code,
      message: server.problem.message,
      ...(server.problem.variables ? { variables: server.problem.variables } : {}),
    };
  }
  if (server.transport === 'claudeai-proxy') return connectorStatus(cacheEntry.entry, now, cacheEntry.error);
  if (server.transport === 'stdio' || server.transport === 'sdk') return { ...base, state: 'no-auth', reason: 'stdio' };
  if (!isRemote(server)) return { ...base, state: 'no-auth', reason: 'unsupported-transport' };
  if (credential.error) {
    return {
      ...base,
      state: 'error',
      // Windows Credential Manager holds Claude Code's tokens (store/credman.ts): the file is not what it reads
      reason: credential.error.code === 'store-credman' ? 'credman' : 'store-error',
      code: credential.error.code,
      message: credential.error.message,
    };
  }
  if (cacheEntry.error) {
    return {
      ...base,
      state: 'error',
      reason: 'cache-error',
      code: cacheEntry.error.code,
      message: cacheEntry.error.message,
    };
  }
  const raw = credential.entry;
  if (raw !== undefined) {
    const problem = entryProblem(raw);
    if (problem) return { ...base, state: 'error', reason: 'entry-invalid', code: 'store-invalid', message: problem };
  }
  const entry = raw as TokenEntry | undefined;
  let cache: CacheInfo | undefined;
  if (cacheEntry.entry) {
    const ttlMs = ttlFor(server, cacheEntry.entry);
    cache = {
      timestamp: cacheEntry.entry.timestamp,
      ttlMs,
      ageMs: now - cacheEntry.entry.timestamp,
      fresh: isFresh(cacheEntry.entry, ttlMs, now),
    };
  }
  const hasRefreshToken = typeof entry?.refreshToken === 'string' && entry.refreshToken.length > 0;
  const extra: Omit<ServerStatus, 'state' | 'reason'> = {
    hasRefreshToken,
    cache,
    lock: lock?.held ? lock : undefined,
    expiresAt: typeof entry?.expiresAt === 'number' ? entry.expiresAt : undefined,
    scope: entry?.scope,
    clientId: entry?.clientId ?? server.oauth?.clientId,
    client: entry?.clientId ? 'dynamic' : server.oauth?.clientId ? 'static' : undefined,
  };

  // What the stored token alone says.
  let token: { state: AuthState; reason: StatusReason };
  if (!entry) {
    const hasStaticAuth =
      server.headers && Object.keys(server.headers).some((h) => h.toLowerCase() === 'authorization');
    if (hasStaticAuth || server.headersHelper) token = { state: 'no-auth', reason: 'static-headers' };
    else if (server.oauth || cache?.fresh)
      token = { state: 'needs-auth', reason: cache?.fresh ? 'cache-entry' : 'no-entry' };
    // never contacted (no stub, no entry, no fresh cache entry): whether it needs a sign-in is not known yet
    else token = { state: 'unchecked', reason: 'not-checked' };
  } else if (!entry.accessToken) {
    if (hasRefreshToken) token = { state: 'expired', reason: 'expired-refreshable' };
    else if (entry.discoveryState?.tokenlessRejectedAt !== undefined) token = { state: 'needs-auth', reason: 'stub' };
    else if (entry.expiresAt === 0) token = { state: 'needs-auth', reason: 'signed-out' };
    else token = { state: 'needs-auth', reason: 'stub' };
  } else if (extra.expiresAt === undefined) {
    token = { state: 'signed-in', reason: 'no-expiry' };
  } else {
    const left = extra.expiresAt - now;
    const dueAt = refreshDueAt(entry, settings.refreshWindowMs) ?? Infinity;
    extra.refreshDueAt = dueAt;
    if (left > 0 && now < dueAt) token = { state: 'signed-in', reason: 'valid' };
    else if (left > 0)
      token = { state: 'expiring', reason: hasRefreshToken ? 'in-window' : 'in-window-no-refresh-token' };
    else if (hasRefreshToken) token = { state: 'expired', reason: 'expired-refreshable' };
    else token = { state: 'needs-auth', reason: 'no-refresh-token' };
  }

  const usable = token.state === 'signed-in' || token.state === 'expiring' || token.state === 'expired';
  // step-up before blocked: Claude Code's needs-auth entry (90 s) is then right, and clearing it would not help
  const missing = usable ? missingScopes(entry?.stepUpScope, entry?.scope) : [];
  let out: ServerStatus;
  if (missing.length) out = { ...extra, state: 'needs-scope', reason: 'step-up', missingScopes: missing };
  else if (cache?.fresh && usable) out = { ...extra, state: 'blocked', reason: 'cache-entry' };
  else out = { ...extra, ...token };
  // a refresh under way: the state while nothing is wrong; only a detail of a problem, which it does not fix
  if (lock?.held && !lock.stale) {
    if (needsAttention(out.state)) return { ...out, refreshInProgress: true };
    return { ...extra, state: 'refreshing', reason: 'lock-held', refreshInProgress: true };
  }
  return out;
}

/** Space-separated scopes, in order, without duplicates. */
export function scopeList(scope: string | undefined): string[] {
  return [...new Set((scope ?? '').split(/\s+/).filter(Boolean))];
}

/**
 * The scopes of `required` (Claude Code's `stepUpScope`) that `granted` (the token's `scope`) lacks.
 * `offline_access` is not a scope of the resource (Claude Code appends it to every step-up request): never "lacking".
 */
export function missingScopes(required: string | undefined, granted: string | undefined): string[] {
  const have = new Set(scopeList(granted));
  return scopeList(required).filter((s) => s !== 'offline_access' && !have.has(s));
}

/** A server new Claude Code sessions cannot use until the user acts (sign in, grant more scopes, or clear a stale entry). */
export function needsAttention(s: AuthState): boolean {
  return s === 'needs-auth' || s === 'blocked' || s === 'needs-scope';
}

/** What makes `status` and `doctor` exit 1: needs attention, or a file that cannot be read. */
export function isProblem(s: AuthState): boolean {
  return needsAttention(s) || s === 'error';
}

/** Usable: an access token that has not expired, or a refresh token to get one with. */
export function hasUsableToken(e: TokenEntry | undefined, now: number): boolean {
  if (!e) return false;
  if (typeof e.refreshToken === 'string' && e.refreshToken !== '') return true;
  return (
    typeof e.accessToken === 'string' &&
    e.accessToken !== '' &&
    (e.expiresAt === undefined || (typeof e.expiresAt === 'number' && e.expiresAt > now))
  );
}

/**
 * A row whose stored refresh token may be spent (an unresolved intent record whose refresh is not under way,
 * or a spent mark naming it) needs a sign-in, whatever the token's times say: the token is never sent again,
 * and the access token lasts only until it expires. A refresh in progress and errors keep their state.
 */
export function withSpentToken(
  status: ServerStatus,
  spent: { cause: 'unstored' | 'answer-lost' | 'interrupted'; at: number } | undefined,
): ServerStatus {
  if (!spent || status.state === 'error' || status.state === 'refreshing' || status.state === 'not-approved')
    return status;
  return { ...status, state: 'needs-auth', reason: 'token-spent', spent };
}
