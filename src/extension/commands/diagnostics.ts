import * as vscode from 'vscode';
import { redact } from '../../core';
import { diagnose, fixFor } from '../../core/diagnose';
import { needsAttention } from '../../core/status';
import { describe, diagnosisText, fixText } from '../present';
import { actionable, type Ctx, type Target } from './common';

/** Show Problems, Copy Diagnostics, Open Configuration. */

export async function showProblemsCommand(ctx: Ctx) {
  const bad = (await actionable(ctx)).filter((r) => needsAttention(r.status.state));
  if (bad.length === 0) return undefined;
  const items = bad.map((r) => ({
    label: r.config.name,
    description: describe(r, Date.now(), vscode.l10n),
    detail: fixText(fixFor(r), vscode.l10n),
    row: r,
  }));
  const chosen = await vscode.window.showQuickPick(items, {
    placeHolder: vscode.l10n.t('MCP servers that need attention'),
  });
  if (!chosen) return undefined;
  const fix = fixFor(chosen.row);
  const id =
    fix === 'invalidate'
      ? 'mcpAuth.clearServerEntry'
      : fix === 'claudeai-sign-in'
        ? 'mcpAuth.connectorSignIn'
        : fix === 'grant'
          ? 'mcpAuth.grantAccess'
          : 'mcpAuth.signInServer';
  return vscode.commands.executeCommand(id, { name: chosen.row.config.name });
}

export async function copyDiagnosticsCommand(ctx: Ctx): Promise<string> {
  const m = await ctx.service.reload();
  const text = redact(diagnosisText(await diagnose(m, ctx.service.paths), m.issues, new Date(), vscode.l10n));
  await vscode.env.clipboard.writeText(text);
  void vscode.window.showInformationMessage(vscode.l10n.t('Diagnostics copied (tokens redacted).'));
  return text;
}

export async function openConfigCommand(ctx: Ctx, target: Target): Promise<string | undefined> {
  let file: string | undefined;
  if (target && 'kind' in target && target.kind === 'server') file = target.row.config.file;
  else {
    const files = ctx.service.model?.configFiles ?? [];
    if (files.length === 0) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No Claude Code configuration file found.'));
      return undefined;
    }
    file =
      files.length === 1
        ? files[0]
        : await vscode.window.showQuickPick(files, { placeHolder: vscode.l10n.t('Open which configuration file?') });
  }
  if (file) await vscode.window.showTextDocument(vscode.Uri.file(file));
  return file;
}
