/** The status model's types: a server's state, why, and what a row carries (decided in status.ts). */
import type { ErrorCode } from './errors';
import type { LockHolderInfo } from './lock/lock';

/**
 * `not-approved`: a .mcp.json server Claude Code has not approved for this folder (it does not connect it; we never act on it).
 * `unchecked`: a remote server with no OAuth data and no static credentials that nobody has contacted yet: it may need
 * no sign-in, or it may answer 401 on first contact (`doctor --probe` asks it). Not `no-auth`, which reads as
 * "needs no sign-in".
 * `needs-scope`: step-up — the server answered 403 `insufficient_scope` (Claude Code recorded the scopes it asked for
 * as `stepUpScope`) and the stored token lacks some of them: a sign-in for the union of scopes is needed.
 */
export type AuthState =
  | 'signed-in'
  | 'expiring'
  | 'expired'
  | 'needs-auth'
  | 'blocked'
  | 'needs-scope'
  | 'refreshing'
  | 'no-auth'
  | 'unchecked'
  | 'not-approved'
  | 'error';

/** Machine codes saying why; words come from src/cli and src/extension. */
export type StatusReason =
  | 'valid'
  | 'no-expiry'
  | 'in-window'
  | 'in-window-no-refresh-token'
  | 'expired-refreshable'
  | 'no-entry'
  | 'stub'
  | 'signed-out'
  | 'no-refresh-token'
  | 'cache-entry'
  | 'lock-held'
  | 'stdio'
  | 'static-headers'
  | 'no-oauth-data'
  | 'not-checked'
  | 'unset-variable'
  | 'credman'
  | 'unsupported-transport'
  | 'store-error'
  | 'cache-error'
  | 'config-error'
  | 'entry-invalid'
  | 'awaiting-approval'
  | 'step-up'
  /** the stored refresh token may be spent (an interrupted refresh, a lost or unstorable answer): sign in */
  | 'token-spent'
  /** claude.ai connector: a needs-auth entry with its id stands — new sessions skip it until signed in on claude.ai */
  | 'claudeai-sign-in'
  /** claude.ai connector: its needs-auth entry is expired or has no id, so Claude Code ignores it */
  | 'claudeai-entry-ignored'
  /** claude.ai connector without a needs-auth entry: Claude Code connects it with the claude.ai login */
  | 'claudeai-connector';

export interface CacheInfo {
  timestamp: number;
  ttlMs: number;
  ageMs: number;
  fresh: boolean;
  /** claude.ai connectors: why Claude Code ignores the entry (past its TTL, or no connector id) */
  ignored?: 'expired' | 'no-id';
}

export interface ServerStatus {
  state: AuthState;
  reason: StatusReason;
  /** error code when state is `error` */
  code?: ErrorCode;
  /** `unset-variable`: the `${VAR}`s of the url or headers that are not set in this process */
  variables?: string[];
  message?: string;
  expiresAt?: number;
  /** from when a refresh is due (timing.ts: the window, shortened for short-lived tokens) */
  refreshDueAt?: number;
  hasRefreshToken: boolean;
  cache?: CacheInfo;
  lock?: LockHolderInfo;
  /**
   * The refresh lock is held and not stale. On a row that needs attention (needs-auth, blocked, needs-scope) the
   * state stays that problem and this is a detail ("refresh in progress"): a lock proves nothing about the
   * outcome, and a dead Claude Code's lock would otherwise hide the problem until it is stale (60 s).
   */
  refreshInProgress?: boolean;
  /** the stored token's scope, as stored */
  scope?: string;
  /** `needs-scope`: the scopes the server asked for (stepUpScope) that the stored token lacks */
  missingScopes?: string[];
  clientId?: string;
  /** where the client came from: dynamic registration (stored), static config */
  client?: 'dynamic' | 'static';
  /** `token-spent`: why the stored refresh token is never sent again, and since when */
  spent?: { cause: 'unstored' | 'answer-lost' | 'interrupted'; at: number };
}
