/** Stable machine codes. Words for people come from src/cli or src/extension, never from here. */
export type ErrorCode =
  | 'config-parse'
  | 'config-invalid'
  | 'config-read'
  | 'store-parse'
  | 'store-invalid'
  | 'store-read'
  | 'store-write'
  | 'store-credman'
  | 'store-overflow-missing'
  | 'store-overflow-unreadable'
  | 'store-too-large'
  | 'keychain-locked'
  | 'keychain-error'
  | 'cache-parse'
  | 'cache-invalid'
  | 'cache-read'
  | 'cache-write'
  | 'invalid-url'
  | 'unknown-server'
  | 'unset-variable'
  | 'not-approved'
  | 'not-remote'
  | 'no-credentials'
  | 'no-refresh-token'
  | 'lock-timeout'
  | 'lock-compromised'
  | 'lock-lost'
  | 'token-spent'
  | 'intent-write'
  | 'invalid-grant'
  | 'server-error'
  | 'network'
  | 'timeout'
  | 'bad-response'
  | 'response-too-large'
  | 'discovery-failed'
  | 'endpoint-moved'
  | 'issuer-mismatch'
  | 'insecure-endpoint'
  | 'redirect-loop'
  | 'state-mismatch'
  | 'authorization-denied'
  | 'login-timeout'
  | 'registration-failed'
  | 'bad-callback'
  | 'device-unsupported'
  | 'claude-not-found'
  | 'claudeai-connector'
  | 'cancelled'
  | 'usage'
  | 'internal';

export interface ErrorDetails {
  file?: string;
  line?: number;
  column?: number;
  server?: string;
  /** the HTTP status line received (set also when the body was then lost) */
  status?: number;
  oauthError?: string;
  /** the request certainly never reached the server (refused connection, unknown host, refused URL) */
  notSent?: boolean;
  /** cache-write: `busy` = the file kept changing under us (Claude Code writing it), so nothing was written */
  reason?: 'busy';
}

export class McpAuthError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'McpAuthError';
    this.code = code;
    this.details = details;
  }
}

export function isMcpAuthError(e: unknown): e is McpAuthError {
  return e instanceof McpAuthError;
}

/** Node's errno code of an error, if any. */
export function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string'
    ? (e as { code: string }).code
    : undefined;
}
