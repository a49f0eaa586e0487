import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  blockedUntil,
  connectorStatus,
  connectorsOff,
  discoverConnectors,
  startAuthUrl,
} from '../../../src/core/connectors';
import { loadModel } from '../../../src/core/model';
import { resolvePaths } from '../../../src/core/paths';
import { serverToActOn } from '../../../src/core/config/discover';
import { isMcpAuthError } from '../../../src/core/errors';
import { fixFor, diagnose } from '../../../src/core/diagnose';
import { contextValueOf, describe as describeRow, tooltip } from '../../../src/extension/present';

const NOW = 1_800_000_000_000;
const H4 = 4 * 3600_000;

function home(): { home: string; dir: string; paths: ReturnType<typeof resolvePaths>; cleanup(): void } {
  const h = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-conn-')));
  fs.mkdirSync(path.join(h, '.claude'));
  const paths = resolvePaths({ env: {}, home: h, managedDirs: [path.join(h, 'managed')] });
  return {
    home: h,
    dir: path.join(h, '.claude'),
    paths,
    cleanup: () => fs.rmSync(h, { recursive: true, force: true }),
  };
}

test('a connector entry with its id and inside ttlMs ?? 4 h (60 s skew) needs sign-in on claude.ai; otherwise ignored', () => {
  const cases: [string, Record<string, unknown>, string, string | undefined][] = [
    ['fresh, 4 h default', { timestamp: NOW - H4 + 60_000, id: 'mcpsrv_1' }, 'claudeai-sign-in', undefined],
    ['just past 4 h', { timestamp: NOW - H4 - 1, id: 'mcpsrv_1' }, 'claudeai-entry-ignored', 'expired'],
    ['exactly 4 h', { timestamp: NOW - H4, id: 'mcpsrv_1' }, 'claudeai-entry-ignored', 'expired'],
    [
      'own ttlMs wins',
      { timestamp: NOW - 120_000, id: 'mcpsrv_1', ttlMs: 90_000 },
      'claudeai-entry-ignored',
      'expired',
    ],
    ['59 s in the future', { timestamp: NOW + 59_000, id: 'mcpsrv_1' }, 'claudeai-sign-in', undefined],
    ['61 s in the future', { timestamp: NOW + 61_000, id: 'mcpsrv_1' }, 'claudeai-entry-ignored', 'expired'],
    ['no id', { timestamp: NOW - 1000 }, 'claudeai-entry-ignored', 'no-id'],
    ['empty id', { timestamp: NOW - 1000, id: '' }, 'claudeai-entry-ignored', 'no-id'],
  ];
  for (const [what, entry, reason, ignored] of cases) {
    const s = connectorStatus(entry as { timestamp: number }, NOW);
    assert.equal(s.reason, reason, what);
    assert.equal(s.state, reason === 'claudeai-sign-in' ? 'needs-auth' : 'no-auth', what);
    assert.equal(s.cache?.ignored, ignored, what);
    assert.equal(blockedUntil(s), reason === 'claudeai-sign-in' ? (entry.timestamp as number) + H4 : undefined, what);
  }
  assert.deepEqual(
    { state: connectorStatus(undefined, NOW).state, reason: connectorStatus(undefined, NOW).reason },
    { state: 'no-auth', reason: 'claudeai-connector' },
  );
  const err = connectorStatus(undefined, NOW, { code: 'cache-parse', message: 'x' });
  assert.equal(err.state, 'error');
});

test('the start-auth address is the one claude mcp login prints (product_surface = Claude Code default entrypoint)', () => {
  assert.equal(
    startAuthUrl('2222-org', 'mcpsrv_01Demo'),
    'https://claude.ai/api/organizations/2222-org/mcp/start-auth/mcpsrv_01Demo?product_surface=cli',
  );
  assert.equal(startAuthUrl(undefined, 'mcpsrv_01Demo'), undefined);
  assert.equal(startAuthUrl('org', undefined), undefined);
});

test('connectors come from claude.ai keys of the cache and claudeAiMcpEverConnected; a configured name wins', async () => {
  const h = home();
  try {
    const cache = {
      entries: {
        'claude.ai GitHub': { timestamp: NOW, id: 'mcpsrv_gh' },
        'claude.ai NoId': { timestamp: NOW },
        demo: { timestamp: NOW },
        'claude.ai Mine': { timestamp: NOW, id: 'x' },
      },
      invalid: [],
      exists: true,
    };
    const d = await discoverConnectors({
      paths: h.paths,
      projectKey: h.home,
      env: {},
      cache,
      userConfig: {
        oauthAccount: { organizationUuid: 'org-1' },
        claudeAiMcpEverConnected: ['claude.ai GitHub', 'claude.ai Drive', 'not a connector', 7],
      },
      configured: new Set(['claude.ai Mine']),
    });
    assert.equal(d.organizationUuid, 'org-1');
    assert.deepEqual(
      d.servers.map((s) => [s.name, s.scope, s.transport, s.connectorId ?? null, s.everConnected === true]),
      [
        ['claude.ai Drive', 'claudeai', 'claudeai-proxy', null, true],
        ['claude.ai GitHub', 'claudeai', 'claudeai-proxy', 'mcpsrv_gh', true],
        ['claude.ai NoId', 'claudeai', 'claudeai-proxy', null, false],
      ],
    );
  } finally {
    h.cleanup();
  }
});

