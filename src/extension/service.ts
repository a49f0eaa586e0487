import * as os from 'node:os';
import * as vscode from 'vscode';
import {
  loadModel,
  Logger,
  resolvePaths,
  openStore,
  type AuthModel,
  type ClaudePaths,
  type StoreBackend,
} from '../core';
import type { RefreshDeps } from '../core/refresh';

export interface Settings {
  refreshWindowMs: number;
  proactiveRefresh: boolean;
  configDir: string;
  lockTimeoutMs: number;
  statusBar: boolean;
  autoClearStaleEntries: boolean;
  /** Claude Code's `claude` for Sign In with Claude Code: a command on PATH or a path */
  claudePath: string;
  /** a sign-in offers the paste box once its callback is this late (mcpAuth.pasteAfterSeconds) */
  pasteAfterMs: number;
}

/** A number of seconds from a setting: the default when it is not a finite number, else within [0, max]. */
const seconds = (v: unknown, dflt: number, max: number) =>
  typeof v === 'number' && Number.isFinite(v) ? Math.min(max, Math.max(0, v)) : dflt;

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('mcpAuth');
  return {
    refreshWindowMs: Math.max(0, c.get<number>('refreshWindowSeconds', 300)) * 1000,
    proactiveRefresh: c.get<boolean>('proactiveRefresh', true),
    configDir: c.get<string>('configDir', ''),
    lockTimeoutMs: Math.max(1, c.get<number>('lockTimeoutSeconds', 30)) * 1000,
    statusBar: c.get<boolean>('statusBar', true),
    autoClearStaleEntries: c.get<boolean>('autoClearStaleEntries', true),
    claudePath: c.get<string>('claudePath', 'claude'),
    pasteAfterMs: seconds(c.get<number>('pasteAfterSeconds', 30), 30, 3600) * 1000,
  };
}

/**
 * The model the views render: Claude Code's files read through the core, recomputed (debounced) whenever
 * a watcher, a timer or a command says something may have changed. The views never own it.
 */
export class AuthModelService implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<AuthModel>();
  readonly onDidChange = this.emitter.event;
  private current: AuthModel | undefined;
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<AuthModel> | undefined;
  private again = false;
  settings: Settings = readSettings();
  paths: ClaudePaths = this.resolve();
  store: StoreBackend = openStore(this.paths);

  constructor(private readonly log: Logger) {}

  get model(): AuthModel | undefined {
    return this.current;
  }

  /** What refresh, sign-in and sign-out need, built in this one place (commands and the scheduler). */
  coreDeps(logger: Logger): RefreshDeps {
    return {
      paths: this.paths,
      store: this.store,
      logger,
      allServers: this.current?.servers.map((r) => r.config),
      refreshWindowMs: this.settings.refreshWindowMs,
      lockTimeoutMs: this.settings.lockTimeoutMs,
      autoClearStaleEntries: this.settings.autoClearStaleEntries,
    };
  }

  cwd(): string {
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir();
  }

  reconfigure(): void {
    this.settings = readSettings();
    this.paths = this.resolve();
    this.store = openStore(this.paths);
  }

  private resolve(): ClaudePaths {
    return resolvePaths({ configDirOverride: readSettings().configDir || undefined });
  }

  /** Ask for a reload; several asks within 100 ms make one. */
  schedule(delayMs = 100): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reload();
    }, delayMs);
  }

  async reload(): Promise<AuthModel> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      try {
        const m = await loadModel({
          paths: this.paths,
          cwd: this.cwd(),
          store: this.store,
          settings: { refreshWindowMs: this.settings.refreshWindowMs },
          logger: this.log,
        });
        this.current = m;
        this.emitter.fire(m);
        return m;
      } catch (e) {
        this.log.error("could not read Claude Code's files", e);
        throw e;
      } finally {
        this.loading = undefined;
        if (this.again) {
          this.again = false;
          this.schedule(0);
        }
      }
    })();
    return this.loading;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.emitter.dispose();
  }
}
