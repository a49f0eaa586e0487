import * as vscode from 'vscode';
import { assertApproved, isMcpAuthError, redact, type Logger, type ServerRow } from '../core';
import type { RefreshOutcome } from '../core/refresh';
import { removeCacheEntries, cacheNamesFor } from '../core/cache/needsAuthCache';
import { login } from '../core/login';
import {
  afterClaudeLogin,
  claudeLoginCommand,
  storedTokenMark,
  type AfterClaudeLoginOutcome,
} from '../core/claudeLogin';
import { logout } from '../core/logout';
import { diagnose, fixFor } from '../core/diagnose';
import { startAuthUrl } from '../core/connectors';
import { needsAttention } from '../core/status';
import type { Node } from './tree';
import { readSettings, type AuthModelService } from './service';
import { credmanText, describe, diagnosisText, fixText } from './present';
import { assertCanActOn, canActOn } from './trust';
import { operations, refreshTracked } from './operations';

type Target = Node | { name: string } | undefined;

export interface CommandDeps {
  service: AuthModelService;
  log: Logger;
  output: vscode.LogOutputChannel;
}

type Ctx = CommandDeps & { context: vscode.ExtensionContext };
type Handler = (ctx: Ctx, ...args: never[]) => unknown;

const rows = async ({ service }: Ctx) => (service.model ?? (await service.reload())).servers;
/** The rows a command may act on without asking: in Restricted Mode, not the folder's own .mcp.json servers. */
const actionable = async (ctx: Ctx) => (await rows(ctx)).filter((r) => canActOn(r, vscode.workspace.isTrusted));
const isRemoteRow = (r: ServerRow) => r.key !== undefined;

/**
 * The row a command acts on: the tree node it was invoked on, a `{ name }` argument, or a quick pick of the
 * rows that fit. A .mcp.json server awaiting approval is refused (not-approved).
 */
