/**
 * Pure presentation: a server's state → what the tree shows. No vscode import at run time, so it is unit-tested
 * in plain Node; words go through the injected `l10n` (vscode.l10n in the extension, plainL10n elsewhere).
 *
 * Every text is written `l10n.t('literal', …)`: that is the form @vscode/l10n-dev extracts into
 * l10n/bundle.l10n.json, and it only scans files that import vscode; hence the type-only import (erased).
 */
import type * as vscode from 'vscode';
import type { AuthState, ServerRow } from '../core';
import { needsAttention } from '../core/status';
import { hintText } from './presentDiagnosis';
import { reconnectText, sessionKind } from './presentSession';
import { canActOn } from './trust';
import { humanDuration, mdEscape, plainL10n, type L10n as Words, type Translate } from './words';

// the words of the other areas, under the names importers have always used
export { diagnosisText, fixText, hintText } from './presentDiagnosis';
export { presentSession, reconnectText, sessionKind } from './presentSession';
export { humanDuration, plainL10n, plainT, type L10n, type Translate } from './words';

/** vscode.l10n or a plain translator; naming vscode here also makes @vscode/l10n-dev scan this file (type-only, erased). */
type L10n = Words | Pick<typeof vscode.l10n, 't'>;

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

const ICONS: Record<AuthState, { icon: string; color?: string }> = {
  'signed-in': { icon: 'pass-filled', color: 'testing.iconPassed' },
  expiring: { icon: 'clock', color: 'charts.yellow' },
  expired: { icon: 'history', color: 'charts.yellow' },
  'needs-auth': { icon: 'key', color: 'errorForeground' },
  blocked: { icon: 'circle-slash', color: 'errorForeground' },
  'needs-scope': { icon: 'shield', color: 'charts.orange' },
  refreshing: { icon: 'sync~spin' },
  'no-auth': { icon: 'circle-outline', color: 'disabledForeground' },
  unchecked: { icon: 'question', color: 'disabledForeground' },
  'not-approved': { icon: 'debug-pause', color: 'disabledForeground' },
  error: { icon: 'error', color: 'errorForeground' },
};

/** `t` may also be a bare Translate (src/extension/commands/ passes one). */
export function describe(row: ServerRow, now: number, t: L10n | Translate = plainL10n): string {
  const l10n = typeof t === 'function' ? { t } : t;
  const s = row.status;
  switch (s.state) {
    case 'signed-in':
      return s.expiresAt !== undefined
        ? l10n.t('expires in {0}', humanDuration(s.expiresAt - now, l10n))
        : l10n.t('signed in');
    case 'expiring':
      return s.hasRefreshToken
        ? l10n.t('expires in {0}', humanDuration((s.expiresAt ?? now) - now, l10n))
        : l10n.t('expires in {0}, then needs sign-in', humanDuration((s.expiresAt ?? now) - now, l10n));
    case 'expired':
      return l10n.t('expired, refreshable');
    case 'needs-auth':
      if (s.reason === 'claudeai-sign-in') return l10n.t('needs sign-in on claude.ai');
      return s.reason === 'signed-out'
        ? l10n.t('needs sign-in (refresh token rejected)')
        : s.reason === 'token-spent'
          ? l10n.t('needs sign-in (an interrupted refresh may have spent its token)')
          : l10n.t('needs sign-in');
    case 'blocked':
      return l10n.t('blocked by stale needs-auth entry ({0} old)', humanDuration(s.cache?.ageMs ?? 0, l10n));
    case 'needs-scope':
      return l10n.t('needs additional access: {0}', (s.missingScopes ?? []).join(' '));
    case 'refreshing':
      return l10n.t('refreshing…');
    case 'no-auth':
      if (s.reason === 'claudeai-entry-ignored')
        return s.cache?.ignored === 'no-id'
          ? l10n.t('claude.ai connector — needs-auth entry without id (ignored)')
          : l10n.t('claude.ai connector — needs-auth entry expired (ignored)');
      if (s.reason === 'claudeai-connector') return l10n.t('claude.ai connector');
      return s.reason === 'stdio'
        ? l10n.t('local (stdio)')
        : s.reason === 'static-headers'
          ? l10n.t('static headers')
          : l10n.t('no OAuth');
    case 'unchecked':
      return l10n.t('not checked yet');
    case 'not-approved':
      return l10n.t('awaiting approval in Claude Code');
    case 'error':
      if (s.reason === 'unset-variable')
        return l10n.t('error: {0} is not set here', (s.variables ?? []).map((v) => '${' + v + '}').join(', '));
      if (s.reason === 'credman') return l10n.t('tokens in Windows Credential Manager');
      return l10n.t('error: {0}', s.code ?? 'unknown');
  }
}

