import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Logger } from '../core';
import type { AuthModelService } from './service';

/**
 * The files are the bus: watch the folders that hold the credential store, the needs-auth cache,
 * ~/.claude.json and each workspace's .mcp.json; any change → a debounced reload. Every window does this,
 * so a write by any process (another window, the CLI, Claude Code) reaches all of them with no IPC.
 * A 30 s tick also reloads, so time-driven changes (expiring → expired) show without any file change.
 */
/** Claude Code's files, and the lock directories that make a row show `refreshing`. */
const RELEVANT =
  /^(\.mcp\.json|\.claude\.json|\.credentials\.json|mcp-needs-auth-cache\.json|\.claude|settings(\.local)?\.json|managed-mcp\.json|mcp-refresh-.*\.lock|plugins|installed_plugins\.json|sessions|[0-9]+\.json)$/;

export class FileWatchers implements vscode.Disposable {
  private watchers = new Map<string, fs.FSWatcher>();
  private readonly tick: NodeJS.Timeout;
  private readonly subs: vscode.Disposable[] = [];

  constructor(
    private readonly service: AuthModelService,
    private readonly log: Logger,
  ) {
    this.rewatch();
    this.tick = setInterval(() => {
      this.rewatch();
      service.schedule(0);
    }, 30_000);
    this.subs.push(
      vscode.workspace.onDidChangeWorkspaceFolders(() => {
        this.rewatch();
        service.schedule();
      }),
    );
  }

  private folders(): string[] {
    const p = this.service.paths;
    // plugins/: installing, enabling or removing a plugin adds or removes its MCP servers
    const set = new Set([
      p.secureDir,
      p.configDir,
      path.dirname(p.userConfigFile),
      path.dirname(p.credentialsFile),
      path.join(p.configDir, 'plugins'),
      // Claude Code's registry of running sessions: a session that ends takes its "lacks this server" row with it
      path.join(p.configDir, 'sessions'),
    ]);
    for (const f of vscode.workspace.workspaceFolders ?? []) set.add(f.uri.fsPath);
    return [...set];
  }

  /** (Re)create watchers; a folder that does not exist yet is watched through its parent until it appears. */
  rewatch(): void {
    const want = new Set<string>();
    for (const f of this.folders()) want.add(fs.existsSync(f) ? f : path.dirname(f));
    for (const [dir, w] of this.watchers)
      if (!want.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    for (const dir of want) {
      if (this.watchers.has(dir) || !fs.existsSync(dir)) continue;
      try {
        const w = fs.watch(dir, { persistent: false }, (_ev, file) => {
          const name = file === null || file === undefined ? undefined : String(file);
          // only the files that matter (a workspace root sees every save and build otherwise)
          if (name !== undefined && !RELEVANT.test(name)) return;
          this.service.schedule();
          if (name === undefined) return;
          if (!fs.existsSync(path.join(dir, name))) return;
          if (name === '.claude') this.rewatch();
        });
        w.on('error', () => {
          w.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, w);
      } catch (e) {
        this.log.debug(`cannot watch ${dir}: ${(e as Error).message}`);
      }
    }
  }

  dispose(): void {
    clearInterval(this.tick);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    for (const s of this.subs) s.dispose();
  }
}
