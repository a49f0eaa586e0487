/**
 * The Servers view's nodes, kept apart from vscode so that they are unit-tested.
 *
 * Why it matters: VS Code forgets every element of a tree the moment its provider fires a refresh of the root,
 * and learns them again only when the window has fetched the children anew (extHostTreeViews: a root refresh
 * clears its handle → element map first). A click on a row's inline action in between reaches the command
 * with no argument: *Refresh* then asked "Refresh which server?" instead of refreshing the row. The model
 * reloads on every write to Claude Code's files (Claude Code rewrites ~/.claude.json all the time), so on a busy
 * machine that window is open often. Hence: one node object per row for as long as the row exists, the root
 * refreshed only when the tree's shape changes (a row or a group comes or goes), else only the rows whose item
 * changed, and nothing at all when nothing did.
 */
import type { AuthModel, ServerRow } from '../core';
import type { LackingSession } from '../core/lacking';
import { present, scopeLabel, SCOPE_ORDER, type L10n, type Presentation } from './present';

export interface ServerNode {
  kind: 'server';
  /** the TreeItem id: stable for the row's life */
  id: string;
  /** the row of the latest model (updated in place) */
  row: ServerRow;
  /** what the row shows, rendered for the latest model */
  view: Presentation;
  /** why the keeper keeps a blocked row's needs-auth entry, if it does */
  why?: string;
  /** running sessions that started while the row's needs-auth entry stood and still lack it (child rows) */
  sessions: SessionNode[];
}
/** a running Claude Code session that started while the server's needs-auth entry stood and still lacks it */
export interface SessionNode {
  kind: 'session';
  id: string;
  row: ServerRow;
  session: LackingSession;
}
export interface ScopeNode {
  kind: 'scope';
  id: string;
  scope: string;
  label: string;
  children: ServerNode[];
}
export interface IssueNode {
  kind: 'issue';
  id: string;
  code: string;
  message: string;
  file?: string;
}
export type Node = ScopeNode | ServerNode | SessionNode | IssueNode;

export interface RenderContext {
  l10n: L10n;
  /** the workspace is trusted (Restricted Mode changes what a project row offers) */
  trusted: boolean;
  why(name: string): string | undefined;
}

/** What the view must re-render after a model change: everything, these nodes, or nothing (`[]`). */
export type TreeChange = 'all' | Node[];

const same = (a: ServerNode, view: Presentation, why: string | undefined) =>
  a.why === why &&
  a.view.label === view.label &&
  a.view.description === view.description &&
  a.view.icon === view.icon &&
  a.view.color === view.color &&
  a.view.tooltip === view.tooltip &&
  a.view.contextValue === view.contextValue;

function render(row: ServerRow, now: number, c: RenderContext): Presentation {
  try {
    return present(row, now, c.l10n, c.trusted);
  } catch (e) {
    // one bad row never breaks the others
    return {
      label: row.config.name,
      description: c.l10n.t('could not be shown: {0}', (e as Error).message),
      icon: 'error',
      tooltip: '',
      contextValue: '',
    };
  }
}

export class TreeNodes {
  roots: Node[] = [];
  private servers = new Map<string, ServerNode>();
  private scopes = new Map<string, ScopeNode>();
  private shape = '';

  /** Take the latest model; returns what changed on screen. */
  update(m: AuthModel | undefined, c: RenderContext): TreeChange {
    const changed: ServerNode[] = [];
    const servers = new Map<string, ServerNode>();
    const scopes = new Map<string, ScopeNode>();
    const roots: Node[] = [];
    for (const i of m?.issues ?? [])
      roots.push({
        kind: 'issue',
        id: `issue:${i.code}:${i.file ?? ''}:${i.message}`,
        code: i.code,
        message: i.message,
        file: i.file,
      });
    for (const scope of SCOPE_ORDER) {
      const rows = (m?.servers ?? []).filter((r) => r.config.scope === scope);
      if (rows.length === 0) continue;
      const node: ScopeNode = this.scopes.get(scope) ?? {
        kind: 'scope',
        id: `scope:${scope}`,
        scope,
        label: scopeLabel(scope, c.l10n),
        children: [],
      };
      node.children = rows.map((row) => {
        let id = `server:${scope}:${row.config.name}`;
        // two definitions of one name in one scope would make VS Code refuse the whole tree (duplicate id)
        for (let k = 2; servers.has(id); k++) id = `server:${scope}:${row.config.name}#${k}`;
        const view = render(row, m!.now, c);
        const why = row.status.state === 'blocked' ? c.why(row.config.name) : undefined;
        const sessions: SessionNode[] = (row.sessionsLacking ?? []).map((session) => ({
          kind: 'session',
          id: `session:${scope}:${row.config.name}:${session.pid}`,
          row,
          session,
        }));
        let n = this.servers.get(id);
        if (!n) n = { kind: 'server', id, row, view, why, sessions };
        else {
          if (!same(n, view, why)) changed.push(n);
          Object.assign(n, { row, view, why, sessions });
        }
        servers.set(id, n);
        return n;
      });
      scopes.set(scope, node);
      roots.push(node);
    }
    const shape = JSON.stringify(
      roots.map((n) =>
        n.kind === 'scope' ? [n.id, n.children.map((s) => [s.id, s.sessions.map((x) => x.id)])] : n.id,
      ),
    );
    this.roots = roots;
    this.servers = servers;
    this.scopes = scopes;
    if (shape !== this.shape) {
      this.shape = shape;
      return 'all';
    }
    return changed;
  }
}
