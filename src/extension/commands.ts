import * as vscode from 'vscode';
import { assertApproved, isMcpAuthError, redact, type Logger, type ServerRow } from '../core';
import { refreshServer, type RefreshOutcome } from '../core/refresh';
import { removeCacheEntries, cacheNamesFor } from '../core/cache/cache';
import { login } from '../core/login';
import { logout } from '../core/logout';
import { buildDoctor } from '../cli/doctor';
import type { Node } from './tree';
import type { AuthModelService } from './service';
import { describe } from './present';

const t = (m: string, ...a: (string | number)[]) => vscode.l10n.t(m, ...a);
type Target = Node | { name: string } | undefined;

export interface CommandDeps {
  service: AuthModelService;
  log: Logger;
  output: vscode.LogOutputChannel;
}

/** Every command the extension contributes, in one place (scripts/check-commands.mjs checks package.json against it). */
export const COMMAND_IDS = [
  'mcpAuth.refreshTokens', 'mcpAuth.signIn', 'mcpAuth.signOut', 'mcpAuth.clearStaleEntries', 'mcpAuth.showLog',
  'mcpAuth.copyDiagnostics', 'mcpAuth.openConfig', 'mcpAuth.reload', 'mcpAuth.showProblems',
  'mcpAuth.refreshServer', 'mcpAuth.signInServer', 'mcpAuth.signOutServer', 'mcpAuth.clearServerEntry',
] as const;