test('ENABLE_CLAUDEAI_MCP_SERVERS=false and disableClaudeAiConnectors in any settings source turn connectors off', async () => {
  const h = home();
  try {
    const proj = path.join(h.home, 'proj');
    fs.mkdirSync(path.join(proj, '.claude'), { recursive: true });
    assert.equal(await connectorsOff(h.paths, proj, {}), undefined);
    for (const v of ['false', 'FALSE', ' 0 ', 'no', 'off'])
      assert.equal(await connectorsOff(h.paths, proj, { ENABLE_CLAUDEAI_MCP_SERVERS: v }), 'env-var', v);
    assert.equal(await connectorsOff(h.paths, proj, { ENABLE_CLAUDEAI_MCP_SERVERS: 'true' }), undefined);
    const files = [
      path.join(h.dir, 'settings.json'),
      path.join(proj, '.claude', 'settings.json'),
      path.join(proj, '.claude', 'settings.local.json'),
      path.join(h.home, 'managed', 'managed-settings.json'),
    ];
    fs.mkdirSync(path.join(h.home, 'managed'));
    for (const f of files) {
      fs.writeFileSync(f, JSON.stringify({ disableClaudeAiConnectors: true }));
      assert.equal(await connectorsOff(h.paths, proj, {}), 'setting', f);
      fs.writeFileSync(f, JSON.stringify({ disableClaudeAiConnectors: false }));
      assert.equal(await connectorsOff(h.paths, proj, {}), undefined, f);
    }
    // a broken settings file does not turn them off (and does not throw)
    fs.writeFileSync(files[0], '{not json');
    assert.equal(await connectorsOff(h.paths, proj, {}), undefined);
  } finally {
    h.cleanup();
  }
});

test('loadModel lists connector rows (their own scope), none when off; refresh/login/logout refuse them by code', async () => {
  const h = home();
  try {
    fs.writeFileSync(
      path.join(h.home, '.claude.json'),
      JSON.stringify({ oauthAccount: { organizationUuid: 'org-9' }, claudeAiMcpEverConnected: ['claude.ai Drive'] }),
    );
    fs.writeFileSync(
      h.paths.needsAuthCacheFile,
      JSON.stringify({ 'claude.ai GitHub': { timestamp: NOW - 60_000, id: 'mcpsrv_gh' } }),
    );
    const m = await loadModel({ paths: h.paths, cwd: h.home, env: {}, now: NOW });
    assert.deepEqual(
      m.servers.map((r) => [r.config.name, r.config.scope, r.status.state, r.status.reason]),
      [
        ['claude.ai Drive', 'claudeai', 'no-auth', 'claudeai-connector'],
        ['claude.ai GitHub', 'claudeai', 'needs-auth', 'claudeai-sign-in'],
      ],
    );
    assert.equal(m.connectors?.organizationUuid, 'org-9');
    const gh = m.servers[1];
    assert.equal(fixFor(gh), 'claudeai-sign-in');
    assert.equal(contextValueOf(gh), 'mcpConnector.needsSignIn');
    assert.equal(contextValueOf(m.servers[0]), 'mcpConnector.no-auth');
    assert.equal(describeRow(gh, NOW), 'needs sign-in on claude.ai');
    assert.match(tooltip(gh, NOW), /skip it until/);
    const d = await diagnose(m, h.paths);
    const facts = d.servers[1].facts;
    const entry = facts.find((f) => f.code === 'connector-entry');
    assert.ok(entry && entry.code === 'connector-entry');
    assert.equal(entry.until, NOW - 60_000 + H4);
    const signIn = facts.find((f) => f.code === 'connector-sign-in');
    assert.ok(signIn && signIn.code === 'connector-sign-in');
    assert.equal(signIn.url, 'https://claude.ai/api/organizations/org-9/mcp/start-auth/mcpsrv_gh?product_surface=cli');

    const off = await loadModel({
      paths: h.paths,
      cwd: h.home,
      env: { ENABLE_CLAUDEAI_MCP_SERVERS: 'false' },
      now: NOW,
    });
    assert.deepEqual(off.servers, []);
    assert.equal(off.connectors?.off, 'env-var');

    assert.throws(
      () => serverToActOn({ servers: [], notLoaded: [] }, 'claude.ai GitHub'),
      (e: unknown) => isMcpAuthError(e) && e.code === 'claudeai-connector',
    );
    assert.throws(
      () => serverToActOn({ servers: [], notLoaded: [] }, 'nothing'),
      (e: unknown) => isMcpAuthError(e) && e.code === 'unknown-server',
    );
  } finally {
    h.cleanup();
  }
});

test('package.json menus: a connector row gets only its own actions (no refresh, sign-in or sign-out of ours)', () => {
  const menus: { command: string; when: string }[] = JSON.parse(
    fs.readFileSync(path.join(__dirname, '../../../../package.json'), 'utf8'),
  ).contributes.menus['view/item/context'];
  const actionsFor = (ctx: string) => [
    ...new Set(
      menus.filter((m) => new RegExp(/viewItem =~ \/(.*)\/$/.exec(m.when)![1]).test(ctx)).map((m) => m.command),
    ),
  ];
  assert.deepEqual(actionsFor('mcpConnector.needsSignIn').sort(), [
    'mcpAuth.connectorClear',
    'mcpAuth.connectorSignIn',
  ]);
  assert.deepEqual(actionsFor('mcpConnector.ignoredEntry'), ['mcpAuth.connectorClear']);
  assert.deepEqual(actionsFor('mcpConnector.no-auth'), []);
});
