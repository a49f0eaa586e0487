import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  present,
  statusBarText,
  contextValueOf,
  humanDuration,
  describe,
  plainT,
  fixText,
  presentSession,
  reconnectText,
  diagnosisText,
  type Translate,
} from '../../../src/extension/present';
import { diagnose, fixFor } from '../../../src/core/diagnose';
import { canActOn, assertCanActOn } from '../../../src/extension/trust';
import type { ServerRow } from '../../../src/core';

const NOW = 1_800_000_000_000;
const row = (name: string, status: Partial<ServerRow['status']>, extra: Partial<ServerRow> = {}): ServerRow => ({
  config: { name, scope: 'user', file: '/h/.claude.json', transport: 'http', url: `https://x/${name}` },
  key: `${name}|0123456789abcdef`,
  status: { state: 'signed-in', reason: 'valid', hasRefreshToken: true, ...status },
  ...extra,
});

test('present: description, icon and inline-action context per state', () => {
  const cases: [ServerRow, string, string, RegExp][] = [
    [
      row('a', { expiresAt: NOW + 12 * 60_000 }),
      'expires in 12 min',
      'pass-filled',
      /^mcpServer\.signed-in\.hasToken\.refreshable$/,
    ],
    [
      row('b', { state: 'expiring', reason: 'in-window', expiresAt: NOW + 90_000 }),
      'expires in 2 min',
      'clock',
      /^mcpServer\.expiring/,
    ],
    [
      row('c', { state: 'expired', reason: 'expired-refreshable', expiresAt: NOW - 1 }),
      'expired, refreshable',
      'history',
      /refreshable/,
    ],
    [
      row('d', { state: 'needs-auth', reason: 'stub', hasRefreshToken: false }),
      'needs sign-in',
      'key',
      /^mcpServer\.needs-auth$/,
    ],
    [
      row('e', {
        state: 'blocked',
        reason: 'cache-entry',
        cache: { timestamp: NOW - 240_000, ttlMs: 900_000, ageMs: 240_000, fresh: true },
      }),
      'blocked by stale needs-auth entry (4 min old)',
      'circle-slash',
      /^mcpServer\.blocked\.hasToken/,
    ],
    [row('f', { state: 'refreshing', reason: 'lock-held' }), 'refreshing…', 'sync~spin', /^mcpServer\.refreshing/],
    [
      // a held lock over a problem: the problem, its icon and its actions; the refresh only a detail
      row('f2', {
        state: 'blocked',
        reason: 'cache-entry',
        cache: { timestamp: NOW - 240_000, ttlMs: 900_000, ageMs: 240_000, fresh: true },
        lock: { held: true, stale: false, ageMs: 1000, holder: 'another process (Claude Code or an older mcp-auth)' },
        refreshInProgress: true,
      }),
      'blocked by stale needs-auth entry (4 min old) (refresh in progress)',
      'circle-slash',
      /^mcpServer\.blocked\.hasToken/,
    ],
    [
      row('g', { state: 'no-auth', reason: 'stdio', hasRefreshToken: false }, { key: undefined }),
      'local (stdio)',
      'circle-outline',
      /^mcpServer\.no-auth$/,
    ],
    [
      row('h', { state: 'error', reason: 'store-error', code: 'store-parse', message: 'x', hasRefreshToken: false }),
      'error: store-parse',
      'error',
      /^mcpServer\.error$/,
    ],
  ];
  for (const [r, desc, icon, ctx] of cases) {
    const p = present(r, NOW);
    assert.equal(p.description, desc, r.config.name);
    assert.equal(p.icon, icon, r.config.name);
    assert.match(p.contextValue, ctx, r.config.name);
    assert.ok(p.tooltip.startsWith(`**${r.config.name}**`));
  }
});

test('present: the tooltip names URL, scope, file, expiry, client, cache entry age and lock holder', () => {
  const p = present(
    row('demo', {
      state: 'blocked',
      reason: 'cache-entry',
      expiresAt: NOW + 3600_000,
      client: 'dynamic',
      clientId: 'cid',
      cache: { timestamp: NOW - 60_000, ttlMs: 900_000, ageMs: 60_000, fresh: true },
      lock: { held: true, stale: false, holder: 'mcp-auth pid 7 on h' },
    }),
    NOW,
  );
  for (const s of [
    'URL: https://x/demo',
    'Scope: user',
    '.claude.json',
    'Access token expires',
    'dynamically registered',
    'Needs-auth cache entry: 1 min old, TTL 15 min',
    'new Claude Code sessions skip this server',
    'Refresh lock held by mcp-auth pid 7 on h',
  ]) {
    assert.ok(p.tooltip.replace(/\\/g, '').includes(s), `${s} in ${p.tooltip}`);
  }
});

