import * as vscode from 'vscode';
import { removeCacheEntries } from '../../core/cache/needsAuthCache';
import { claudeLoginCommand } from '../../core/claudeLogin';
import { startAuthUrl } from '../../core/connectors';
import { readSettings } from '../service';
import { isConnectorRow, rowOf, type Ctx, type Target } from './common';
import { runLoginTerminal } from './claudeCode';

/**
 * Sign In on claude.ai (a claude.ai connector whose needs-auth entry stands): open the connector's start-auth
 * address on claude.ai in the browser, or run Claude Code's `claude mcp login "claude.ai X"` in a terminal (the Sign
 * In with Claude Code plumbing), which opens the same address and removes the entry itself. Nothing of the claude.ai
 * login is read or sent by us.
 */
export async function connectorSignInCommand(
  ctx: Ctx,
  target: Target,
  how?: 'browser' | 'terminal',
): Promise<string | undefined> {
  const row = await rowOf(
    ctx,
    target,
    (r) => isConnectorRow(r) && r.status.state === 'needs-auth',
    vscode.l10n.t('Sign in on claude.ai to which connector?'),
  );
  if (!row) return undefined;
  if (!isConnectorRow(row))
    throw Object.assign(new Error(vscode.l10n.t('{0} is not a claude.ai connector.', row.config.name)), {
      code: 'usage',
    });
  const name = row.config.name;
  const url = startAuthUrl(ctx.service.model?.connectors?.organizationUuid, row.config.connectorId);
  const browser = vscode.l10n.t('Open claude.ai');
  const terminal = vscode.l10n.t('Run claude mcp login');
  let picked = how;
  if (!picked && !url) picked = 'terminal';
  else if (!picked) {
    const c = await vscode.window.showInformationMessage(
      vscode.l10n.t(
        'Sign {0} in again on claude.ai. Then choose "I Have Signed In — Clear" (claude mcp login clears it itself).',
        name,
      ),
      browser,
      terminal,
    );
    picked = c === browser ? 'browser' : c === terminal ? 'terminal' : undefined;
  }
  if (picked === 'browser' && url) {
    ctx.log.info(`opening the claude.ai sign-in of ${name}: ${url}`);
    const opened = await vscode.env.openExternal(vscode.Uri.parse(url, true));
    if (!opened) void vscode.window.showWarningMessage(vscode.l10n.t('Open this URL to sign in: {0}', url));
    return 'browser';
  }
  if (picked !== 'terminal') return undefined;
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage(
      vscode.l10n.t('Sign In with Claude Code runs Claude Code in this folder: trust the folder first.'),
    );
    return undefined;
  }
  const claudePath = readSettings().claudePath || 'claude';
  const cmd = claudeLoginCommand(row.config, {
    claudePath,
    workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
    paths: ctx.service.paths,
    env: process.env,
  });
  await runLoginTerminal(ctx, cmd, name);
  try {
    await ctx.service.reload();
  } catch {
    /* logged by the service */
  }
  return 'terminal';
}

/**
 * I Have Signed In — Clear: remove exactly the connector's needs-auth key (atomically, every other entry kept). New
 * sessions dial the connector again; sessions already running keep what they read when they started.
 */
export async function connectorClearCommand(ctx: Ctx, target: Target): Promise<string[] | undefined> {
  const row = await rowOf(
    ctx,
    target,
    (r) => isConnectorRow(r) && r.status.cache !== undefined,
    vscode.l10n.t('Clear the needs-auth entry of which connector?'),
  );
  if (!row) return undefined;
  if (!isConnectorRow(row))
    throw Object.assign(new Error(vscode.l10n.t('{0} is not a claude.ai connector.', row.config.name)), {
      code: 'usage',
    });
  const name = row.config.name;
  const r = await removeCacheEntries(ctx.service.paths.needsAuthCacheFile, (n) => n === name);
  ctx.log.info(`cleared the needs-auth entry of ${name}: ${r.removed.length ? 'removed' : 'none was there'}`);
  ctx.service.schedule(0);
  void vscode.window.showInformationMessage(
    r.removed.length
      ? vscode.l10n.t(
          'Cleared the needs-auth entry of {0}. New Claude Code sessions will connect to it again; sessions already running keep what they read when they started (use /mcp → {0} → Reconnect there).',
          name,
        )
      : vscode.l10n.t('{0} has no needs-auth entry any more.', name),
  );
  return r.removed;
}
