/** A running Claude Code session that lacks a server (core/lacking.ts): its child row and its fix, in words. */
import type * as vscode from 'vscode';
import type { LackingSession, ReconnectFix } from '../core/lacking';
import { mdEscape, plainL10n, type L10n as Words } from './words';

/** vscode.l10n or a plain translator; naming vscode here also makes @vscode/l10n-dev scan this file (type-only, erased). */
type L10n = Words | Pick<typeof vscode.l10n, 't'>;

/** kind and entrypoint of a session, as Claude Code records them, with its version */
export function sessionKind(s: LackingSession): string {
  return [s.kind, s.entrypoint, s.version].filter(Boolean).join(', ');
}

/** The fix that works for a running session of this kind (core/lacking.ts), in the extension's words. */
export function reconnectText(fix: ReconnectFix, l10n: L10n = plainL10n): string {
  switch (fix) {
    case 'mcp-command':
      return l10n.t('Fix: in that session run /mcp, pick the server, then Reconnect.');
    case 'sdk-reconnect':
      return l10n.t(
        'Fix: its SDK host calls reconnectMcpServer(name) (the control request mcp_reconnect on a stream-json session).',
      );
    case 'restart':
      return l10n.t('Fix: end that session and start a new one (a background session has no /mcp).');
  }
}

/** A child row under the server: one running session that lacks it. */
export function presentSession(
  s: LackingSession,
  l10n: L10n = plainL10n,
): { label: string; description: string; tooltip: string } {
  const started = new Date(s.startedAt).toLocaleString();
  return {
    label: s.cwd,
    description: l10n.t('started {0} · {1}', started, sessionKind(s)),
    tooltip: [
      l10n.t(
        'A Claude Code session (pid {0}) started {1}, while the needs-auth entry of this server stood: it skipped the server and lacks it until reconnected or ended. Clearing the entry helps new sessions only.',
        s.pid,
        started,
      ),
      reconnectText(s.fix, l10n),
    ]
      .map(mdEscape)
      .join('  \n'),
  };
}