test('statusBarText: hidden when all is well; counts needs-auth and blocked', () => {
  assert.equal(statusBarText([row('a', {})]), undefined);
  assert.equal(
    statusBarText([row('a', { state: 'needs-auth' }), row('b', { state: 'needs-auth' })])?.text,
    '$(warning) MCP: 2 need sign-in',
  );
  assert.equal(statusBarText([row('a', { state: 'needs-auth' })])?.text, '$(warning) MCP: 1 needs sign-in');
  assert.equal(statusBarText([row('a', { state: 'blocked' })])?.text, '$(warning) MCP: 1 blocked');
  assert.equal(
    statusBarText([row('a', { state: 'blocked' }), row('b', { state: 'needs-auth' }), row('c', { state: 'expired' })])
      ?.count,
    2,
  );
});

test('contextValueOf and humanDuration edges', () => {
  assert.equal(
    contextValueOf(row('x', { state: 'needs-auth', hasRefreshToken: false, clientId: 'c' })),
    'mcpServer.needs-auth.hasToken',
  );
  assert.equal(humanDuration(59_499), '59 s');
  assert.equal(humanDuration(60_000), '1 min');
  assert.equal(humanDuration(-5), '0 s');
  assert.equal(humanDuration(3 * 86400_000), '3 d');
});

test('canActOn: in Restricted Mode only project-scope (.mcp.json) servers are refused', () => {
  for (const scope of ['managed', 'user', 'local', 'project', 'plugin'] as const) {
    const r = row('s', {}, { config: { ...row('s', {}).config, scope } });
    assert.equal(canActOn(r, true), true, `${scope}, trusted`);
    assert.equal(canActOn(r, false), scope !== 'project', `${scope}, restricted`);
  }
});

test('assertCanActOn: a coded error with the translated message, only for a refused row', () => {
  const project = row('proj', {}, { config: { ...row('proj', {}).config, scope: 'project', file: '/w/.mcp.json' } });
  assert.doesNotThrow(() => assertCanActOn(project, true, { t: plainT }));
  assert.doesNotThrow(() => assertCanActOn(row('user', {}), false, { t: plainT }));
  const seen: string[] = [];
  const spy: Translate = (m, ...a) => {
    seen.push(m);
    return plainT(m, ...a);
  };
  assert.throws(
    () => assertCanActOn(project, false, { t: spy }),
    (e: Error & { code?: string }) =>
      e.code === 'untrusted-workspace' && e.message.startsWith('"proj" is declared by this folder\'s .mcp.json'),
  );
  assert.equal(seen.length, 1, 'the message goes through l10n.t');
});

test('contextValue in Restricted Mode: a project server keeps no action but Open Config File; others keep theirs', () => {
  const menus: { command: string; when: string }[] = JSON.parse(
    readFileSync(join(__dirname, '../../../../package.json'), 'utf8'),
  ).contributes.menus['view/item/context'];
  const actionsFor = (ctx: string) =>
    menus
      .filter((m) => {
        const re = /viewItem =~ \/(.*)\/$/.exec(m.when)?.[1];
        assert.ok(re, m.when);
        return new RegExp(re).test(ctx);
      })
      .map((m) => m.command);
  const states: Partial<ServerRow['status']>[] = [
    {},
    { state: 'expiring', reason: 'in-window' },
    { state: 'expired', reason: 'expired-refreshable' },
    { state: 'needs-auth', reason: 'stub', clientId: 'c' },
    { state: 'blocked', reason: 'cache-entry' },
    { state: 'error', reason: 'store-error' },
  ];
  for (const st of states) {
    const project = row('p', st, { config: { ...row('p', {}).config, scope: 'project' } });
    const user = row('u', st);
    const untrusted = contextValueOf(project, false);
    assert.match(untrusted, /^mcpServer\.untrusted\./);
    assert.deepEqual(actionsFor(untrusted), ['mcpAuth.openConfig'], untrusted);
    assert.equal(present(project, NOW, undefined, false).contextValue, untrusted);
    assert.ok(present(project, NOW, undefined, false).tooltip.includes('Restricted Mode'));
    // trusted, or not a project server: exactly what it was before (the default is trusted)
    assert.equal(contextValueOf(project, true), contextValueOf(project));
    assert.equal(contextValueOf(user, false), contextValueOf(user));
    assert.ok(actionsFor(contextValueOf(project, true)).length > 1, contextValueOf(project, true));
    assert.ok(!present(user, NOW, undefined, false).tooltip.includes('Restricted Mode'));
  }
});

