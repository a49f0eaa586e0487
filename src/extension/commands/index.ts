import * as vscode from 'vscode';
import { isMcpAuthError, redact } from '../../core';
import { credmanText } from '../present';
import { clearServerEntryCommand, clearStaleEntriesCommand } from './cache';
import { signInWithClaudeCodeCommand } from './claudeCode';
import { showError, type CommandDeps, type Ctx, type Handler, type Target } from './common';
import { connectorClearCommand, connectorSignInCommand } from './connectors';
import { copyDiagnosticsCommand, openConfigCommand, showProblemsCommand } from './diagnostics';
import { refreshAllCommand, refreshServerCommand } from './refresh';
import { grantAccessCommand, signInCommand, signOutCommand } from './signIn';

export type { CommandDeps } from './common';
export type { ClaudeSignInOutcome } from './claudeCode';

/**
 * The extension's commands, grouped by feature (sign-in, Claude Code's sign-in, claude.ai connectors, refresh,
 * the needs-auth cache, diagnostics), wired here: one table of ids, one registerCommands, one error wrapper.
 */

/** Every command the extension contributes, bound to its function (scripts/check-commands.mjs checks package.json against the ids). */
const COMMANDS = {
  'mcpAuth.refreshTokens': refreshAllCommand,
  'mcpAuth.signIn': signInCommand,
  'mcpAuth.signOut': signOutCommand,
  'mcpAuth.clearStaleEntries': clearStaleEntriesCommand,
  'mcpAuth.showLog': (ctx: Ctx) => ctx.output.show(true),
  'mcpAuth.copyDiagnostics': copyDiagnosticsCommand,
  'mcpAuth.openConfig': openConfigCommand,
  'mcpAuth.reload': async (ctx: Ctx) => {
    ctx.service.reconfigure();
    return ctx.service.reload();
  },
  'mcpAuth.showProblems': showProblemsCommand,
  'mcpAuth.refreshServer': refreshServerCommand,
  'mcpAuth.signInServer': signInCommand,
  'mcpAuth.signOutServer': signOutCommand,
  'mcpAuth.clearServerEntry': clearServerEntryCommand,
  'mcpAuth.grantAccess': grantAccessCommand,
  'mcpAuth.newClientSignIn': (ctx: Ctx, target: Target) => signInCommand(ctx, target, { newClient: true }),
  'mcpAuth.signInWithClaudeCode': signInWithClaudeCodeCommand,
  'mcpAuth.connectorSignIn': connectorSignInCommand,
  'mcpAuth.connectorClear': connectorClearCommand,
} satisfies Record<string, Handler>;

export const COMMAND_IDS = Object.keys(COMMANDS) as (keyof typeof COMMANDS)[];

export function registerCommands(context: vscode.ExtensionContext, deps: CommandDeps): void {
  const ctx: Ctx = { ...deps, context };
  for (const id of COMMAND_IDS) {
    const fn = COMMANDS[id] as (ctx: Ctx, ...args: unknown[]) => unknown;
    context.subscriptions.push(
      vscode.commands.registerCommand(id, (...args: unknown[]) => runCommand(id, () => fn(ctx, ...args), deps)),
    );
  }
}

/** One wrapper for every command: log (redacted), a localized message with "Show Log", silent on cancel. */
async function runCommand<T>(id: string, fn: () => T | Promise<T>, deps: CommandDeps): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof vscode.CancellationError || (isMcpAuthError(e) && e.code === 'cancelled')) return undefined;
    deps.log.error(`${id} failed`, e);
    const code = (e as { code?: string }).code;
    const msg =
      code === 'store-credman'
        ? vscode.l10n.t('MCP Auth: {0}', credmanText(vscode.l10n))
        : isMcpAuthError(e) || code
          ? vscode.l10n.t('MCP Auth: {0}', redact((e as Error).message))
          : vscode.l10n.t('MCP Auth: unexpected error in {0}', id);
    void showError(msg, deps.output);
    return undefined;
  }
}