export function registerCommands(context: vscode.ExtensionContext, deps: CommandDeps): void {
  const { service, log, output } = deps;
  const reg = (id: (typeof COMMAND_IDS)[number], fn: (...args: never[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, (...args: never[]) => runCommand(id, () => fn(...args), deps)));

  const rows = async () => (service.model ?? (await service.reload())).servers;
  // every caller acts on the row it returns: a .mcp.json server awaiting approval is refused (not-approved)
  const rowOf = async (target: Target, pick: (r: ServerRow) => boolean, placeHolder: string): Promise<ServerRow | undefined> => {
    const all = await rows();
    const checked = (r: ServerRow | undefined) => { if (r) assertApproved(r.config); return r; };
    if (target && 'kind' in target && target.kind === 'server') return checked(all.find((r) => r.config.name === target.row.config.name) ?? target.row);
    if (target && 'name' in target) return checked(all.find((r) => r.config.name === target.name));
    const candidates = all.filter((r) => r.config.approval !== 'pending' && pick(r));
    if (candidates.length === 0) { void vscode.window.showInformationMessage(t('No MCP server fits.')); return undefined; }
    const chosen = await vscode.window.showQuickPick(candidates.map((r) => ({ label: r.config.name, description: describe(r, Date.now(), t), detail: r.config.url, row: r })), { placeHolder });
    return chosen?.row;
  };
  const deps0 = () => ({
    paths: service.paths, store: service.store, logger: log, allServers: service.model?.servers.map((r) => r.config),
    refreshWindowMs: service.settings.refreshWindowMs, lockTimeoutMs: service.settings.lockTimeoutMs,
    autoClearStaleEntries: service.settings.autoClearStaleEntries,
  });
  const isRemote = (r: ServerRow) => r.key !== undefined;

  const refreshOne = async (row: ServerRow, force: boolean): Promise<RefreshOutcome> => {
    const out = await refreshServer(row.config, deps0(), { force });
    service.schedule(0);
    if (out.result === 'failed') throw Object.assign(new Error(out.message ?? out.code), { code: out.code });
    return out;
  };

  reg('mcpAuth.refreshServer', async (target: Target) => {
    const row = await rowOf(target, (r) => isRemote(r) && r.status.hasRefreshToken, t('Refresh which server?'));
    if (!row) return undefined;
    return vscode.window.withProgress({ location: { viewId: 'mcpAuth.servers' }, title: t('Refreshing {0}…', row.config.name) }, () => refreshOne(row, row.status.state === 'signed-in'));
  });

  reg('mcpAuth.refreshTokens', async () => {
    const targets = (await rows()).filter((r) => isRemote(r) && r.status.hasRefreshToken);
    if (targets.length === 0) { void vscode.window.showInformationMessage(t('No MCP server has a refresh token.')); return []; }
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: t('Refreshing MCP tokens'), cancellable: true }, async (progress, token) => {
      const results: RefreshOutcome[] = [];
      for (const r of targets) {
        if (token.isCancellationRequested) break;
        progress.report({ message: r.config.name, increment: 100 / targets.length });
        results.push(await refreshServer(r.config, deps0()));
      }
      service.schedule(0);
      const failed = results.filter((r) => r.result === 'failed');
      const counts = ['refreshed', 'adopted', 'fresh'].map((k) => results.filter((r) => r.result === k).length);
      const msg = t('Refreshed {0}, adopted {1}, already fresh {2}, failed {3}.', counts[0], counts[1], counts[2], failed.length);
      if (failed.length) void showError(msg + ' ' + failed.map((f) => `${f.name}: ${f.code}`).join(', '), output);
      else void vscode.window.showInformationMessage(msg);
      return results;
    });
  });

  const signIn = async (target: Target) => {
    const row = await rowOf(target, (r) => isRemote(r), t('Sign in to which server?'));
    if (!row) return undefined;
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: t('Signing in to {0} — finish in your browser', row.config.name), cancellable: true }, async (_p, token) => {
      const ac = new AbortController();
      token.onCancellationRequested(() => ac.abort());
      const out = await login(row.config, { ...deps0(), env: process.env }, {
        signal: ac.signal,
        onAuthorizationUrl: async (url) => {
          log.info(`authorization URL for ${row.config.name}: ${url}`);
          const opened = await vscode.env.openExternal(vscode.Uri.parse(url, true));
          if (!opened) void vscode.window.showWarningMessage(t('Open this URL to sign in: {0}', url));
        },
        externalRedirect: async (local) => (await vscode.env.asExternalUri(vscode.Uri.parse(local))).toString(true),
      });
      service.schedule(0);
      void vscode.window.showInformationMessage(t('Signed in to {0}.', row.config.name));
      return out;
    });
  };
  reg('mcpAuth.signIn', signIn);
  reg('mcpAuth.signInServer', signIn);

  const signOut = async (target: Target, confirm = true) => {
    const row = await rowOf(target, (r) => isRemote(r) && (r.status.hasRefreshToken || r.status.expiresAt !== undefined), t('Sign out of which server?'));
    if (!row) return undefined;
    if (confirm && !(target && 'name' in target)) {
      const yes = t('Sign Out');
      const ok = await vscode.window.showWarningMessage(t('Sign out of {0}? Its tokens are revoked and removed for every Claude Code session on this machine.', row.config.name), { modal: true }, yes);
      if (ok !== yes) return undefined;
    }
    const out = await logout(row.config, deps0());
    service.schedule(0);
    if (out.revokeError) void showError(t('Signed out of {0} locally; revocation failed: {1}', row.config.name, out.revokeError.code), output);
    return out;
  };
  reg('mcpAuth.signOut', (target: Target) => signOut(target));
  reg('mcpAuth.signOutServer', (target: Target) => signOut(target));

  reg('mcpAuth.clearServerEntry', async (target: Target) => {
    const row = await rowOf(target, (r) => r.status.state === 'blocked', t('Clear the needs-auth entry of which server?'));
    if (!row) return undefined;
    const names = cacheNamesFor(row.config, (await rows()).map((r) => r.config));
    const r = await removeCacheEntries(service.paths.needsAuthCacheFile, (n) => names.has(n));
    log.info(`cleared needs-auth entries: ${r.removed.join(', ') || '(none)'}`);
    service.schedule(0);
    return r.removed;
  });

  reg('mcpAuth.clearStaleEntries', async () => {
    const blocked = (await rows()).filter((r) => r.status.state === 'blocked');
    const all = (await rows()).map((r) => r.config);
    const names = new Set(blocked.flatMap((r) => [...cacheNamesFor(r.config, all)]));
    const r = names.size ? await removeCacheEntries(service.paths.needsAuthCacheFile, (n) => names.has(n)) : { removed: [] as string[] };
    log.info(`cleared stale needs-auth entries: ${r.removed.join(', ') || '(none)'}`);
    service.schedule(0);
    void vscode.window.showInformationMessage(r.removed.length ? t('Cleared stale needs-auth entries: {0}', r.removed.join(', ')) : t('No stale needs-auth entries.'));
    return r.removed;
  });

  reg('mcpAuth.showProblems', async () => {
    const bad = (await rows()).filter((r) => r.status.state === 'needs-auth' || r.status.state === 'blocked');
    if (bad.length === 0) return undefined;
    const items = bad.map((r) => ({
      label: r.config.name,
      description: describe(r, Date.now(), t),
      detail: r.status.state === 'blocked' ? t('Fix: clear the stale needs-auth entry') : t('Fix: sign in'),
      row: r,
    }));
    const chosen = await vscode.window.showQuickPick(items, { placeHolder: t('MCP servers that need attention') });
    if (!chosen) return undefined;
    return chosen.row.status.state === 'blocked'
      ? vscode.commands.executeCommand('mcpAuth.clearServerEntry', { name: chosen.row.config.name })
      : vscode.commands.executeCommand('mcpAuth.signInServer', { name: chosen.row.config.name });
  });

  reg('mcpAuth.showLog', () => output.show(true));
  reg('mcpAuth.reload', async () => { service.reconfigure(); return service.reload(); });

  reg('mcpAuth.copyDiagnostics', async () => {
    const m = await service.reload();
    const rep = buildDoctor(m, service.paths);
    const text = redact([
      `MCP Auth Status diagnostics (${new Date().toISOString()})`,
      `config dir: ${rep.configDir}`, `credential store: ${rep.store}`, `needs-auth cache: ${rep.cacheFile}`,
      `config files: ${rep.configFiles.join(', ') || '(none)'}`, '',
      ...rep.servers.flatMap((s) => [`${s.name} [${s.state}]`, ...s.lines.map((l) => `  ${l}`), ...(s.fix ? [`  fix: ${s.fix}`] : []), '']),
      ...rep.checks.map((c) => `${c.ok ? 'ok  ' : 'WARN'} ${c.message}`),
      ...m.issues.map((i) => `problem: ${i.code}: ${i.message}`),
    ].join('\n'));
    await vscode.env.clipboard.writeText(text);
    void vscode.window.showInformationMessage(t('Diagnostics copied (tokens redacted).'));
    return text;
  });

  reg('mcpAuth.openConfig', async (target: Target) => {
    let file: string | undefined;
    if (target && 'kind' in target && target.kind === 'server') file = target.row.config.file;
    else {
      const files = service.model?.configFiles ?? [];
      if (files.length === 0) { void vscode.window.showInformationMessage(t('No Claude Code configuration file found.')); return undefined; }
      file = files.length === 1 ? files[0] : await vscode.window.showQuickPick(files, { placeHolder: t('Open which configuration file?') });
    }
    if (file) await vscode.window.showTextDocument(vscode.Uri.file(file));
    return file;
  });

}

/** One wrapper for every command: log (redacted), a localized message with "Show Log", silent on cancel. */
async function runCommand<T>(id: string, fn: () => T | Promise<T>, deps: CommandDeps): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof vscode.CancellationError || (isMcpAuthError(e) && e.code === 'login-timeout' && /cancelled/.test(e.message))) return undefined;
    deps.log.error(`${id} failed`, e);
    const code = (e as { code?: string }).code;
    const msg = isMcpAuthError(e) || code ? t('MCP Auth: {0}', redact((e as Error).message)) : t('MCP Auth: unexpected error in {0}', id);
    void showError(msg, deps.output);
    return undefined;
  }
}

async function showError(message: string, output: vscode.LogOutputChannel): Promise<void> {
  const show = t('Show Log');
  if ((await vscode.window.showErrorMessage(message, show)) === show) output.show(true);
}