test('describe still takes a bare translate function (the commands pass one)', () => {
  const r = row('a', { expiresAt: NOW + 12 * 60_000 });
  assert.equal(
    describe(r, NOW, (m, ...a) => plainT(m.toUpperCase(), ...a)),
    'EXPIRES IN 12 MIN',
  );
});

test("the extension's pure modules load in plain Node; vscode itself does not (the proof the core is clean)", () => {
  /* eslint-disable @typescript-eslint/no-require-imports */
  assert.throws(() => require('vscode'), /Cannot find module 'vscode'/);
  assert.ok(require('../../../src/core/index'));
});

test('needs-scope (step-up): words, icon, tooltip, the Grant Additional Access action, the fix and the status bar', () => {
  const r = row('admin', {
    state: 'needs-scope',
    reason: 'step-up',
    missingScopes: ['mcp:admin'],
    scope: 'mcp',
    expiresAt: NOW + 3600_000,
    cache: { timestamp: NOW - 10_000, ttlMs: 90_000, ageMs: 10_000, fresh: true },
  });
  const p = present(r, NOW);
  assert.equal(p.description, 'needs additional access: mcp:admin');
  assert.equal(p.icon, 'shield');
  assert.ok(p.color);
  // package.json: mcpAuth.grantAccess inline on viewItem =~ /^mcpServer\.needs-scope/; sign out (hasToken) and refresh stay
  assert.equal(p.contextValue, 'mcpServer.needs-scope.hasToken.refreshable');
  const menus = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'package.json'), 'utf8')).contributes
    .menus['view/item/context'] as { command: string; when: string; group: string }[];
  const matches = (m: { when: string }) => new RegExp(/viewItem =~ \/(.*)\//.exec(m.when)![1]).test(p.contextValue);
  const inline = menus.filter((m) => m.group.startsWith('inline') && matches(m)).map((m) => m.command);
  assert.deepEqual(inline, ['mcpAuth.grantAccess']);
  assert.ok(menus.some((m) => m.command === 'mcpAuth.signOutServer' && matches(m)));
  const tip = p.tooltip.replace(/\\/g, '');
  for (const s of [
    'Scopes: mcp',
    'The server asked for more access (403 insufficient_scope); missing: mcp:admin',
    'TTL 2 min',
  ])
    assert.ok(tip.includes(s), `${s} in ${tip}`);
  assert.equal(fixFor(r), 'grant');
  assert.equal(fixText(fixFor(r)), 'Fix: grant additional access');
  assert.equal(statusBarText([r, row('b', {})])?.count, 1);
  // every word goes through l10n
  const seen: string[] = [];
  present(r, NOW, {
    t: (m: string, ...a: (string | number)[]) => {
      seen.push(m);
      return plainT(m, ...a);
    },
  });
  assert.ok(
    seen.includes('needs additional access: {0}') &&
      seen.includes('The server asked for more access (403 insufficient_scope); missing: {0}'),
  );
  const bundle = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'l10n', 'bundle.l10n.json'), 'utf8'));
  for (const m of [
    'needs additional access: {0}',
    'The server asked for more access (403 insufficient_scope); missing: {0}',
    'Scopes: {0}',
    'Fix: grant additional access',
  ])
    assert.ok(m in bundle, m);
});

test('needs-scope in Restricted Mode: a project server gets no Grant action', () => {
  const r = row(
    'p',
    { state: 'needs-scope', reason: 'step-up', missingScopes: ['x'] },
    { config: { name: 'p', scope: 'project', file: '/p/.mcp.json', transport: 'http', url: 'https://x/p' } },
  );
  assert.equal(contextValueOf(r, false), 'mcpServer.untrusted.needs-scope');
});

test('the tooltip says why a shared cache file blocks this profile: the profile without a token, and the fix', () => {
  const blocked = {
    state: 'blocked' as const,
    reason: 'cache-entry' as const,
    expiresAt: NOW + 3600_000,
    cache: { timestamp: NOW - 60_000, ttlMs: 900_000, ageMs: 60_000, fresh: true },
  };
  const hint = (profiles: { dir: string; hasToken: boolean }[]) => ({
    hints: [{ code: 'shared-cache-profiles' as const, cacheFile: '/h/.claude/mcp-needs-auth-cache.json', profiles }],
  });
  const t1 = present(row('demo', blocked, hint([{ dir: '/h/.claude', hasToken: false }])), NOW).tooltip.replace(
    /\\/g,
    '',
  );
  assert.match(t1, /The needs-auth cache \/h\/.claude\/mcp-needs-auth-cache.json is shared with other secure-storage/);
  assert.match(t1, /\/h\/.claude has no token for this server/);
  assert.match(t1, /Sign in from that profile, or give each profile its own CLAUDE_CONFIG_DIR/);
});

