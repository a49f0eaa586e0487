/**
 * Workspace trust, decided in one place. In Restricted Mode (`vscode.workspace.isTrusted === false`) a
 * project-scope server (one the opened folder's `.mcp.json` declares) is shown but never acted on: no inline
 * actions (present.ts), no proactive refresh (scheduler.ts), and commands refuse it (assertCanActOn). Servers
 * from the user's own files (managed, user, local, plugin) are unaffected.
 *
 * The vscode import is type-only, so this file (and present.ts, which uses it) still loads in plain Node for
 * the unit tests; callers pass `vscode.workspace.isTrusted` and `vscode.l10n`. It also makes @vscode/l10n-dev
 * scan this file for `l10n.t('…')` calls.
 */
import type * as vscode from 'vscode';
import type { ServerRow } from '../core';
import type { L10n } from './words';

/** May this window act on the row (refresh, sign in or out, clear its needs-auth entry)? */
export function canActOn(row: Pick<ServerRow, 'config'>, trusted: typeof vscode.workspace.isTrusted): boolean {
  return trusted || row.config.scope !== 'project';
}

/** Throws an error with code `untrusted-workspace` and a localized message when canActOn says no. */
export function assertCanActOn(
  row: Pick<ServerRow, 'config'>,
  trusted: typeof vscode.workspace.isTrusted,
  l10n: L10n,
): void {
  if (canActOn(row, trusted)) return;
  const message = l10n.t(
    '"{0}" is declared by this folder\'s .mcp.json and the folder is not trusted (Restricted Mode). Trust the folder to refresh, sign in to or sign out of this server.',
    row.config.name,
  );
  throw Object.assign(new Error(message), { code: 'untrusted-workspace' });
}