/**
 * Drives the inline and context actions (package.json menus match on it). A row this window may not act on
 * (trust.ts) gets `mcpServer.untrusted.<state>`, which no action's `when` matches except Open Config File.
 */
export function contextValueOf(row: ServerRow, trusted = true): string {
  const s = row.status;
  // claude.ai connectors have their own actions (Sign In on claude.ai, I Have Signed In — Clear), none of the others
  if (row.config.transport === 'claudeai-proxy')
    return s.state === 'needs-auth'
      ? 'mcpConnector.needsSignIn'
      : s.reason === 'claudeai-entry-ignored'
        ? 'mcpConnector.ignoredEntry'
        : `mcpConnector.${s.state}`;
  if (!canActOn(row, trusted)) return `mcpServer.untrusted.${s.state}`;
  const flags = [`mcpServer.${s.state}`];
  if (
    row.key &&
    (s.state === 'signed-in' ||
      s.state === 'expiring' ||
      s.state === 'expired' ||
      s.state === 'blocked' ||
      s.state === 'needs-scope' ||
      (s.state === 'needs-auth' && s.clientId))
  )
    flags.push('hasToken');
  if (s.hasRefreshToken) flags.push('refreshable');
  if (row.hints?.some((h) => h.code === 'client-rejected')) flags.push('clientRejected');
  return flags.join('.');
}

/** A claude.ai connector's tooltip: where it comes from, what its entry means, until when it blocks new sessions. */
function connectorTooltip(row: ServerRow, l10n: L10n): string[] {
  const s = row.status;
  const c = row.config;
  const lines: string[] = [
    l10n.t(
      "claude.ai connector{0}: from your claude.ai account. Claude Code reaches it with your claude.ai login; MCP Auth never reads, refreshes or sends that login's token.",
      c.connectorId ? ` \`${c.connectorId}\`` : '',
    ),
  ];
  if (s.cache?.fresh)
    lines.push(
      l10n.t(
        'Needs-auth entry written {0} ago: its own sign-in on claude.ai lapsed. New Claude Code sessions skip it until {1}.',
        humanDuration(s.cache.ageMs, l10n),
        new Date(s.cache.timestamp + s.cache.ttlMs).toLocaleString(),
      ),
      l10n.t(
        'A fresh claude.ai login does not make this entry stale. Sign in on claude.ai, then choose "I Have Signed In — Clear": new sessions retry it; sessions already running keep what they read at start (/mcp → Reconnect there).',
      ),
    );
  else if (s.cache)
    lines.push(
      s.cache.ignored === 'no-id'
        ? l10n.t('Needs-auth entry without a connector id: Claude Code ignores it.')
        : l10n.t('Needs-auth entry {0} old, past its TTL: Claude Code ignores it.', humanDuration(s.cache.ageMs, l10n)),
    );
  if (c.everConnected) lines.push(l10n.t('A Claude Code session connected it before.'));
  if (s.state === 'error') lines.push(l10n.t('Problem: {0}', mdEscape(`${s.code}: ${s.message ?? ''}`)));
  return lines;
}

