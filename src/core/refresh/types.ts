import type { ServerConfig } from '../config/types';
import { type ErrorCode } from '../errors';
import { type Logger } from '../log';
import { type TokenWarning } from '../oauth/client';
import { type FetchLike } from '../oauth/http';
import type { ClaudePaths } from '../paths';
import type { StoreBackend } from '../store/backend';
// The refresh's types: what a caller passes (RefreshDeps), what it gets back (RefreshOutcome), the test steps.

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

/** Everything one refresh needs, built once. */
export interface Run {
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
