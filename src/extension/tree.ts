import * as vscode from 'vscode';
import type { AuthModelService } from './service';
import { TreeNodes, type Node } from './treeNodes';
import { presentSession } from './present';

export type { Node } from './treeNodes';

/**
 * The Servers view: renders the service's model; one bad row never breaks the others. Its nodes live in
 * treeNodes.ts: one object per row while the row lives, and a refresh of only what changed (a root refresh makes
 * VS Code forget every row until it has fetched them again: a click on an inline action then lost its row).
 */
export class ServersTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | Node[] | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly sub: vscode.Disposable;
  private readonly nodes = new TreeNodes();

  /** set by the composition root: why the keeper keeps a server's needs-auth entry, if it does */
  why: (name: string) => string | undefined = () => undefined;

  constructor(private readonly service: AuthModelService) {
    this.sub = service.onDidChange(() => this.refresh());
    this.refresh();
  }

  /** Re-render what changed since the last model: the root only when rows or groups came or went. */
  refresh(): void {
    const change = this.nodes.update(this.service.model, {
      l10n: vscode.l10n,
      trusted: vscode.workspace.isTrusted,
      why: (name) => this.why(name),
    });
    if (change === 'all') this.changed.fire(undefined);
    else if (change.length > 0) this.changed.fire(change);
  }

  getChildren(node?: Node): Node[] {
    if (!node) return this.nodes.roots;
    if (node.kind === 'scope') return node.children;
    if (node.kind === 'server') return node.sessions;
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'scope') {
      const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.Expanded);
      item.id = node.id;
      item.contextValue = 'mcpScope';
      return item;
    }
    if (node.kind === 'issue') {
      const item = new vscode.TreeItem(node.message, vscode.TreeItemCollapsibleState.None);
      item.id = node.id;
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
      const s = presentSession(node.session, vscode.l10n);
      const item = new vscode.TreeItem(s.label, vscode.TreeItemCollapsibleState.None);
      item.id = node.id;
      item.description = s.description;
      item.iconPath = new vscode.ThemeIcon('terminal', new vscode.ThemeColor('charts.yellow'));
      item.tooltip = new vscode.MarkdownString(s.tooltip);
      item.contextValue = 'mcpSession';
      return item;
    }
    const p = node.view;
    const item = new vscode.TreeItem(
      p.label,
      node.sessions.length ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None,
    );
    item.id = node.id;
    item.description = p.description;
    item.iconPath = new vscode.ThemeIcon(p.icon, p.color ? new vscode.ThemeColor(p.color) : undefined);
    const md = new vscode.MarkdownString(
      node.why ? `${p.tooltip}  \n${vscode.l10n.t('Kept: {0}', node.why)}` : p.tooltip,
    );
    md.supportThemeIcons = true;
    item.tooltip = md;
    if (p.contextValue) item.contextValue = p.contextValue;
    return item;
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}
