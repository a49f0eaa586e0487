import type { ServerConfig } from '../config/types';
import type { ErrorCode } from '../errors';
import type { InFlight } from '../inflight';
import type { AuthModel, ModelIssue } from '../model';
import type { RefreshDeps } from '../refresh';
import type { StoreBackend } from '../store/backend';
import type { ProbeResult } from './probe';
import type { KeptReason } from './staleness';

/** One thing the keeper did or decided (its `action` event). */
export type KeeperAction =
  | {
      type: 'unblocked';
      name: string;
      at: number;
      because: 'accepted' | 'token-changed';
      probe?: ProbeResult;
      changedAfter?: number;
      entryTimestamp: number;
    }
  | { type: 'refreshed'; name: string; at: number; expiresAt?: number; clearedCacheEntries: string[] }
  | { type: 'adopted'; name: string; at: number; expiresAt?: number; clearedCacheEntries: string[] }
  | { type: 'kept'; name: string; at: number; reason: KeptReason; entryTimestamp: number }
  | { type: 'failed'; name: string; at: number; code: ErrorCode; message: string; retryAt?: number };

/** What the keeper passes on to each refresh is named as the refresh names it (RefreshDeps). */
export interface KeeperOptions extends Pick<
  RefreshDeps,
  'paths' | 'logger' | 'fetch' | 'now' | 'refreshWindowMs' | 'lockTimeoutMs' | 'httpTimeoutMs'
> {
  /** the project folder whose servers to keep (Claude Code's resolution: local and project scope follow it) */
  cwd: string;
  env?: NodeJS.ProcessEnv;
  store?: StoreBackend;
  probeTimeoutMs?: number;
  /** refresh tokens as they fall due (default true; mcpAuth.proactiveRefresh) */
  proactiveRefresh?: boolean;
  /** remove stale needs-auth entries (default true; mcpAuth.autoClearStaleEntries) */
  autoClearStaleEntries?: boolean;
  /** debounce of file events, ms (default 100) */
  debounceMs?: number;
  /** upper bound of the random delay before a proactive refresh, ms (default 5000) */
  jitterMs?: number;
  /** the probe (default: probe.ts); injectable for tests */
  probe?: (server: ServerConfig, accessToken: string) => Promise<ProbeResult>;
  /** may the keeper act on this server? (VS Code's Restricted Mode: not the folder's own .mcp.json servers) */
  canAct?: (server: ServerConfig) => boolean;
  /** the host's registry of operations under way (the extension's deactivate settles it): refreshes are tracked there too */
  operations?: InFlight;
  /** test-only switches of RefreshDeps */
  testHooks?: RefreshDeps['testHooks'];
}

export interface PassSummary {
  model: AuthModel;
  /** servers still `blocked` after the pass (the keeper could not prove their entry stale) */
  blocked: string[];
  failed: string[];
}

/** Events: `action` (one per thing done or decided), `model` (every reload), `issues` (the set of file problems changed: same codes and words as `status`). */
export interface KeeperEvents {
  action: [KeeperAction];
  model: [AuthModel];
  issues: [ModelIssue[]];
}