export function tooltip(row: ServerRow, now: number, l10n: L10n = plainL10n, trusted = true): string {
  const s = row.status;
  const c = row.config;
  const lines: string[] = [`**${mdEscape(c.name)}** — ${mdEscape(describe(row, now, l10n))}`, ''];
  if (c.transport === 'claudeai-proxy') return [...lines, ...connectorTooltip(row, l10n)].join('  \n');
  if (c.url) lines.push(l10n.t('URL: {0}', mdEscape(c.url)));
  else if (c.command) lines.push(l10n.t('Command: {0}', mdEscape([c.command, ...(c.args ?? [])].join(' '))));
  lines.push(l10n.t('Scope: {0} ({1})', c.scope, mdEscape(c.file)));
  if (c.approval === 'pending') lines.push(l10n.t('Awaiting approval in Claude Code'));
  if (s.expiresAt !== undefined)
    lines.push(l10n.t('Access token expires: {0}', new Date(s.expiresAt).toLocaleString()));
  if (s.scope) lines.push(l10n.t('Scopes: {0}', mdEscape(s.scope)));
  if (s.state === 'needs-scope')
    lines.push(
      l10n.t(
        'The server asked for more access (403 insufficient_scope); missing: {0}',
        mdEscape((s.missingScopes ?? []).join(' ')),
      ),
    );
  if (row.key) lines.push(l10n.t('Refresh token: {0}', s.hasRefreshToken ? l10n.t('stored') : l10n.t('none')));
  if (s.client)
    lines.push(
      l10n.t(
        'Client: {0}{1}',
        s.client === 'dynamic' ? l10n.t('dynamically registered') : l10n.t('static'),
        s.clientId ? ` (\`${s.clientId}\`)` : '',
      ),
    );
  if (s.cache)
    lines.push(
      l10n.t(
        'Needs-auth cache entry: {0} old, TTL {1}{2}',
        humanDuration(s.cache.ageMs, l10n),
        humanDuration(s.cache.ttlMs, l10n),
        s.cache.fresh ? l10n.t(' — new Claude Code sessions skip this server') : l10n.t(' — expired'),
      ),
    );
  if (s.lock?.held)
    lines.push(
      l10n.t('Refresh lock held by {0}{1}', mdEscape(s.lock.holder ?? '?'), s.lock.stale ? l10n.t(' (stale)') : ''),
    );
  if (s.state === 'unchecked')
    lines.push(
      l10n.t(
        'Not contacted yet: whether this server needs a sign-in is not known until Claude Code (or mcp-auth doctor --probe) connects to it.',
      ),
    );
  if (s.state === 'error' && s.reason === 'unset-variable')
    lines.push(
      l10n.t(
        'Problem: {0} in the url or headers is not set in the environment VS Code started with, so the stored entry cannot be found; MCP Auth will not act on this server. Start VS Code from a shell that sets it.',
        mdEscape((s.variables ?? []).map((v) => '${' + v + '}').join(', ')),
      ),
    );
  else if (s.state === 'error' && s.reason === 'credman') lines.push(mdEscape(credmanText(l10n)));
  else if (s.state === 'error') lines.push(l10n.t('Problem: {0}', mdEscape(`${s.code}: ${s.message ?? ''}`)));
  for (const h of row.hints ?? []) lines.push(mdEscape(hintText(h, l10n)));
  for (const ss of row.sessionsLacking ?? [])
    lines.push(
      mdEscape(
        l10n.t(
          'Running session in {0} (started {1}, {2}) started while the needs-auth entry stood and lacks this server. {3}',
          ss.cwd,
          new Date(ss.startedAt).toLocaleString(),
          sessionKind(ss),
          reconnectText(ss.fix, l10n),
        ),
      ),
    );
  if (!canActOn(row, trusted)) lines.push(l10n.t('Restricted Mode: trust this folder to act on its .mcp.json servers'));
  return lines.join('  \n');
}

export function present(row: ServerRow, now: number, l10n: L10n = plainL10n, trusted = true): Presentation {
  const { icon, color } = ICONS[row.status.state];
  return {
    label: row.config.name,
    description:
      row.status.refreshInProgress && row.status.state !== 'refreshing'
        ? l10n.t('{0} (refresh in progress)', describe(row, now, l10n))
        : describe(row, now, l10n),
    icon,
    color,
    tooltip: tooltip(row, now, l10n, trusted),
    contextValue: contextValueOf(row, trusted),
  };
}

export const SCOPE_ORDER = ['managed', 'user', 'local', 'project', 'plugin', 'claudeai'] as const;

export function scopeLabel(scope: string, l10n: L10n = plainL10n): string {
  switch (scope) {
    case 'managed':
      return l10n.t('Managed');
    case 'user':
      return l10n.t('User');
    case 'local':
      return l10n.t('Local (this project, private)');
    case 'project':
      return l10n.t('Project (.mcp.json)');
    case 'plugin':
      return l10n.t('Plugins');
    case 'claudeai':
      return l10n.t('claude.ai connectors');
    default:
      return scope;
  }
}

/** Windows Credential Manager mode (core store/credman.ts): what MCP Auth can and cannot do there. */
export function credmanText(l10n: L10n = plainL10n): string {
  return l10n.t(
    'Claude Code keeps its tokens in Windows Credential Manager here; MCP Auth can show state but cannot refresh or sign in',
  );
}

/** Status-bar text: shown only while this is not undefined. */
export function statusBarText(
  rows: ServerRow[],
  l10n: L10n = plainL10n,
): { text: string; tooltip: string; count: number } | undefined {
  const credman = rows.filter((r) => r.status.reason === 'credman');
  if (credman.length)
    return {
      text: `$(warning) ${l10n.t('MCP: Windows Credential Manager')}`,
      tooltip: credmanText(l10n),
      count: credman.length,
    };
  const bad = rows.filter((r) => needsAttention(r.status.state));
  if (bad.length === 0) return undefined;
  const blocked = bad.filter((r) => r.status.state === 'blocked').length;
  const needs = bad.length - blocked;
  const text =
    blocked === 0
      ? needs === 1
        ? l10n.t('MCP: 1 needs sign-in')
        : l10n.t('MCP: {0} need sign-in', needs)
      : needs === 0
        ? blocked === 1
          ? l10n.t('MCP: 1 blocked')
          : l10n.t('MCP: {0} blocked', blocked)
        : l10n.t('MCP: {0} need attention', bad.length);
  return {
    text: `$(warning) ${text}`,
    tooltip: bad.map((r) => `${r.config.name}: ${describe(r, Date.now(), l10n)}`).join('\n'),
    count: bad.length,
  };
}