test('present: a server never contacted is "not checked yet", not "no OAuth"; no inline action', () => {
  const p = present(row('u', { state: 'unchecked', reason: 'not-checked', hasRefreshToken: false }), NOW);
  assert.equal(p.description, 'not checked yet');
  assert.equal(p.icon, 'question');
  assert.equal(p.contextValue, 'mcpServer.unchecked');
  assert.match(p.tooltip, /Not contacted yet/);
  assert.equal(fixFor(row('u', { state: 'unchecked', reason: 'not-checked' })), undefined);
});

test('present: an unset ${VAR} names the variable; the row is refused (error)', () => {
  const r = row(
    'v',
    {
      state: 'error',
      reason: 'unset-variable',
      code: 'unset-variable',
      variables: ['MCP_TENANT'],
      hasRefreshToken: false,
    },
    { key: undefined },
  );
  const p = present(r, NOW);
  assert.equal(p.description, 'error: ${MCP_TENANT} is not set here');
  assert.match(
    p.tooltip,
    /\$\\\{MCP\\_TENANT\\\} in the url or headers is not set in the environment VS Code started with/,
  );
  assert.equal(p.contextValue, 'mcpServer.error');
});

test('statusBarText: Windows Credential Manager mode is said, whatever else the rows show', () => {
  const cm = row('c', { state: 'error', reason: 'credman', code: 'store-credman', hasRefreshToken: false });
  const s = statusBarText([cm, row('n', { state: 'needs-auth', reason: 'no-entry' })]);
  assert.ok(s);
  assert.equal(s.text, '$(warning) MCP: Windows Credential Manager');
  assert.equal(
    s.tooltip,
    'Claude Code keeps its tokens in Windows Credential Manager here; MCP Auth can show state but cannot refresh or sign in',
  );
  assert.equal(present(cm, NOW).description, 'tokens in Windows Credential Manager');
});

test('running sessions that lack a server: on the tooltip, as child rows and in diagnostics, each with the fix for its kind', async () => {
  const base = { cwd: '/projects/p', startedAt: NOW - 60_000, entryTimestamp: NOW - 120_000, clearedAt: NOW - 30_000 };
  const sdk = {
    ...base,
    pid: 4242,
    kind: 'interactive',
    entrypoint: 'sdk-cli',
    version: '2.1.332',
    fix: 'sdk-reconnect' as const,
  };
  const tui = {
    ...base,
    pid: 4343,
    cwd: '/projects/p/sub',
    kind: 'interactive',
    entrypoint: 'cli',
    fix: 'mcp-command' as const,
  };
  const r = row('demo', {}, { sessionsLacking: [sdk, tui] });
  const tip = present(r, NOW).tooltip.replace(/\\/g, ''); // Markdown escapes off
  assert.match(
    tip,
    /Running session in \/projects\/p \(started .*, interactive, sdk-cli, 2\.1\.332\) .*reconnectMcpServer\(name\)/,
  );
  assert.match(tip, /Running session in \/projects\/p\/sub .*\/mcp, pick the server, then Reconnect/);
  const child = presentSession(tui);
  assert.equal(child.label, '/projects/p/sub');
  assert.match(child.description, /^started .* · interactive, cli$/);
  assert.match(child.tooltip, /pid 4343/);
  assert.match(reconnectText('restart'), /end that session and start a new one/);
  // the words go through the translator
  const upper: Translate = (m, ...a) => plainT(m, ...a).toUpperCase();
  assert.match(presentSession(sdk, { t: upper }).tooltip, /RECONNECTMCPSERVER/);
  const model = { servers: [r], issues: [], configFiles: [], projectKey: '/projects/p', storeLocation: 's', now: NOW };
  const paths = { configDir: '/nowhere', secureDir: '/nowhere', needsAuthCacheFile: '/nowhere/c' } as never;
  const text = diagnosisText(await diagnose(model, paths), [], new Date(NOW));
  assert.match(text, /running session pid 4242 \(interactive, sdk-cli, 2\.1\.332\) in \/projects\/p, started /);
});
