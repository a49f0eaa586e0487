/** Diagnostics in words: the fix rule, the facts and checks of core/diagnose, the model's hints, Copy Diagnostics. */
import type * as vscode from 'vscode';
import type { Hint } from '../core';
import type { Check, Diagnosis, Fact, FixCode } from '../core/diagnose';
import { reconnectText, sessionKind } from './presentSession';
import { humanDuration, plainL10n, type L10n as Words } from './words';

/** vscode.l10n or a plain translator; naming vscode here also makes @vscode/l10n-dev scan this file (type-only, erased). */
type L10n = Words | Pick<typeof vscode.l10n, 't'>;

/** The extension's wording of the one fix rule (core/diagnose fixFor). */
export function fixText(fix: FixCode | undefined, l10n: L10n = plainL10n): string | undefined {
  switch (fix) {
    case 'invalidate':
      return l10n.t('Fix: clear the stale needs-auth entry');
    case 'refresh':
      return l10n.t('Fix: refresh');
    case 'login':
      return l10n.t('Fix: sign in');
    case 'grant':
      return l10n.t('Fix: grant additional access');
    case 'fix-store':
      return l10n.t('Fix: repair the credential store');
    case 'fix-cache':
      return l10n.t('Fix: repair the needs-auth cache');
    case 'fix-config':
      return l10n.t('Fix: repair the configuration');
    case 'claudeai-sign-in':
      return l10n.t('Fix: sign in on claude.ai, then clear the entry');
    default:
      return undefined;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

function factText(f: Fact, l10n: L10n): string {
  switch (f.code) {
    case 'defined-in':
      return l10n.t(
        'defined in {0} ({1} scope){2}',
        f.file,
        f.scope,
        f.pending ? l10n.t(', awaiting approval in Claude Code') : '',
      );
    case 'endpoint':
      return `${f.transport} ${f.target}`.trim();
    case 'no-entry':
      return l10n.t('no credential entry under key "{0}" in {1}', f.key, f.store);
    case 'entry':
      return l10n.t('credential entry "{0}" in {1}', f.key, f.store);
    case 'expires':
      return l10n.t('access token expires {0} (in {1})', iso(f.at), humanDuration(f.inMs, l10n));
    case 'expired':
      return l10n.t('access token expired {0} ({1} ago)', iso(f.at), humanDuration(f.agoMs, l10n));
    case 'tokens':
      return l10n.t(
        'refresh token: {0}; client: {1}{2}',
        f.refreshToken ? l10n.t('stored') : l10n.t('none'),
        f.client ?? l10n.t('none'),
        f.clientId ? ` (${f.clientId})` : '',
      );
    case 'step-up':
      return l10n.t(
        'the server asked for scope "{0}" (403 insufficient_scope); the token has "{1}"{2}',
        f.required,
        f.granted ?? '',
        f.missing.length ? l10n.t(', lacking {0}', f.missing.join(' ')) : '',
      );
    case 'spent-token':
      return f.cause === 'interrupted'
        ? l10n.t(
            'a refresh begun at {0} was interrupted before its answer was stored: the refresh token may be spent and is not sent again (sign in again)',
            iso(f.at),
          )
        : f.cause === 'answer-lost'
          ? l10n.t(
              'the refresh token was sent at {0} and the answer was lost: it may be spent and is not sent again (sign in again)',
              iso(f.at),
            )
          : l10n.t(
              'the stored refresh token was answered 200 at {0} but the answer could not be stored: it is spent (sign in again)',
              iso(f.at),
            );
    case 'cache-entry':
      return l10n.t(
        'needs-auth cache entry written {0}, {1} old, TTL {2}: {3}',
        iso(f.at),
        humanDuration(f.ageMs, l10n),
        humanDuration(f.ttlMs, l10n),
        f.fresh
          ? l10n.t('in force: new Claude Code sessions skip this server')
          : l10n.t('expired (ignored by Claude Code)'),
      );
    case 'no-cache-entry':
      return l10n.t('no needs-auth cache entry');
    case 'odd-answer':
      return l10n.t('the last token answer ({0}) was odd: {1}; stored anyway', iso(f.at), f.warnings.join(', '));
    case 'lock-held':
      return l10n.t(
        'refresh lock held by {0}, heartbeat {1} ago{2}',
        f.holder,
        humanDuration(f.ageMs, l10n),
        f.stale ? l10n.t(' (stale)') : '',
      );
    case 'lock-free':
      return l10n.t('refresh lock free');
    case 'state':
      return f.state === 'error'
        ? l10n.t('state {0}: {1}: {2}', f.state, f.error ?? '', f.message ?? '')
        : l10n.t('state {0} ({1})', f.state, f.reason);
    case 'hint':
      return hintText(f.hint, l10n);
    case 'connector':
      return l10n.t(
        'claude.ai connector{0}, from the claude.ai account; reached with the claude.ai login (never by MCP Auth){1}',
        f.id ? ` ${f.id}` : '',
        f.everConnected ? l10n.t('; connected by a session before') : '',
      );
    case 'connector-entry':
      return f.fresh
        ? l10n.t(
            "needs-auth entry written {0}, {1} old, TTL {2}: the connector's own sign-in on claude.ai lapsed; new sessions skip it until {3}",
            iso(f.at),
            humanDuration(f.ageMs, l10n),
            humanDuration(f.ttlMs, l10n),
            iso(f.until ?? f.at + f.ttlMs),
          )
        : l10n.t(
            'needs-auth entry written {0}: {1}, so Claude Code ignores it',
            iso(f.at),
            f.ignored === 'no-id' ? l10n.t('no connector id') : l10n.t('past its TTL'),
          );
    case 'connector-sign-in':
      return f.url
        ? l10n.t('sign in on claude.ai: {0}; then clear the entry', f.url)
        : l10n.t('sign in on claude.ai (claude mcp login); then clear the entry');
    case 'session-lacking':
      return l10n.t(
        'running session pid {0} ({1}) in {2}, started {3} while the needs-auth entry stood: it lacks this server. {4}',
        f.session.pid,
        sessionKind(f.session),
        f.session.cwd,
        iso(f.session.startedAt),
        reconnectText(f.session.fix, l10n),
      );
  }
}

/** Why, beyond the state: the extension's words for the model's hint codes (tooltip and diagnostics). */
export function hintText(h: Hint, l10n: L10n = plainL10n): string {
  switch (h.code) {
    case 'no-offline-access':
      return l10n.t(
        'No refresh token: sign-in needed again when this token expires at {0} — the server did not grant offline access.',
        new Date(h.expiresAt).toLocaleTimeString(),
      );
    case 'client-rejected':
      return l10n.t(
        'The authorization server rejected the stored client registration (invalid_client). Fix: Forget Client Registration and Sign In, or Sign In with Claude Code.',
      );
    case 'shared-cache-name':
      return l10n.t(
        "{0} different servers use this name across your folders; Claude Code's needs-auth cache keys by name only, so a failure of one blocks the others. Give them different names.",
        h.definitions,
      );
    case 'shared-cache-profiles': {
      const without = h.profiles.filter((p) => !p.hasToken).map((p) => p.dir);
      return l10n.t(
        'The needs-auth cache {0} is shared with other secure-storage profiles (CLAUDE_SECURESTORAGE_CONFIG_DIR); {1} has no token for this server, so its sessions write this entry and it blocks this profile too. Sign in from that profile, or give each profile its own CLAUDE_CONFIG_DIR.',
        h.cacheFile,
        without.join(', '),
      );
    }
  }
}

function checkText(c: Check, l10n: L10n): string {
  switch (c.code) {
    case 'store-mode':
      return l10n.t(
        '{0} mode {1}{2}',
        c.location,
        c.mode.toString(8).padStart(4, '0'),
        c.ok ? '' : l10n.t(' (should be 0600)'),
      );
    case 'lock':
      return l10n.t(
        '{0}: held by {1}, heartbeat {2} ago{3}',
        c.name,
        c.holder,
        humanDuration(c.ageMs, l10n),
        c.stale ? l10n.t(' (stale)') : '',
      );
    case 'lock-owner':
      return l10n.t(
        '{0}: owner file of an interrupted mcp-auth (pid {1}){2}',
        c.name,
        c.pid,
        c.removed ? l10n.t(', removed') : '',
      );
    case 'temp-file':
      return l10n.t('{0}: temporary file left by an interrupted write', c.name);
  }
}

/** Copy Diagnostics: the diagnosis as plain text for an issue report (the caller redacts it). */
export function diagnosisText(
  d: Diagnosis,
  issues: { code: string; message: string }[],
  when: Date,
  l10n: L10n = plainL10n,
): string {
  return [
    l10n.t('MCP Auth Status diagnostics ({0})', when.toISOString()),
    l10n.t('config dir: {0}', d.configDir),
    l10n.t('credential store: {0}', d.store),
    l10n.t('needs-auth cache: {0}', d.cacheFile),
    l10n.t('config files: {0}', d.configFiles.join(', ') || l10n.t('(none)')),
    '',
    ...d.servers.flatMap((s) => [
      `${s.name} [${s.state}]`,
      ...s.facts.map((f) => `  ${factText(f, l10n)}`),
      ...(s.fix ? [`  ${fixText(s.fix, l10n)}`] : []),
      '',
    ]),
    ...d.checks.map((c) => `${c.ok ? 'ok  ' : 'WARN'} ${checkText(c, l10n)}`),
    ...issues.map((i) => l10n.t('problem: {0}: {1}', i.code, i.message)),
  ].join('\n');
}
