import * as vscode from 'vscode';
import type { AuthModel, ServerRow } from '../core';
import type { LackingSession } from '../core/lacking';
import type { AuthModelService } from './service';
import { present, presentSession, scopeLabel, SCOPE_ORDER } from './present';

export type Node =
  | { kind: 'scope'; scope: string; rows: ServerRow[] }
  | { kind: 'server'; row: ServerRow }
  /** a running Claude Code session that started while the server's needs-auth entry stood and still lacks it */
  | { kind: 'session'; row: ServerRow; session: LackingSession }
  | { kind: 'issue'; code: string; message: string; file?: string };

/** The Servers view: renders the service's model; one bad row never breaks the others. */
export class ServersTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly sub: vscode.Disposable;

  /** set by the composition root: why the keeper keeps a server's needs-auth entry, if it does */
  why: (name: string) => string | undefined = () => undefined;

  constructor(private readonly service: AuthModelService) {
    this.sub = service.onDidChange(() => this.refresh());
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  getChildren(node?: Node): Node[] {
    const m: AuthModel | undefined = this.service.model;
    if (!m) return [];
    if (!node) {
      const issues: Node[] = m.issues.map((i) => ({ kind: 'issue', code: i.code, message: i.message, file: i.file }));
      const scopes = SCOPE_ORDER.map((scope) => ({
        kind: 'scope' as const,
        scope,
        rows: m.servers.filter((r) => r.config.scope === scope),
      })).filter((g) => g.rows.length > 0);
      return [...issues, ...scopes];
    }
    if (node.kind === 'scope') return node.rows.map((row) => ({ kind: 'server', row }));
    if (node.kind === 'server')
      return (node.row.sessionsLacking ?? []).map((session) => ({ kind: 'session', row: node.row, session }));
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    try {
      if (node.kind === 'scope') {
        const item = new vscode.TreeItem(scopeLabel(node.scope, vscode.l10n), vscode.TreeItemCollapsibleState.Expanded);
        item.id = `scope:${node.scope}`;
        item.contextValue = 'mcpScope';
        return item;
      }
      if (node.kind === 'issue') {
        const item = new vscode.TreeItem(node.message, vscode.TreeItemCollapsibleState.None);
        item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('errorForeground'));
        item.tooltip = `${node.code}: ${node.message}`;
        item.contextValue = 'mcpIssue';
        if (node.file)
          item.command = {
            command: 'vscode.open',
            title: vscode.l10n.t('Open File'),
            arguments: [vscode.Uri.file(node.file)],
          };
        return item;
      }
      if (node.kind === 'session') {
        const p = presentSession(node.session, vscode.l10n);
        const item = new vscode.TreeItem(p.label, vscode.TreeItemCollapsibleState.None);
        item.id = `session:${node.row.config.scope}:${node.row.config.name}:${node.session.pid}`;
        item.description = p.description;
        item.iconPath = new vscode.ThemeIcon('terminal', new vscode.ThemeColor('charts.yellow'));
        item.tooltip = new vscode.MarkdownString(p.tooltip);
        item.contextValue = 'mcpSession';
        return item;
      }
      const p = present(node.row, this.service.model?.now ?? Date.now(), vscode.l10n, vscode.workspace.isTrusted);
      const item = new vscode.TreeItem(
        p.label,
        node.row.sessionsLacking?.length
          ? vscode.TreeItemCollapsibleState.Expanded
          : vscode.TreeItemCollapsibleState.None,
      );
      item.id = `server:${node.row.config.scope}:${node.row.config.name}`;
      item.description = p.description;
      item.iconPath = new vscode.ThemeIcon(p.icon, p.color ? new vscode.ThemeColor(p.color) : undefined);
      const why = node.row.status.state === 'blocked' ? this.why(node.row.config.name) : undefined;
      const md = new vscode.MarkdownString(why ? `${p.tooltip}  \n${vscode.l10n.t('Kept: {0}', why)}` : p.tooltip);
      md.supportThemeIcons = true;
      item.tooltip = md;
      item.contextValue = p.contextValue;
      return item;
    } catch (e) {
      const item = new vscode.TreeItem(
        node.kind === 'server' || node.kind === 'session' ? node.row.config.name : '?',
        vscode.TreeItemCollapsibleState.None,
      );
      item.description = vscode.l10n.t('could not be shown: {0}', (e as Error).message);
      item.iconPath = new vscode.ThemeIcon('error');
      return item;
    }
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}
