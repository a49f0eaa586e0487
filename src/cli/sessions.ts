import type { LackingSession, ReconnectFix } from '../core/lacking';
import type { ServerRow } from '../core';

/**
 * The CLI's words for running sessions that still lack a server (core/lacking.ts): which session, and the fix that
 * works for its kind (each verified with a real Claude Code session).
 */
const at = (ms: number) => new Date(ms).toISOString();

/** The control request an SDK host (or anything driving a stream-json session) sends to reconnect one server. */
export const reconnectRequest = (name: string): string =>
  JSON.stringify({
    type: 'control_request',
    request_id: 'r1',
    request: { subtype: 'mcp_reconnect', serverName: name },
  });

export function reconnectFixLine(fix: ReconnectFix, name: string): string {
  switch (fix) {
    case 'mcp-command':
      return `in that session run /mcp, pick ${name}, then Reconnect`;
    case 'sdk-reconnect':
      return `its SDK host calls reconnectMcpServer(${JSON.stringify(name)}) — on a stream-json session, the line ${reconnectRequest(name)} on its stdin`;
    case 'restart':
      return 'end that session and start a new one (a background session has no /mcp)';
  }
}

const what = (s: LackingSession) =>
  [s.kind, s.entrypoint, s.version ? `Claude Code ${s.version}` : undefined].filter(Boolean).join(', ');

/** One doctor line: the session (with its pid), why it lacks the server, and the fix. */
export function sessionLine(s: LackingSession, name: string): string {
  return `running session pid ${s.pid}${what(s) ? ` (${what(s)})` : ''} in ${s.cwd}, started ${at(s.startedAt)} while the needs-auth entry of ${at(s.entryTimestamp)} stood (cleared ${at(s.clearedAt)}): it skipped this server and lacks it until reconnected (fix: ${reconnectFixLine(s.fix, name)})`;
}

/** Under `status`: one line per server that running sessions still lack. */
export function statusSessionLines(rows: ServerRow[]): string[] {
  const out: string[] = [];
  for (const r of rows) {
    const l = r.sessionsLacking;
    if (!l?.length) continue;
    const list = l.map((s) => `pid ${s.pid} in ${s.cwd}`).join('; ');
    out.push(
      `  ${r.config.name}: ${l.length === 1 ? '1 running Claude Code session started' : `${l.length} running Claude Code sessions started`} while its needs-auth entry stood and still ${l.length === 1 ? 'lacks' : 'lack'} it: ${list} (see mcp-auth doctor ${r.config.name})`,
    );
  }
  return out;
}

/** `status --json`'s `runningSessionsLacking`. */
export function sessionsJson(l: LackingSession[]): unknown[] {
  return l.map((s) => ({
    pid: s.pid,
    cwd: s.cwd,
    startedAt: at(s.startedAt),
    kind: s.kind ?? null,
    entrypoint: s.entrypoint ?? null,
    version: s.version ?? null,
    entryTimestamp: at(s.entryTimestamp),
    clearedAt: at(s.clearedAt),
    fix: s.fix,
  }));
}
