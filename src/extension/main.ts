import * as vscode from 'vscode';
import { Logger, needsAttention, type AuthModel } from '../core';
import { recordProfile } from '../core/profiles';
import { registerCommands } from './commands';
import { settleWindow } from './operations';
import { RefreshScheduler } from './scheduler';
import { AuthModelService } from './service';
import { AuthStatusBar } from './statusBar';
import { ServersTree } from './tree';
import { FileWatchers } from './watchers';

export interface McpAuthApi {
  /** the current model (for tests and other extensions) */
  model(): AuthModel | undefined;
  reload(): Promise<AuthModel>;
  statusBar(): { visible: boolean; text: string };
  onDidChange: vscode.Event<AuthModel>;
  /** how long activate() took, ms (our code only) */
  activationMs: number;
}

let scheduler: RefreshScheduler | undefined;

/** Composition root: build every service, push every disposable. No network, only the few file reads. */
export function activate(context: vscode.ExtensionContext): McpAuthApi {
  const started = performance.now();
  const output = vscode.window.createOutputChannel('MCP Auth', { log: true });
  const log = new Logger((level, line) => {
    switch (level) {
      case 'trace':
        output.trace(line);
        break;
      case 'debug':
        output.debug(line);
        break;
      case 'info':
        output.info(line);
        break;
      case 'warn':
        output.warn(line);
        break;
      default:
        output.error(line);
    }
  });
  const service = new AuthModelService(log);
  const tree = new ServersTree(service);
  const view = vscode.window.createTreeView('mcpAuth.servers', { treeDataProvider: tree, showCollapseAll: false });
  const statusBar = new AuthStatusBar(service);
  const watchers = new FileWatchers(service, log);
  const sched = new RefreshScheduler(service, log);
  scheduler = sched;
  tree.why = (name) => sched.keptReason(name);
  context.subscriptions.push(output, service, tree, view, statusBar, watchers, sched);
  registerCommands(context, { service, log, output });
  // note this window's secure-storage dir beside the shared needs-auth cache (core/profiles.ts), off the hot path
  const noteProfile = setTimeout(() => void recordProfile(service.paths), 2000);
  context.subscriptions.push({ dispose: () => clearTimeout(noteProfile) });

  context.subscriptions.push(
    service.onDidChange((m) => {
      const state = m.configFiles.length === 0 ? 'noConfig' : m.servers.length === 0 ? 'noServers' : 'ok';
      void vscode.commands.executeCommand('setContext', 'mcpAuth.state', state);
      const bad = m.servers.filter((r) => needsAttention(r.status.state)).length;
      view.badge = bad ? { value: bad, tooltip: vscode.l10n.t('{0} MCP server(s) need attention', bad) } : undefined;
    }),
    // Restricted Mode keeps project-scope servers inert (trust.ts); once trusted, re-render and re-plan.
    vscode.workspace.onDidGrantWorkspaceTrust(() => service.schedule(0)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('mcpAuth')) {
        service.reconfigure();
        watchers.rewatch();
        statusBar.update();
        void sched.restart();
        service.schedule(0);
      }
    }),
  );
  void service.reload().then(
    () => log.info(`activated in ${(performance.now() - started).toFixed(1)} ms (first model loaded)`),
    () => {},
  );
  const activationMs = performance.now() - started;
  log.info(`activation took ${activationMs.toFixed(1)} ms`);
  return {
    activationMs,
    model: () => service.model,
    reload: () => service.reload(),
    statusBar: () => ({ visible: statusBar.visible, text: statusBar.text }),
    onDidChange: service.onDidChange,
  };
}

/**
 * Resolves once the refreshes under way — the keeper's (RefreshScheduler.stop) and those commands started
 * (operations.ts) — have stored their answers, within a bound VS Code allows.
 */
export function deactivate(): Promise<void> {
  const s = scheduler;
  scheduler = undefined;
  return settleWindow(() => (s ? s.stop() : Promise.resolve()));
}
