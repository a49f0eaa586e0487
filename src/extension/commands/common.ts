import * as vscode from 'vscode';
import { assertApproved, type Logger, type ServerRow } from '../../core';
import type { Node } from '../tree';
import type { AuthModelService } from '../service';
import { describe } from '../present';
import { assertCanActOn, canActOn } from '../trust';

/** What every command handler gets, and how it finds the row it acts on. */

export type Target = Node | { name: string } | undefined;

export interface CommandDeps {
  service: AuthModelService;
  log: Logger;
  output: vscode.LogOutputChannel;
}

export type Ctx = CommandDeps & { context: vscode.ExtensionContext };
export type Handler = (ctx: Ctx, ...args: never[]) => unknown;

export const rows = async ({ service }: Ctx) => (service.model ?? (await service.reload())).servers;
/** The rows a command may act on without asking: in Restricted Mode, not the folder's own .mcp.json servers. */
export const actionable = async (ctx: Ctx) => (await rows(ctx)).filter((r) => canActOn(r, vscode.workspace.isTrusted));
export const isRemoteRow = (r: ServerRow) => r.key !== undefined;

/**
 * The row a command acts on: the tree node it was invoked on, a `{ name }` argument, or a quick pick of the
 * rows that fit. A .mcp.json server awaiting approval is refused (not-approved).
 */
export async function rowOf(
  ctx: Ctx,
  target: Target,
  fits: (r: ServerRow) => boolean,
  placeHolder: string,
): Promise<ServerRow | undefined> {
  const all = await rows(ctx);
  const trusted = vscode.workspace.isTrusted;
  const checked = (r: ServerRow | undefined) => {
    if (r) {
      assertApproved(r.config);
      assertCanActOn(r, trusted, vscode.l10n);
    }
    return r;
  };
  if (target && 'kind' in target && target.kind === 'server') {
    // the row as the latest model has it: same name in the same scope (a name may be defined in several)
    const { name, scope } = target.row.config;
    return checked(
      all.find((r) => r.config.name === name && r.config.scope === scope) ??
        all.find((r) => r.config.name === name) ??
        target.row,
    );
  }
  if (target && 'name' in target) return checked(all.find((r) => r.config.name === target.name));
  const candidates = all.filter((r) => r.config.approval !== 'pending' && canActOn(r, trusted) && fits(r));
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No MCP server fits.'));
    return undefined;
  }
  const chosen = await vscode.window.showQuickPick(
    candidates.map((r) => ({
      label: r.config.name,
      description: describe(r, Date.now(), vscode.l10n),
      detail: r.config.url,
      row: r,
    })),
    { placeHolder },
  );
  return chosen?.row;
}

export const isConnectorRow = (r: ServerRow) => r.config.transport === 'claudeai-proxy';

export async function showError(message: string, output: vscode.LogOutputChannel): Promise<void> {
  const show = vscode.l10n.t('Show Log');
  if ((await vscode.window.showErrorMessage(message, show)) === show) output.show(true);
}
