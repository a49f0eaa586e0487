import type { AuthState, ServerRow, StatusReason } from '../core';
import { durationParts } from '../core/duration';

export interface Style {
  color: boolean;
}

const COLORS: Record<AuthState, string> = {
  'signed-in': '32',
  expiring: '33',
  expired: '33',
  'needs-auth': '31',
  blocked: '31',
  'needs-scope': '35',
  refreshing: '36',
  'no-auth': '2',
  unchecked: '2',
  'not-approved': '2',
  error: '31',
};

export function paint(style: Style, state: AuthState, text: string): string {
  return style.color ? `\x1b[${COLORS[state]}m${text}\x1b[0m` : text;
}

export function duration(ms: number): string {
  const { value, unit } = durationParts(ms);
  return `${value} ${unit}`;
}

export const REASON_TEXT: Record<StatusReason, string> = {
  valid: 'token valid',
  'no-expiry': 'token valid, no expiry',
  'in-window': 'inside the refresh window',
  'in-window-no-refresh-token': 'expiring soon, no refresh token (sign-in will be needed)',
  'expired-refreshable': 'access token expired, refresh token stored',
  'no-entry': 'never signed in',
  stub: 'server answered 401; sign-in needed',
  'signed-out': 'signed out after the refresh token was rejected',
  'no-refresh-token': 'expired, no refresh token',
  'cache-entry': 'needs-auth cache entry',
  'lock-held': 'a refresh is in progress',
  stdio: 'local (stdio) server',
  'static-headers': 'static headers',
  'no-oauth-data': 'no OAuth data',
  'not-checked': 'not contacted yet: whether it needs a sign-in is not known (mcp-auth doctor --probe asks it)',
  'unset-variable': 'a ${VAR} in its url or headers is not set here',
  credman:
    'Claude Code keeps its tokens in Windows Credential Manager here; mcp-auth can show state but cannot refresh or sign in',
  'unsupported-transport': 'transport without OAuth',
  'store-error': 'credential store unreadable',
  'cache-error': 'needs-auth cache unreadable',
  'config-error': 'configuration problem',
  'entry-invalid': 'stored entry malformed',
  'step-up':
    'the server asked for scopes the stored token lacks (403 insufficient_scope); sign in again for the union of scopes',
  'token-spent':
    'an interrupted refresh may have spent the stored refresh token (or its answer was lost); mcp-auth will not send it again: sign in again',
  'claudeai-sign-in':
    "needs sign-in on claude.ai: the connector's own sign-in there lapsed, and new Claude Code sessions skip it while the entry stands",
  'claudeai-entry-ignored':
    'claude.ai connector; its needs-auth entry is expired or has no connector id (Claude Code ignores it)',
  'claudeai-connector': 'claude.ai connector (Claude Code connects it with your claude.ai login)',
  'awaiting-approval':
    'from .mcp.json, awaiting approval in Claude Code (run `claude` in this folder); mcp-auth does not act on it',
};

/** One line of detail for a row, as in the tree's description. */
export function detail(row: ServerRow, now: number): string {
  const s = row.status;
  const parts: string[] = [];
  switch (s.state) {
    case 'signed-in':
    case 'expiring':
      parts.push(s.expiresAt !== undefined ? `expires in ${duration(s.expiresAt - now)}` : 'no expiry');
      if (s.state === 'expiring' && !s.hasRefreshToken) parts.push('no refresh token');
      break;
    case 'expired':
      parts.push(s.expiresAt ? `expired ${duration(now - s.expiresAt)} ago, refreshable` : 'refreshable');
      break;
    case 'needs-scope':
      parts.push(`needs scope ${(s.missingScopes ?? []).join(' ')} (the server answered 403 insufficient_scope)`);
      break;
    case 'needs-auth':
      if (s.reason === 'claudeai-sign-in') {
        const until = s.cache ? s.cache.timestamp + s.cache.ttlMs : now;
        parts.push(`needs sign-in on claude.ai; new sessions skip it for ${duration(until - now)} more`);
      } else parts.push(REASON_TEXT[s.reason]);
      break;
    case 'blocked':
      parts.push(`stale needs-auth entry (${duration(s.cache?.ageMs ?? 0)} old) blocks new sessions`);
      break;
    case 'refreshing':
      parts.push(`refresh in progress (${s.lock?.holder ?? 'another process'})`);
      break;
    case 'error':
      parts.push(
        s.reason === 'unset-variable'
          ? `unset-variable: ${(s.variables ?? []).map((v) => '${' + v + '}').join(', ')} in its url or headers is not set here; mcp-auth will not act on it`
          : s.reason === 'credman'
            ? `store-credman: ${REASON_TEXT.credman}`
            : `${s.code}: ${s.message ?? ''}`,
      );
      break;
    case 'no-auth':
      parts.push(
        s.reason === 'claudeai-entry-ignored'
          ? `claude.ai connector; needs-auth entry ${s.cache?.ignored === 'no-id' ? 'without connector id' : 'expired'} (ignored by Claude Code)`
          : s.reason === 'claudeai-connector'
            ? 'claude.ai connector'
            : REASON_TEXT[s.reason],
      );
      break;
    default:
      parts.push(REASON_TEXT[s.reason]);
  }
  // the problem first; a refresh under way (a held lock) does not fix it and may be a dead holder's
  if (s.refreshInProgress && s.state !== 'refreshing')
    parts.push(`refresh in progress (${s.lock?.holder ?? 'another process'})`);
  return parts.join(', ');
}

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => visible(r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i] - visible(c).length)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function visible(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '');
}
