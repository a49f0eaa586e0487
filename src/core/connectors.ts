/**
 * claude.ai connectors (claude-code-format.md "claude.ai connectors"; claudeai-connectors-recipe.md): MCP servers
 * configured in the user's claude.ai account, named `claude.ai <display name>`, type `claudeai-proxy`. Claude Code
 * fetches them at session start with the claude.ai login; nothing about them is in `mcpServers` or `mcpOAuth`.
 * What we know of them locally, with no network call:
 * - the needs-auth cache: `{"claude.ai GitHub": {"timestamp", "id": "<connector id>", "ttlMs"?}}`, written when the
 *   connector's own sign-in on claude.ai lapsed (a 401 with `X-Mcp-Error-Code`) or on a 403; it makes every new
 *   session skip the connector for `ttlMs ?? 4 h` (60 s skew) — only while its `id` is the connector's one;
 * - `claudeAiMcpEverConnected` in ~/.claude.json: the names of connectors a session connected once.
 * Never their tokens: we never read, refresh, send or write `claudeAiOauth`. The only thing we write is the removal
 * of one connector's needs-auth key (the user says they signed in again on claude.ai), as `claude mcp login` does.
 */
import * as path from 'node:path';
import { CLOCK_SKEW_MS, LONG_TTL_MS, type CacheEntry, type CacheSnapshot } from './cache/needsAuthCache';
import type { ServerConfig } from './config/types';
import type { ErrorCode } from './errors';
import { McpAuthError, isMcpAuthError } from './errors';
import { isPlainObject, readJsonFile } from './fsutil';
import type { ClaudePaths } from './paths';
import type { CacheInfo, ServerStatus } from './statusTypes';

export const CONNECTOR_PREFIX = 'claude.ai ';
export const CLAUDE_AI_ORIGIN = 'https://claude.ai';
/**
 * `product_surface` of the start-auth address: Claude Code 2.1.332 sends its `CLAUDE_CODE_ENTRYPOINT`, and `cli`
 * when that is unset (code: `encodeURIComponent(CLAUDE_CODE_ENTRYPOINT || "cli")`). We are not a Claude Code
 * entrypoint of our own, so we send its default.
 */
export const PRODUCT_SURFACE = 'cli';

export function isConnectorName(name: string): boolean {
  return name.startsWith(CONNECTOR_PREFIX) && name.length > CONNECTOR_PREFIX.length;
}

/** Claude Code's false for an env flag (its `pi()`): 0, false, no, off — any case, trimmed. */
function envFalse(v: string | undefined): boolean {
  return v !== undefined && ['0', 'false', 'no', 'off'].includes(v.trim().toLowerCase());
}

/** Why connectors are off, as Claude Code decides it: the env variable, or the setting in any settings source. */
export type ConnectorsOff = 'env-var' | 'setting';

/** The settings files whose `disableClaudeAiConnectors: true` turns connectors off ("when true in any settings source"). */
export function settingsFiles(paths: ClaudePaths, projectKey: string): string[] {
  return [
    path.join(paths.configDir, 'settings.json'),
    path.join(projectKey, '.claude', 'settings.json'),
    path.join(projectKey, '.claude', 'settings.local.json'),
    ...paths.managedDirs.map((d) => path.join(d, 'managed-settings.json')),
  ];
}

export async function connectorsOff(
  paths: ClaudePaths,
  projectKey: string,
  env: NodeJS.ProcessEnv,
): Promise<ConnectorsOff | undefined> {
  if (envFalse(env.ENABLE_CLAUDEAI_MCP_SERVERS)) return 'env-var';
  for (const file of settingsFiles(paths, projectKey)) {
    try {
      const r = await readJsonFile(file, 'config');
      if (r && isPlainObject(r.value) && r.value.disableClaudeAiConnectors === true) return 'setting';
    } catch (e) {
      // an unreadable settings file is reported by whoever owns it; here it simply does not turn connectors off
      if (!isMcpAuthError(e)) throw e;
    }
  }
  return undefined;
}

export interface DiscoveredConnectors {
  servers: ServerConfig[];
  /** set when connectors are off: then `servers` is empty */
  off?: ConnectorsOff;
  /** `oauthAccount.organizationUuid` of ~/.claude.json (for the start-auth address), when present */
  organizationUuid?: string;
}

/**
 * The connectors we can name locally: `claude.ai …` keys of the needs-auth cache (with or without an `id`: one
 * without is shown as ignored) and `claudeAiMcpEverConnected` of ~/.claude.json. A name a config file defines
 * (`configured`) is left to that definition. `userConfig`: ~/.claude.json as parsed (undefined = not there).
 */
