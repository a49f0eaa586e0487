import { readCleared, startedInWindow, type ClearedWindow } from './cache/cleared';
import { ttlFor } from './cache/needsAuthCache';
import { discoverServers } from './config/discover';
import { isRemote, type ServerConfig } from './config/types';
import type { Logger } from './log';
import type { ClaudePaths } from './paths';
import { liveSessions, type SessionDeps, type SessionRecord } from './sessions';
import { serverKey } from './store/key';

/**
 * Running Claude Code sessions that still lack a server because they started while its needs-auth entry stood (a
 * session reads the cache once, at its start; clearing the entry helps new sessions only). The fix that works
 * differs by kind of session, verified with real sessions (claude-code-format.md "Running sessions"):
 * - `mcp-command`: an interactive session — `/mcp` → the server → Reconnect (a reconnect does not read the cache);
 * - `sdk-reconnect`: an SDK / stream-json host (entrypoint `sdk-…`) — `reconnectMcpServer(name)`, i.e. the control
 *   request `{"subtype":"mcp_reconnect","serverName":…}`;
 * - `restart`: a background or daemon session, which has neither: end it and start a new one.
 */
export type ReconnectFix = 'mcp-command' | 'sdk-reconnect' | 'restart';

export interface LackingSession {
  pid: number;
  cwd: string;
  /** epoch ms */
  startedAt: number;
  kind?: string;
  entrypoint?: string;
  version?: string;
  name?: string;
  /** the entry the session skipped: its timestamp, and when we cleared it */
  entryTimestamp: number;
  clearedAt: number;
  fix: ReconnectFix;
}

export function reconnectFixFor(s: Pick<SessionRecord, 'kind' | 'entrypoint'>): ReconnectFix {
  if (s.entrypoint?.startsWith('sdk-')) return 'sdk-reconnect';
  if (s.kind === undefined || s.kind === 'interactive') return 'mcp-command';
  return 'restart';
}

/** Does the server Claude Code loads under `name` in a folder (`there`) stand for the same one as `ours`? */
export function sameServer(ours: ServerConfig, there: ServerConfig | undefined): boolean {
  if (!there || there.name !== ours.name || !isRemote(there)) return false;
  if (there.approval === 'pending' || there.approval === 'rejected') return false;
  return there.scope === ours.scope && there.file === ours.file && serverKey(there) === serverKey(ours);
}

export interface LackingOptions {
  paths: ClaudePaths;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** liveness and registry reading (tests inject the platform, the /proc root, …) */
  sessions?: SessionDeps;
}

/**
 * For each of `servers` (by name), the live sessions that started inside a window in which we later cleared its
 * needs-auth entry, in a folder where that same server loads (user scope: any folder; local and project scope:
 * where config discovery for the session's folder yields it). Reads only. An empty map when we cleared nothing.
 */
export async function sessionsLacking(
  servers: ServerConfig[],
  opts: LackingOptions,
): Promise<Map<string, LackingSession[]>> {
  const out = new Map<string, LackingSession[]>();
  const record = await readCleared(opts.paths.needsAuthCacheFile);
  const candidates: { server: ServerConfig; windows: { w: ClearedWindow; ttl: number }[] }[] = [];
  for (const server of servers) {
    const ws = isRemote(server) ? record[server.name] : undefined;
    if (!ws?.length) continue;
    candidates.push({
      server,
      windows: ws.map((w) => ({ w, ttl: ttlFor(server, { timestamp: w.timestamp, ttlMs: w.ttlMs }) })),
    });
  }
  if (!candidates.length) return out;
  // only sessions that started in some window are checked for liveness (on macOS that spawns ps)
  const inSome = (r: SessionRecord) =>
    candidates.some((c) => c.windows.some(({ w, ttl }) => startedInWindow(r.startedAt, w, ttl)));
  const live = await liveSessions(opts.paths, { logger: opts.logger, ...opts.sessions, filter: inSome });
  const byCwd = new Map<string, Promise<ServerConfig[]>>();
  const loadedIn = (cwd: string) => {
    let p = byCwd.get(cwd);
    if (!p) {
      p = discoverServers({ paths: opts.paths, cwd, env: opts.env }).then(
        (d) => d.servers,
        () => [],
      );
      byCwd.set(cwd, p);
    }
    return p;
  };
  for (const s of live) {
    for (const c of candidates) {
      const hit = c.windows.find(({ w, ttl }) => startedInWindow(s.startedAt, w, ttl));
      if (!hit) continue;
      const there = (await loadedIn(s.cwd)).find((x) => x.name === c.server.name);
      if (!sameServer(c.server, there)) continue;
      const list = out.get(c.server.name) ?? [];
      list.push({
        pid: s.pid,
        cwd: s.cwd,
        startedAt: s.startedAt,
        kind: s.kind,
        entrypoint: s.entrypoint,
        version: s.version,
        name: s.name,
        entryTimestamp: hit.w.timestamp,
        clearedAt: hit.w.clearedAt,
        fix: reconnectFixFor(s),
      });
      out.set(c.server.name, list);
    }
  }
  return out;
}
