import * as vscode from 'vscode';
import type { Logger, ServerConfig } from '../core';
import { describeKept, Keeper, type KeeperAction } from '../core/keeper/keeper';
import type { AuthModelService } from './service';
import { canActOn } from './trust';
import { operations } from './operations';

/**
 * The window's share of the background keeper (core/keeper): proactive refresh through Claude Code's lock and
 * the removal of stale needs-auth entries, `blocked` rows included, with no click. The same keeper runs in
 * `mcp-auth watch`; here it follows the extension's settings and Restricted Mode, and every action it takes
 * is a log line and a reload of the view.
 */
export class RefreshScheduler implements vscode.Disposable {
  private keeper: Keeper | undefined;
  private readonly subs: vscode.Disposable[] = [];

  constructor(
    private readonly service: AuthModelService,
    private readonly log: Logger,
  ) {
    this.start();
    this.subs.push(vscode.workspace.onDidGrantWorkspaceTrust(() => this.keeper?.configure({ canAct: this.canAct() })));
  }

  private canAct(): (server: ServerConfig) => boolean {
    const trusted = vscode.workspace.isTrusted;
    return (server) => canActOn({ config: server }, trusted);
  }

  private start(): void {
    const s = this.service.settings;
    if (!s.proactiveRefresh && !s.autoClearStaleEntries) return;
    const keeper = new Keeper({
      paths: this.service.paths,
      store: this.service.store,
      cwd: this.service.cwd(),
      logger: this.log.child('keeper'),
      refreshWindowMs: s.refreshWindowMs,
      lockTimeoutMs: s.lockTimeoutMs,
      proactiveRefresh: s.proactiveRefresh,
      autoClearStaleEntries: s.autoClearStaleEntries,
      canAct: this.canAct(),
      operations,
    });
    keeper.on('action', (a: KeeperAction) => {
      this.log.info(this.describe(a));
      this.service.schedule(0);
    });
    this.keeper = keeper;
    void keeper.start().catch((e) => this.log.warn('the keeper could not start', e));
  }

  private describe(a: KeeperAction): string {
    switch (a.type) {
      case 'kept':
        return `kept the needs-auth entry of ${a.name}: ${describeKept(a.reason, Date.now())}`;
      case 'failed':
        return `${a.name}: ${a.code}`;
      default:
        return `${a.type} ${a.name}`;
    }
  }

  /** Settings changed: a keeper with the new paths and settings. */
  async restart(): Promise<void> {
    const old = this.keeper;
    this.keeper = undefined;
    await old?.stop();
    this.start();
  }

  /** Why the keeper keeps an entry, for the tree's tooltip. */
  keptReason(name: string): string | undefined {
    const k = this.keeper?.keptReasons().get(name);
    return k ? describeKept(k.reason, Date.now()) : undefined;
  }

  dispose(): void {
    for (const d of this.subs) d.dispose();
    void this.stop();
  }

  /**
   * Stop the keeper; resolves when every refresh under way has stored its answer and released its lock. The
   * extension's deactivate() returns this, so closing or reloading a window never cuts a refresh between its
   * POST and its write (VS Code waits a few seconds for it; the intent record covers a longer hang).
   */
  stop(): Promise<void> {
    const k = this.keeper;
    this.keeper = undefined;
    if (k) this.stopping = k.stop().catch(() => {});
    return this.stopping;
  }

  private stopping: Promise<void> = Promise.resolve();
}