export async function discoverConnectors(opts: {
  paths: ClaudePaths;
  projectKey: string;
  env: NodeJS.ProcessEnv;
  cache: CacheSnapshot | undefined;
  userConfig?: Record<string, unknown>;
  configured?: Set<string>;
}): Promise<DiscoveredConnectors> {
  const u = opts.userConfig;
  const account = isPlainObject(u?.oauthAccount) ? u.oauthAccount : undefined;
  const organizationUuid =
    typeof account?.organizationUuid === 'string' && account.organizationUuid ? account.organizationUuid : undefined;
  const off = await connectorsOff(opts.paths, opts.projectKey, opts.env);
  if (off) return { servers: [], off, organizationUuid };
  const ever = new Set(
    Array.isArray(u?.claudeAiMcpEverConnected)
      ? (u.claudeAiMcpEverConnected as unknown[]).filter(
          (n): n is string => typeof n === 'string' && isConnectorName(n),
        )
      : [],
  );
  const byName = new Map<string, ServerConfig>();
  const add = (name: string, file: string) => {
    if (opts.configured?.has(name)) return undefined;
    let s = byName.get(name);
    if (!s) {
      s = { name, scope: 'claudeai', file, transport: 'claudeai-proxy', rawType: 'claudeai-proxy' };
      byName.set(name, s);
    }
    return s;
  };
  for (const [name, entry] of Object.entries(opts.cache?.entries ?? {})) {
    if (!isConnectorName(name)) continue;
    const s = add(name, opts.paths.needsAuthCacheFile);
    if (s && typeof entry.id === 'string' && entry.id) s.connectorId = entry.id;
  }
  for (const name of ever) {
    const s = add(name, opts.paths.userConfigFile);
    if (s) s.everConnected = true;
  }
  const servers = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  return { servers, organizationUuid };
}

/**
 * A connector's state from its needs-auth entry alone (pure). Claude Code skips the connector while the entry
 * carries the connector's `id` and is younger than `ttlMs ?? 4 h` (and not dated more than 60 s ahead): then it
 * needs the user's sign-in on claude.ai — however fresh the claude.ai login is (a rejected claude.ai login writes
 * no entry, so there is no local sign that the entry is stale). An entry without `id`, or expired, is ignored.
 */
export function connectorStatus(
  entry: CacheEntry | undefined,
  now: number,
  cacheError?: { code: ErrorCode; message: string },
): ServerStatus {
  const base = { hasRefreshToken: false };
  if (cacheError)
    return { ...base, state: 'error', reason: 'cache-error', code: cacheError.code, message: cacheError.message };
  if (!entry) return { ...base, state: 'no-auth', reason: 'claudeai-connector' };
  const ttlMs = typeof entry.ttlMs === 'number' ? entry.ttlMs : LONG_TTL_MS;
  const ageMs = now - entry.timestamp;
  const hasId = typeof entry.id === 'string' && entry.id !== '';
  const inTtl = ageMs > -CLOCK_SKEW_MS && ageMs < ttlMs;
  const cache: CacheInfo = {
    timestamp: entry.timestamp,
    ttlMs,
    ageMs,
    fresh: hasId && inTtl,
    ...(hasId ? (inTtl ? {} : { ignored: 'expired' as const }) : { ignored: 'no-id' as const }),
  };
  if (cache.fresh) return { ...base, cache, state: 'needs-auth', reason: 'claudeai-sign-in' };
  return { ...base, cache, state: 'no-auth', reason: 'claudeai-entry-ignored' };
}

/** Until when a connector's entry makes new sessions skip it (its timestamp + TTL); undefined when it does not. */
export function blockedUntil(status: Pick<ServerStatus, 'cache'>): number | undefined {
  const c = status.cache;
  return c?.fresh ? c.timestamp + c.ttlMs : undefined;
}

/**
 * The address where the user signs the connector in again on claude.ai, as `claude mcp login "claude.ai X"` prints
 * it: `https://claude.ai/api/organizations/<org>/mcp/start-auth/<id>?product_surface=cli`. Undefined without an
 * organization or an id.
 */
export function startAuthUrl(
  organizationUuid: string | undefined,
  connectorId: string | undefined,
): string | undefined {
  if (!organizationUuid || !connectorId) return undefined;
  return `${CLAUDE_AI_ORIGIN}/api/organizations/${encodeURIComponent(organizationUuid)}/mcp/start-auth/${encodeURIComponent(connectorId)}?product_surface=${encodeURIComponent(PRODUCT_SURFACE)}`;
}

/** Refuse refresh / sign-in / sign-out on a connector: its credentials live on claude.ai, never with us. */
export function refuseConnector(name: string): never {
  throw new McpAuthError(
    'claudeai-connector',
    `"${name}" is a claude.ai connector: its sign-in lives on claude.ai, so mcp-auth does not refresh, sign in to or sign out of it (sign in on claude.ai — \`claude mcp login "${name}"\` prints the address — then run \`mcp-auth invalidate "${name}"\`)`,
    { server: name },
  );
}
