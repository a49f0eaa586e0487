import * as vscode from 'vscode';
import type { ServerRow } from '../../core';
import { removeCacheEntries, cacheNamesFor } from '../../core/cache/needsAuthCache';
import { actionable, rowOf, rows, type Ctx, type Target } from './common';

/** Clear a server's needs-auth entry, or every stale one (Claude Code's cache; the keeper does it on its own). */

export async function clearEntries(ctx: Ctx, servers: ServerRow[]): Promise<string[]> {
  const all = (await rows(ctx)).map((r) => r.config);
  const names = new Set(servers.flatMap((r) => [...cacheNamesFor(r.config, all)]));
  const r = names.size
    ? await removeCacheEntries(ctx.service.paths.needsAuthCacheFile, (n) => names.has(n))
    : { removed: [] as string[] };
  ctx.log.info(`cleared needs-auth entries: ${r.removed.join(', ') || '(none)'}`);
  ctx.service.schedule(0);
  return r.removed;
}

export async function clearServerEntryCommand(ctx: Ctx, target: Target): Promise<string[] | undefined> {
  const row = await rowOf(
    ctx,
    target,
    (r) => r.status.state === 'blocked',
    vscode.l10n.t('Clear the needs-auth entry of which server?'),
  );
  return row ? clearEntries(ctx, [row]) : undefined;
}

export async function clearStaleEntriesCommand(ctx: Ctx): Promise<string[]> {
  const removed = await clearEntries(
    ctx,
    (await actionable(ctx)).filter((r) => r.status.state === 'blocked'),
  );
  void vscode.window.showInformationMessage(
    removed.length
      ? vscode.l10n.t('Cleared stale needs-auth entries: {0}', removed.join(', '))
      : vscode.l10n.t('No stale needs-auth entries.'),
  );
  return removed;
}
