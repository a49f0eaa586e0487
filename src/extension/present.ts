/**
 * Pure presentation: a server's state → what the tree shows. No vscode import at run time, so it is unit-tested
 * in plain Node; words go through the injected `l10n` (vscode.l10n in the extension, plainL10n elsewhere).
 *
 * Every text is written `l10n.t('literal', …)`: that is the form @vscode/l10n-dev extracts into
 * l10n/bundle.l10n.json, and it only scans files that import vscode; hence the type-only import (erased).
 */
import type * as vscode from 'vscode';
import type { AuthState, ServerRow } from '../core';
import { canActOn } from './trust';

export type Translate = (message: string, ...args: (string | number)[]) => string;
export const plainT: Translate = (m, ...args) => m.replace(/\{(\d+)\}/g, (_, i) => String(args[Number(i)]));
/** vscode.l10n in the extension; any plain translator (plainL10n, a test's) elsewhere. */
export type L10n = Pick<typeof vscode.l10n, 't'> | { t: Translate };
export const plainL10n: L10n = { t: plainT };

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

export function humanDuration(ms: number, l10n: L10n = plainL10n): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return l10n.t('{0} s', s);
  const m = Math.round(s / 60);
  if (m < 120) return l10n.t('{0} min', m);
  const h = Math.round(m / 60);
  if (h < 48) return l10n.t('{0} h', h);
  return l10n.t('{0} d', Math.round(h / 24));
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

/** `t` may also be a bare Translate (src/extension/commands.ts passes one). */
export function describe(row: ServerRow, now: number, t: L10n | Translate = plainL10n): string {
  const l10n = typeof t === 'function' ? { t } : t;
  const s = row.status;
  switch (s.state) {
    case 'signed-in':
      return s.expiresAt !== undefined ? l10n.t('expires in {0}', humanDuration(s.expiresAt - now, l10n)) : l10n.t('signed in');
    case 'expiring':
      return s.hasRefreshToken ? l10n.t('expires in {0}', humanDuration((s.expiresAt ?? now) - now, l10n)) : l10n.t('expires in {0}, then needs sign-in', humanDuration((s.expiresAt ?? now) - now, l10n));
    case 'expired':
      return l10n.t('expired, refreshable');
    case 'needs-auth':
      return s.reason === 'signed-out' ? l10n.t('needs sign-in (refresh token rejected)') : l10n.t('needs sign-in');
    case 'blocked':
      return l10n.t('blocked by stale needs-auth entry ({0} old)', humanDuration(s.cache?.ageMs ?? 0, l10n));
    case 'refreshing':
      return l10n.t('refreshing…');
    case 'no-auth':
      return s.reason === 'stdio' ? l10n.t('local (stdio)') : s.reason === 'static-headers' ? l10n.t('static headers') : l10n.t('no OAuth');
    case 'not-approved':
      return l10n.t('awaiting approval in Claude Code');
    case 'error':
      return l10n.t('error: {0}', s.code ?? 'unknown');
  }
}

/**
 * Drives the inline and context actions (package.json menus match on it). A row this window may not act on
 * (trust.ts) gets `mcpServer.untrusted.<state>`, which no action's `when` matches except Open Config File.
 */
export function contextValueOf(row: ServerRow, trusted = true): string {
  const s = row.status;
  if (!canActOn(row, trusted)) return `mcpServer.untrusted.${s.state}`;
  const flags = [`mcpServer.${s.state}`];
  if (row.key && (s.state === 'signed-in' || s.state === 'expiring' || s.state === 'expired' || s.state === 'blocked' || (s.state === 'needs-auth' && s.clientId))) flags.push('hasToken');
  if (s.hasRefreshToken) flags.push('refreshable');
  return flags.join('.');
}

