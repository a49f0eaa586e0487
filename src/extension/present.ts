/**
 * Pure presentation: a server's state → what the tree shows. No vscode import, so it is unit-tested in plain
 * Node; words go through the injected `t` (vscode.l10n.t in the extension).
 */
import type { AuthState, ServerRow } from '../core';

export type Translate = (message: string, ...args: (string | number)[]) => string;
export const plainT: Translate = (m, ...args) => m.replace(/\{(\d+)\}/g, (_, i) => String(args[Number(i)]));

export interface Presentation {
  label: string;
  description: string;
  /** codicon id */
  icon: string;
  /** theme colour id, or undefined for the default */
  color?: string;
  /** Markdown */
  tooltip: string;
  /** drives the inline actions (package.json menus) */
  contextValue: string;
}

export function humanDuration(ms: number, t: Translate = plainT): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return t('{0} s', s);
  const m = Math.round(s / 60);
  if (m < 120) return t('{0} min', m);
  const h = Math.round(m / 60);
  if (h < 48) return t('{0} h', h);
  return t('{0} d', Math.round(h / 24));
}

const ICONS: Record<AuthState, { icon: string; color?: string }> = {
  'signed-in': { icon: 'pass-filled', color: 'testing.iconPassed' },
  expiring: { icon: 'clock', color: 'charts.yellow' },
  expired: { icon: 'history', color: 'charts.yellow' },
  'needs-auth': { icon: 'key', color: 'errorForeground' },
  blocked: { icon: 'circle-slash', color: 'errorForeground' },
  refreshing: { icon: 'sync~spin' },
  'no-auth': { icon: 'circle-outline', color: 'disabledForeground' },
  'not-approved': { icon: 'debug-pause', color: 'disabledForeground' },
  error: { icon: 'error', color: 'errorForeground' },
};

export function describe(row: ServerRow, now: number, t: Translate = plainT): string {
  const s = row.status;
  switch (s.state) {
    case 'signed-in':
      return s.expiresAt !== undefined ? t('expires in {0}', humanDuration(s.expiresAt - now, t)) : t('signed in');
    case 'expiring':
      return s.hasRefreshToken ? t('expires in {0}', humanDuration((s.expiresAt ?? now) - now, t)) : t('expires in {0}, then needs sign-in', humanDuration((s.expiresAt ?? now) - now, t));
    case 'expired':
      return t('expired, refreshable');
    case 'needs-auth':
      return s.reason === 'signed-out' ? t('needs sign-in (refresh token rejected)') : t('needs sign-in');
    case 'blocked':
      return t('blocked by stale needs-auth entry ({0} old)', humanDuration(s.cache?.ageMs ?? 0, t));
    case 'refreshing':
      return t('refreshing…');
    case 'no-auth':
      return s.reason === 'stdio' ? t('local (stdio)') : s.reason === 'static-headers' ? t('static headers') : t('no OAuth');
    case 'not-approved':
      return t('awaiting approval in Claude Code');
    case 'error':
      return t('error: {0}', s.code ?? 'unknown');
  }
}

export function contextValueOf(row: ServerRow): string {
  const s = row.status;
  const flags = [`mcpServer.${s.state}`];
  if (row.key && (s.state === 'signed-in' || s.state === 'expiring' || s.state === 'expired' || s.state === 'blocked' || (s.state === 'needs-auth' && s.clientId))) flags.push('hasToken');
  if (s.hasRefreshToken) flags.push('refreshable');
  return flags.join('.');
}

const mdEscape = (s: string) => s.replace(/([\\`*_{}[\]()#+\-.!|<>])/g, '\\$1');

export function tooltip(row: ServerRow, now: number, t: Translate = plainT): string {
  const s = row.status;
  const c = row.config;
  const lines: string[] = [`**${mdEscape(c.name)}** — ${mdEscape(describe(row, now, t))}`, ''];
  if (c.url) lines.push(t('URL: {0}', mdEscape(c.url)));
  else if (c.command) lines.push(t('Command: {0}', mdEscape([c.command, ...(c.args ?? [])].join(' '))));
  lines.push(t('Scope: {0} ({1})', c.scope, mdEscape(c.file)));
  if (c.approval === 'pending') lines.push(t('Awaiting approval in Claude Code'));
  if (s.expiresAt !== undefined) lines.push(t('Access token expires: {0}', new Date(s.expiresAt).toLocaleString()));
  if (row.key) lines.push(t('Refresh token: {0}', s.hasRefreshToken ? t('stored') : t('none')));
  if (s.client) lines.push(t('Client: {0}{1}', s.client === 'dynamic' ? t('dynamically registered') : t('static'), s.clientId ? ` (\`${s.clientId}\`)` : ''));
  if (s.cache) lines.push(t('Needs-auth cache entry: {0} old, TTL {1}{2}', humanDuration(s.cache.ageMs, t), humanDuration(s.cache.ttlMs, t), s.cache.fresh ? t(' — new Claude Code sessions skip this server') : t(' — expired')));
  if (s.lock?.held) lines.push(t('Refresh lock held by {0}{1}', mdEscape(s.lock.holder ?? '?'), s.lock.stale ? t(' (stale)') : ''));
  if (s.state === 'error') lines.push(t('Problem: {0}', mdEscape(`${s.code}: ${s.message ?? ''}`)));
  return lines.join('  \n');
}

export function present(row: ServerRow, now: number, t: Translate = plainT): Presentation {
  const { icon, color } = ICONS[row.status.state];
  return { label: row.config.name, description: describe(row, now, t), icon, color, tooltip: tooltip(row, now, t), contextValue: contextValueOf(row) };
}

export const SCOPE_ORDER = ['managed', 'user', 'local', 'project', 'plugin'] as const;

export function scopeLabel(scope: string, t: Translate = plainT): string {
  switch (scope) {
    case 'managed': return t('Managed');
    case 'user': return t('User');
    case 'local': return t('Local (this project, private)');
    case 'project': return t('Project (.mcp.json)');
    case 'plugin': return t('Plugins');
    default: return scope;
  }
}

/** Status-bar text: shown only while this is not undefined. */
export function statusBarText(rows: ServerRow[], t: Translate = plainT): { text: string; tooltip: string; count: number } | undefined {
  const bad = rows.filter((r) => r.status.state === 'needs-auth' || r.status.state === 'blocked');
  if (bad.length === 0) return undefined;
  const blocked = bad.filter((r) => r.status.state === 'blocked').length;
  const needs = bad.length - blocked;
  const text = blocked === 0 ? (needs === 1 ? t('MCP: 1 needs sign-in') : t('MCP: {0} need sign-in', needs))
    : needs === 0 ? (blocked === 1 ? t('MCP: 1 blocked') : t('MCP: {0} blocked', blocked))
      : t('MCP: {0} need attention', bad.length);
  return { text: `$(warning) ${text}`, tooltip: bad.map((r) => `${r.config.name}: ${describe(r, Date.now(), t)}`).join('\n'), count: bad.length };
}
