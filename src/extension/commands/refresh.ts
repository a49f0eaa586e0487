import * as vscode from 'vscode';
import type { RefreshOutcome } from '../../core/refresh';
import { refreshTracked } from '../operations';
import { actionable, isRemoteRow, rowOf, showError, type Ctx, type Target } from './common';

/** Refresh (one server, through Claude Code's lock) and Refresh All; both tracked until stored (operations.ts). */

export async function refreshServerCommand(ctx: Ctx, target: Target): Promise<RefreshOutcome | undefined> {
  const row = await rowOf(
    ctx,
    target,
    (r) => isRemoteRow(r) && r.status.hasRefreshToken,
    vscode.l10n.t('Refresh which server?'),
  );
  if (!row) return undefined;
  return vscode.window.withProgress(
    { location: { viewId: 'mcpAuth.servers' }, title: vscode.l10n.t('Refreshing {0}…', row.config.name) },
    async () => {
      const out = await refreshTracked(row.config, ctx.service.coreDeps(ctx.log), {
        force: row.status.state === 'signed-in',
      });
      ctx.service.schedule(0);
      if (out.result === 'failed') throw Object.assign(new Error(out.message ?? out.code), { code: out.code });
      return out;
    },
  );
}

export async function refreshAllCommand(ctx: Ctx): Promise<RefreshOutcome[]> {
  const targets = (await actionable(ctx)).filter((r) => isRemoteRow(r) && r.status.hasRefreshToken);
  if (targets.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No MCP server has a refresh token.'));
    return [];
  }
  return vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: vscode.l10n.t('Refreshing MCP tokens'),
      cancellable: true,
    },
    async (progress, token) => {
      const results: RefreshOutcome[] = [];
      for (const r of targets) {
        if (token.isCancellationRequested) break;
        progress.report({ message: r.config.name, increment: 100 / targets.length });
        results.push(await refreshTracked(r.config, ctx.service.coreDeps(ctx.log)));
      }
      ctx.service.schedule(0);
      const failed = results.filter((r) => r.result === 'failed');
      const counts = ['refreshed', 'adopted', 'fresh'].map((k) => results.filter((r) => r.result === k).length);
      const msg = vscode.l10n.t(
        'Refreshed {0}, adopted {1}, already fresh {2}, failed {3}.',
        counts[0],
        counts[1],
        counts[2],
        failed.length,
      );
      if (failed.length) void showError(msg + ' ' + failed.map((f) => `${f.name}: ${f.code}`).join(', '), ctx.output);
      else void vscode.window.showInformationMessage(msg);
      return results;
    },
  );
}
