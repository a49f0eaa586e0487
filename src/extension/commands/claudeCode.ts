import * as vscode from 'vscode';
import { isMcpAuthError } from '../../core';
import {
  afterClaudeLogin,
  claudeLoginCommand,
  storedTokenMark,
  type AfterClaudeLoginOutcome,
} from '../../core/claudeLogin';
import { readSettings } from '../service';
import { isRemoteRow, rowOf, type Ctx, type Target } from './common';

export interface ClaudeSignInOutcome extends AfterClaudeLoginOutcome {
  /** the exit code of `claude mcp login` (undefined: unknown, e.g. the terminal was closed by the user) */
  exitCode?: number;
}

/**
 * Sign In with Claude Code: for what our own sign-in cannot do (an authorization server that accepts only
 * Claude Code's client metadata document, or any server our sign-in fails with), run Claude Code's own `claude mcp login NAME` in
 * a terminal. When the terminal closes, re-read the store, clear the server's needs-auth entries if a usable
 * token is there (core/claudeLogin.ts), reload the model and say what happened. Resolves once all of that is
 * done.
 */
export async function signInWithClaudeCodeCommand(ctx: Ctx, target: Target): Promise<ClaudeSignInOutcome | undefined> {
  if (!vscode.workspace.isTrusted) {
    // Claude Code would run in, and read the settings of, a folder that is not trusted
    void vscode.window.showWarningMessage(
      vscode.l10n.t('Sign In with Claude Code runs Claude Code in this folder: trust the folder first.'),
    );
    return undefined;
  }
  const row = await rowOf(ctx, target, isRemoteRow, vscode.l10n.t('Sign in with Claude Code to which server?'));
  if (!row) return undefined;
  const name = row.config.name;
  const claudePath = readSettings().claudePath || 'claude';
  let cmd: ReturnType<typeof claudeLoginCommand>;
  try {
    cmd = claudeLoginCommand(row.config, {
      claudePath,
      workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
      paths: ctx.service.paths,
      env: process.env,
    });
  } catch (e) {
    if (!(isMcpAuthError(e) && e.code === 'claude-not-found')) throw e;
    ctx.log.warn(`Claude Code not found: ${claudePath}`);
    const open = vscode.l10n.t('Open Settings');
    const chosen = await vscode.window.showErrorMessage(
      vscode.l10n.t("Claude Code's `{0}` was not found. Install Claude Code or set mcpAuth.claudePath.", claudePath),
      open,
    );
    if (chosen === open) void vscode.commands.executeCommand('workbench.action.openSettings', 'mcpAuth.claudePath');
    return undefined;
  }
  const before = await storedTokenMark(row.config, ctx.service.store);
  const exit = await runLoginTerminal(ctx, cmd, name);
  const exitCode = exit?.code;
  ctx.log.info(`claude mcp login ${name} ended: exit code ${exitCode ?? 'unknown'}`);
  const out = await afterClaudeLogin(
    row.config,
    { ...ctx.service.coreDeps(ctx.log), logger: ctx.log },
    { exitCode, before },
  );
  try {
    await ctx.service.reload();
  } catch {
    /* logged by the service; the model stays as it was */
  }
  if (out.signedIn && (exitCode === 0 || exitCode === undefined))
    void vscode.window.showInformationMessage(vscode.l10n.t('Signed in to {0} with Claude Code.', name));
  else if (out.signedIn)
    void vscode.window.showWarningMessage(
      vscode.l10n.t(
        'Claude Code ended with exit code {1}, but a token for {0} is stored; its needs-auth entry was cleared.',
        name,
        exitCode ?? '?',
      ),
    );
  else if (out.why === 'step-up-pending')
    void vscode.window.showWarningMessage(
      vscode.l10n.t(
        'The token Claude Code stored for {0} still lacks the scopes the server asked for: use Grant Additional Access.',
        name,
      ),
    );
  else
    void vscode.window.showWarningMessage(
      exitCode === undefined
        ? vscode.l10n.t('Claude Code did not sign in to {0}: no new token was stored.', name)
        : vscode.l10n.t('Claude Code did not sign in to {0} (exit code {1}): no new token was stored.', name, exitCode),
    );
  return { ...out, exitCode };
}

/**
 * Run Claude Code's `claude mcp login` (as claudeLoginCommand built it) in a terminal named for the server, and
 * resolve with the terminal's exit status once it closes.
 */
export async function runLoginTerminal(
  ctx: Ctx,
  cmd: ReturnType<typeof claudeLoginCommand>,
  name: string,
): Promise<vscode.TerminalExitStatus | undefined> {
  ctx.log.info(`running ${cmd.command} ${cmd.args.join(' ')} in ${cmd.cwd} (a terminal)`);
  const terminal = vscode.window.createTerminal({
    name: vscode.l10n.t('Claude Code: sign in to {0}', name),
    shellPath: cmd.command,
    shellArgs: cmd.args,
    cwd: cmd.cwd,
    env: cmd.env,
    iconPath: new vscode.ThemeIcon('sign-in'),
  });
  const closed = new Promise<vscode.TerminalExitStatus | undefined>((resolve) => {
    const sub = vscode.window.onDidCloseTerminal((t) => {
      if (t !== terminal) return;
      sub.dispose();
      resolve(t.exitStatus);
    });
  });
  terminal.show();
  return closed;
}