async function rowOf(
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

async function refreshServerCommand(ctx: Ctx, target: Target): Promise<RefreshOutcome | undefined> {
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

async function refreshAllCommand(ctx: Ctx): Promise<RefreshOutcome[]> {
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

/**
 * Where the browser cannot reach the callback (another machine, a tunnel that does not forward it), the user can
 * paste the address the browser ended on: an input box appears once the callback is `afterMs` late
 * (mcpAuth.pasteAfterSeconds, 30 s by default), and goes with the sign-in.
 */
function offerPaste(name: string, afterMs: number): { pasted: Promise<string>; dispose(): void } {
  let box: vscode.InputBox | undefined;
  let resolve!: (v: string) => void;
  const pasted = new Promise<string>((r) => (resolve = r));
  const timer = setTimeout(() => {
    box = vscode.window.createInputBox();
    box.title = vscode.l10n.t('Sign in to {0}', name);
    box.prompt = vscode.l10n.t('Did the browser not come back? Paste the address your browser ended on.');
    box.placeholder = 'http://localhost:…/callback?code=…&state=…';
    box.ignoreFocusOut = true;
    box.onDidAccept(() => {
      if (box?.value) resolve(box.value);
      box?.hide();
    });
    box.show();
  }, afterMs);
  return {
    pasted,
    dispose: () => {
      clearTimeout(timer);
      box?.dispose();
    },
  };
}

async function signInCommand(ctx: Ctx, target: Target, opts: { newClient?: boolean } = {}) {
  const row = await rowOf(ctx, target, isRemoteRow, vscode.l10n.t('Sign in to which server?'));
  if (!row) return undefined;
  return vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: vscode.l10n.t('Signing in to {0} — finish in your browser', row.config.name),
      cancellable: true,
    },
    async (_p, token) => {
      const ac = new AbortController();
      token.onCancellationRequested(() => ac.abort());
      const paste = offerPaste(row.config.name, ctx.service.settings.pasteAfterMs);
      const out = await login(
        row.config,
        { ...ctx.service.coreDeps(ctx.log), env: process.env },
        {
          signal: ac.signal,
          onAuthorizationUrl: async (url) => {
            ctx.log.info(`authorization URL for ${row.config.name}: ${url}`);
            const opened = await vscode.env.openExternal(vscode.Uri.parse(url, true));
            if (!opened) void vscode.window.showWarningMessage(vscode.l10n.t('Open this URL to sign in: {0}', url));
          },
          externalRedirect: async (local) => (await vscode.env.asExternalUri(vscode.Uri.parse(local))).toString(true),
          pasted: paste.pasted,
          newClient: opts.newClient,
        },
      ).finally(() => paste.dispose());
      ctx.service.schedule(0);
      void vscode.window.showInformationMessage(vscode.l10n.t('Signed in to {0}.', row.config.name));
      return out;
    },
  );
}

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
async function signInWithClaudeCodeCommand(ctx: Ctx, target: Target): Promise<ClaudeSignInOutcome | undefined> {
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
  const exit = await closed;
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

const isConnectorRow = (r: ServerRow) => r.config.transport === 'claudeai-proxy';

/**
 * Sign In on claude.ai (a claude.ai connector whose needs-auth entry stands): open the connector's start-auth
 * address on claude.ai in the browser, or run Claude Code's `claude mcp login "claude.ai X"` in a terminal (the Sign
 * In with Claude Code plumbing), which opens the same address and removes the entry itself. Nothing of the claude.ai
 * login is read or sent by us.
 */
async function connectorSignInCommand(
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
  ctx.log.info(`running ${cmd.command} ${cmd.args.join(' ')} in ${cmd.cwd} (a terminal)`);
  const term = vscode.window.createTerminal({
    name: vscode.l10n.t('Claude Code: sign in to {0}', name),
    shellPath: cmd.command,
    shellArgs: cmd.args,
    cwd: cmd.cwd,
    env: cmd.env,
    iconPath: new vscode.ThemeIcon('sign-in'),
  });
  const closed = new Promise<void>((resolve) => {
    const sub = vscode.window.onDidCloseTerminal((t) => {
      if (t !== term) return;
      sub.dispose();
      resolve();
    });
  });
  term.show();
  await closed;
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
async function connectorClearCommand(ctx: Ctx, target: Target): Promise<string[] | undefined> {
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

/**
 * Grant Additional Access (step-up, `needs-scope`): a sign-in like any other — core/login.ts asks for the union
 * of the scope the server advertises, the stored scope and the `stepUpScope` Claude Code recorded, and drops
 * `stepUpScope` once the granted scope covers it.
 */
async function grantAccessCommand(ctx: Ctx, target: Target) {
  const row = await rowOf(
    ctx,
    target,
    (r) => isRemoteRow(r) && r.status.state === 'needs-scope',
    vscode.l10n.t('Grant additional access to which server?'),
  );
  return row ? signInCommand(ctx, { name: row.config.name }) : undefined;
}

async function signOutCommand(ctx: Ctx, target: Target) {
  const row = await rowOf(
    ctx,
    target,
    (r) => isRemoteRow(r) && (r.status.hasRefreshToken || r.status.expiresAt !== undefined),
    vscode.l10n.t('Sign out of which server?'),
  );
  if (!row) return undefined;
  if (!(target && 'name' in target)) {
    const yes = vscode.l10n.t('Sign Out');
    const ok = await vscode.window.showWarningMessage(
      vscode.l10n.t(
        'Sign out of {0}? Its tokens are revoked and removed for every Claude Code session on this machine.',
        row.config.name,
      ),
      { modal: true },
      yes,
    );
    if (ok !== yes) return undefined;
  }
  const out = await operations.track(logout(row.config, ctx.service.coreDeps(ctx.log)));
  ctx.service.schedule(0);
  if (out.revokeError)
    void showError(
      vscode.l10n.t('Signed out of {0} locally; revocation failed: {1}', row.config.name, out.revokeError.code),
      ctx.output,
    );
  return out;
}

async function clearEntries(ctx: Ctx, servers: ServerRow[]): Promise<string[]> {
  const all = (await rows(ctx)).map((r) => r.config);
  const names = new Set(servers.flatMap((r) => [...cacheNamesFor(r.config, all)]));
  const r = names.size
    ? await removeCacheEntries(ctx.service.paths.needsAuthCacheFile, (n) => names.has(n))
    : { removed: [] as string[] };
  ctx.log.info(`cleared needs-auth entries: ${r.removed.join(', ') || '(none)'}`);
  ctx.service.schedule(0);
  return r.removed;
}

async function clearServerEntryCommand(ctx: Ctx, target: Target): Promise<string[] | undefined> {
  const row = await rowOf(
    ctx,
    target,
    (r) => r.status.state === 'blocked',
    vscode.l10n.t('Clear the needs-auth entry of which server?'),
  );
  return row ? clearEntries(ctx, [row]) : undefined;
}

async function clearStaleEntriesCommand(ctx: Ctx): Promise<string[]> {
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

async function showProblemsCommand(ctx: Ctx) {
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

async function copyDiagnosticsCommand(ctx: Ctx): Promise<string> {
  const m = await ctx.service.reload();
  const text = redact(diagnosisText(await diagnose(m, ctx.service.paths), m.issues, new Date(), vscode.l10n));
  await vscode.env.clipboard.writeText(text);
  void vscode.window.showInformationMessage(vscode.l10n.t('Diagnostics copied (tokens redacted).'));
  return text;
}

async function openConfigCommand(ctx: Ctx, target: Target): Promise<string | undefined> {
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

async function showError(message: string, output: vscode.LogOutputChannel): Promise<void> {
  const show = vscode.l10n.t('Show Log');
  if ((await vscode.window.showErrorMessage(message, show)) === show) output.show(true);
}