const mdEscape = (s: string) => s.replace(/([\\`*_{}[\]()#+\-.!|<>])/g, '\\$1');

export function tooltip(row: ServerRow, now: number, l10n: L10n = plainL10n, trusted = true): string {
  const s = row.status;
  const c = row.config;
  const lines: string[] = [`**${mdEscape(c.name)}** — ${mdEscape(describe(row, now, l10n))}`, ''];
  if (c.url) lines.push(l10n.t('URL: {0}', mdEscape(c.url)));
  else if (c.command) lines.push(l10n.t('Command: {0}', mdEscape([c.command, ...(c.args ?? [])].join(' '))));
  lines.push(l10n.t('Scope: {0} ({1})', c.scope, mdEscape(c.file)));
  if (c.approval === 'pending') lines.push(l10n.t('Awaiting approval in Claude Code'));
  if (s.expiresAt !== undefined) lines.push(l10n.t('Access token expires: {0}', new Date(s.expiresAt).toLocaleString()));
  if (row.key) lines.push(l10n.t('Refresh token: {0}', s.hasRefreshToken ? l10n.t('stored') : l10n.t('none')));
  if (s.client) lines.push(l10n.t('Client: {0}{1}', s.client === 'dynamic' ? l10n.t('dynamically registered') : l10n.t('static'), s.clientId ? ` (\`${s.clientId}\`)` : ''));
  if (s.cache) lines.push(l10n.t('Needs-auth cache entry: {0} old, TTL {1}{2}', humanDuration(s.cache.ageMs, l10n), humanDuration(s.cache.ttlMs, l10n), s.cache.fresh ? l10n.t(' — new Claude Code sessions skip this server') : l10n.t(' — expired')));
  if (s.lock?.held) lines.push(l10n.t('Refresh lock held by {0}{1}', mdEscape(s.lock.holder ?? '?'), s.lock.stale ? l10n.t(' (stale)') : ''));
  if (s.state === 'error') lines.push(l10n.t('Problem: {0}', mdEscape(`${s.code}: ${s.message ?? ''}`)));
  if (!canActOn(row, trusted)) lines.push(l10n.t('Restricted Mode: trust this folder to act on its .mcp.json servers'));
  return lines.join('  \n');
}

export function present(row: ServerRow, now: number, l10n: L10n = plainL10n, trusted = true): Presentation {
  const { icon, color } = ICONS[row.status.state];
  return { label: row.config.name, description: describe(row, now, l10n), icon, color, tooltip: tooltip(row, now, l10n, trusted), contextValue: contextValueOf(row, trusted) };
}

export const SCOPE_ORDER = ['managed', 'user', 'local', 'project', 'plugin'] as const;

export function scopeLabel(scope: string, l10n: L10n = plainL10n): string {
  switch (scope) {
    case 'managed': return l10n.t('Managed');
    case 'user': return l10n.t('User');
    case 'local': return l10n.t('Local (this project, private)');
    case 'project': return l10n.t('Project (.mcp.json)');
    case 'plugin': return l10n.t('Plugins');
    default: return scope;
  }
}

/** Status-bar text: shown only while this is not undefined. */
export function statusBarText(rows: ServerRow[], l10n: L10n = plainL10n): { text: string; tooltip: string; count: number } | undefined {
  const bad = rows.filter((r) => r.status.state === 'needs-auth' || r.status.state === 'blocked');
  if (bad.length === 0) return undefined;
  const blocked = bad.filter((r) => r.status.state === 'blocked').length;
  const needs = bad.length - blocked;
  const text = blocked === 0 ? (needs === 1 ? l10n.t('MCP: 1 needs sign-in') : l10n.t('MCP: {0} need sign-in', needs))
    : needs === 0 ? (blocked === 1 ? l10n.t('MCP: 1 blocked') : l10n.t('MCP: {0} blocked', blocked))
      : l10n.t('MCP: {0} need attention', bad.length);
  return { text: `$(warning) ${text}`, tooltip: bad.map((r) => `${r.config.name}: ${describe(r, Date.now(), l10n)}`).join('\n'), count: bad.length };
}
