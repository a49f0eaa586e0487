/**
 * Pure presentation: a server's state → what the tree shows. No vscode import, so it is unit-tested in plain
 * Node; words go through the injected `t` (vscode.l10n.t in the extension).
 */
import type { AuthState, ServerRow } from '../core';
import { needsAttention } from '../core/status';
import { durationParts } from '../core/duration';
import type { Check, Diagnosis, Fact, FixCode } from '../core/diagnose';

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
  const { value, unit } = durationParts(ms);
  switch (unit) {
    case 's': return t('{0} s', value);
    case 'min': return t('{0} min', value);
    case 'h': return t('{0} h', value);
    case 'd': return t('{0} d', value);
  }
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
  const bad = rows.filter((r) => needsAttention(r.status.state));
  if (bad.length === 0) return undefined;
  const blocked = bad.filter((r) => r.status.state === 'blocked').length;
  const needs = bad.length - blocked;
  const text = blocked === 0 ? (needs === 1 ? t('MCP: 1 needs sign-in') : t('MCP: {0} need sign-in', needs))
    : needs === 0 ? (blocked === 1 ? t('MCP: 1 blocked') : t('MCP: {0} blocked', blocked))
      : t('MCP: {0} need attention', bad.length);
  return { text: `$(warning) ${text}`, tooltip: bad.map((r) => `${r.config.name}: ${describe(r, Date.now(), t)}`).join('\n'), count: bad.length };
}

/** The extension's wording of the one fix rule (core/diagnose fixFor). */
export function fixText(fix: FixCode | undefined, t: Translate = plainT): string | undefined {
  switch (fix) {
    case 'invalidate': return t('Fix: clear the stale needs-auth entry');
    case 'refresh': return t('Fix: refresh');
    case 'login': return t('Fix: sign in');
    case 'fix-store': return t('Fix: repair the credential store');
    case 'fix-cache': return t('Fix: repair the needs-auth cache');
    case 'fix-config': return t('Fix: repair the configuration');
    default: return undefined;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

function factText(f: Fact, t: Translate): string {
  switch (f.code) {
    case 'defined-in': return t('defined in {0} ({1} scope){2}', f.file, f.scope, f.pending ? t(', awaiting approval in Claude Code') : '');
    case 'endpoint': return `${f.transport} ${f.target}`.trim();
    case 'no-entry': return t('no credential entry under key "{0}" in {1}', f.key, f.store);
    case 'entry': return t('credential entry "{0}" in {1}', f.key, f.store);
    case 'expires': return t('access token expires {0} (in {1})', iso(f.at), humanDuration(f.inMs, t));
    case 'expired': return t('access token expired {0} ({1} ago)', iso(f.at), humanDuration(f.agoMs, t));
    case 'tokens': return t('refresh token: {0}; client: {1}{2}', f.refreshToken ? t('stored') : t('none'), f.client ?? t('none'), f.clientId ? ` (${f.clientId})` : '');
    case 'spent-token': return t('the stored refresh token was answered 200 at {0} but the answer could not be stored: it is spent (sign in again)', iso(f.at));
    case 'cache-entry': return t('needs-auth cache entry written {0}, {1} old, TTL {2}: {3}', iso(f.at), humanDuration(f.ageMs, t), humanDuration(f.ttlMs, t), f.fresh ? t('in force: new Claude Code sessions skip this server') : t('expired (ignored by Claude Code)'));
    case 'no-cache-entry': return t('no needs-auth cache entry');
    case 'odd-answer': return t('the last token answer ({0}) was odd: {1}; stored anyway', iso(f.at), f.warnings.join(', '));
    case 'lock-held': return t('refresh lock held by {0}, heartbeat {1} ago{2}', f.holder, humanDuration(f.ageMs, t), f.stale ? t(' (stale)') : '');
    case 'lock-free': return t('refresh lock free');
    case 'state': return f.state === 'error' ? t('state {0}: {1}: {2}', f.state, f.error ?? '', f.message ?? '') : t('state {0} ({1})', f.state, f.reason);
  }
}

function checkText(c: Check, t: Translate): string {
  switch (c.code) {
    case 'store-mode': return t('{0} mode {1}{2}', c.location, c.mode.toString(8).padStart(4, '0'), c.ok ? '' : t(' (should be 0600)'));
    case 'lock': return t('{0}: held by {1}, heartbeat {2} ago{3}', c.name, c.holder, humanDuration(c.ageMs, t), c.stale ? t(' (stale)') : '');
    case 'lock-owner': return t('{0}: owner file of an interrupted mcp-auth (pid {1}){2}', c.name, c.pid, c.removed ? t(', removed') : '');
    case 'temp-file': return t('{0}: temporary file left by an interrupted write', c.name);
  }
}

/** Copy Diagnostics: the diagnosis as plain text for an issue report (the caller redacts it). */
export function diagnosisText(d: Diagnosis, issues: { code: string; message: string }[], when: Date, t: Translate = plainT): string {
  return [
    t('MCP Auth Status diagnostics ({0})', when.toISOString()),
    t('config dir: {0}', d.configDir), t('credential store: {0}', d.store), t('needs-auth cache: {0}', d.cacheFile),
    t('config files: {0}', d.configFiles.join(', ') || t('(none)')), '',
    ...d.servers.flatMap((s) => [`${s.name} [${s.state}]`, ...s.facts.map((f) => `  ${factText(f, t)}`), ...(s.fix ? [`  ${fixText(s.fix, t)}`] : []), '']),
    ...d.checks.map((c) => `${c.ok ? 'ok  ' : 'WARN'} ${checkText(c, t)}`),
    ...issues.map((i) => t('problem: {0}: {1}', i.code, i.message)),
  ].join('\n');
}
