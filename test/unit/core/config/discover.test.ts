import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { discoverServers, serverToActOn } from '../../../../src/core/config/discover';
import type { McpAuthError } from '../../../../src/core/errors';
import { computeStatus } from '../../../../src/core/status';
import { resolvePaths } from '../../../../src/core/paths';
import { withHome } from '../../../helpers/home';

test('discover: scopes, precedence local > project > user, approval, ${VAR} expansion', async () => {
  await withHome('home', async (h) => {
    const paths = resolvePaths({ env: {}, home: h.home, managedDirs: [path.join(h.home, 'none')] });
    const r = await discoverServers({ paths, cwd: h.project, env: { TEAM: 'blue', API_TOKEN: 't0ken-123456' } });
    const by = Object.fromEntries(r.servers.map((s) => [s.name, s]));
    assert.deepEqual(r.issues, []);
    assert.equal(by.override.scope, 'local');
    assert.equal(by.override.url, 'http://127.0.0.1:9/override-local');
    assert.equal(by['proj-sse'].scope, 'project');
    assert.equal(by['proj-sse'].approval, 'approved');
    assert.equal(by['proj-sse'].url, 'http://127.0.0.1:9/proj');
    assert.equal(by['proj-pending'].approval, 'pending');
    assert.deepEqual(by.headers.headers, { Authorization: 'Bearer t0ken-123456', 'X-Team': 'blue' });
    assert.equal(by.expired.transport, 'http');
    assert.equal(by.expired.rawType, 'streamable-http');
    assert.equal(by.files.transport, 'stdio');
    assert.equal(r.servers.length, 13);
  });
});

test('discover: managed-mcp.json takes exclusive control', async () => {
  await withHome('home', async (h) => {
    const paths = resolvePaths({ env: {}, home: h.home, managedDirs: [path.join(h.home, 'managed')] });
    const r = await discoverServers({ paths, cwd: h.project, env: {} });
    assert.deepEqual(
      r.servers.map((s) => [s.name, s.scope]),
      [
        ['corp', 'managed'],
        ['corp-tools', 'managed'],
      ],
    );
  });
});

test('discover: a closer .mcp.json wins, a disabled server is dropped, a malformed file is reported and the rest still read', async () => {
  await withHome(async (h) => {
    const sub = path.join(h.project, 'a', 'b');
    fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(
      path.join(h.project, '.mcp.json'),
      JSON.stringify({
        mcpServers: { s: { type: 'http', url: 'http://far/x' }, off: { type: 'http', url: 'http://o' } },
      }),
    );
    fs.writeFileSync(
      path.join(h.project, 'a', '.mcp.json'),
      JSON.stringify({ mcpServers: { s: { type: 'http', url: 'http://near/x' } } }),
    );
    fs.writeFileSync(
      path.join(h.home, '.claude.json'),
      JSON.stringify({
        mcpServers: { u: { type: 'http', url: 'http://u' } },
        projects: { [h.home]: { hasTrustDialogAccepted: true } },
      }),
    );
    fs.mkdirSync(path.join(h.project, '.claude'));
    fs.writeFileSync(
      path.join(h.project, '.claude', 'settings.json'),
      JSON.stringify({ enableAllProjectMcpServers: true, disabledMcpjsonServers: ['off'] }),
    );
    fs.writeFileSync(path.join(sub, '.mcp.json'), '{"mcpServers": {"broken": ');
    fs.mkdirSync(path.join(h.project, '.git'));
    const paths = resolvePaths({ env: {}, home: h.home, managedDirs: [] });
    const r = await discoverServers({ paths, cwd: sub, env: {} });
    const by = Object.fromEntries(r.servers.map((s) => [s.name, s]));
    assert.equal(by.s.url, 'http://near/x');
    assert.equal(by.s.approval, 'approved', 'trust is inherited from a parent folder');
    assert.equal(by.off, undefined);
    assert.ok(by.u);
    assert.equal(r.issues.length, 1);
    assert.equal(r.issues[0].code, 'config-parse');
    assert.match(r.issues[0].message, /\.mcp\.json:1:\d+: not valid JSON/);
  });
});

test('discover: non-object mcpServers and a url that is not a URL are reported per place', async () => {
  await withHome(async (h) => {
    fs.writeFileSync(path.join(h.project, '.mcp.json'), JSON.stringify({ mcpServers: ['x'] }));
    fs.writeFileSync(
      path.join(h.home, '.claude.json'),
      JSON.stringify({
        mcpServers: { bad: { type: 'http', url: 'not a url' }, ok: { type: 'http', url: 'https://ok/mcp' } },
      }),
    );
    const paths = resolvePaths({ env: {}, home: h.home, managedDirs: [] });
    const r = await discoverServers({ paths, cwd: h.project, env: {} });
    assert.deepEqual(
      r.issues.map((i) => i.code),
      ['config-invalid'],
    );
    const bad = r.servers.find((s) => s.name === 'bad');
    assert.equal(bad?.problem?.code, 'invalid-url');
    assert.equal(r.servers.find((s) => s.name === 'ok')?.problem, undefined);
  });
});

test('discover: a pending or rejected .mcp.json server never shadows a user/local one; naming an unapproved one is not-approved', async () => {
  await withHome(async (h) => {
    fs.writeFileSync(
      path.join(h.home, '.claude.json'),
      JSON.stringify({
        mcpServers: {
          demo: { type: 'http', url: 'http://a/mcp' },
          off: { type: 'http', url: 'http://a/off' },
          ok: { type: 'http', url: 'http://a/ok' },
        },
        projects: { [h.project]: { hasTrustDialogAccepted: true } },
      }),
    );
    fs.writeFileSync(
      path.join(h.project, '.mcp.json'),
      JSON.stringify({
        mcpServers: {
          demo: { type: 'http', url: 'http://b/mcp' },
          off: { type: 'http', url: 'http://b/off' },
          ok: { type: 'http', url: 'http://b/ok' },
          lone: { type: 'http', url: 'http://b/lone' },
          gone: { type: 'http', url: 'http://b/gone' },
        },
      }),
    );
    fs.mkdirSync(path.join(h.project, '.claude'));
    fs.writeFileSync(
      path.join(h.project, '.claude', 'settings.local.json'),
      JSON.stringify({ enabledMcpjsonServers: ['ok'], disabledMcpjsonServers: ['off', 'gone'] }),
    );
    const paths = resolvePaths({ env: {}, home: h.home, managedDirs: [] });
    const r = await discoverServers({ paths, cwd: h.project, env: {} });
    const by = Object.fromEntries(r.servers.map((s) => [s.name, s]));
    assert.deepEqual(r.servers.map((s) => s.name).sort(), ['demo', 'lone', 'off', 'ok']);
    assert.deepEqual([by.demo.scope, by.demo.url], ['user', 'http://a/mcp'], 'pending does not shadow');
    assert.deepEqual([by.off.scope, by.off.url], ['user', 'http://a/off'], 'rejected does not shadow');
    assert.deepEqual([by.ok.scope, by.ok.url, by.ok.approval], ['project', 'http://b/ok', 'approved'], 'approved does');
    assert.equal(by.lone.approval, 'pending', 'a pending server with a name of its own is listed');
    assert.deepEqual(r.notLoaded.map((s) => [s.name, s.approval]).sort(), [
      ['demo', 'pending'],
      ['gone', 'rejected'],
      ['off', 'rejected'],
    ]);

    assert.equal(serverToActOn(r, 'demo').url, 'http://a/mcp');
    assert.equal(serverToActOn(r, 'ok').url, 'http://b/ok');
    assert.throws(
      () => serverToActOn(r, 'lone'),
      (e: McpAuthError) => e.code === 'not-approved' && /awaiting approval/.test(e.message),
    );
    assert.throws(
      () => serverToActOn(r, 'gone'),
      (e: McpAuthError) => e.code === 'not-approved' && /rejected/.test(e.message),
    );
    assert.throws(
      () => serverToActOn(r, 'nope'),
      (e: McpAuthError) => e.code === 'unknown-server',
    );
    const st = computeStatus(by.lone, {}, {}, undefined, 0);
    assert.deepEqual([st.state, st.reason], ['not-approved', 'awaiting-approval']);

    // without trust, an enabled server is pending as well, and still shadows nothing
    fs.writeFileSync(
      path.join(h.home, '.claude.json'),
      JSON.stringify({ mcpServers: { ok: { type: 'http', url: 'http://a/ok' } } }),
    );
    const u = await discoverServers({ paths, cwd: h.project, env: {} });
    assert.equal(u.servers.find((s) => s.name === 'ok')?.url, 'http://a/ok');
  });
});

test('discover: a ${VAR} unset in this process makes the row an error naming it, and no command acts on it', async () => {
  await withHome('home', async (h) => {
    const paths = resolvePaths({ env: {}, home: h.home, managedDirs: [path.join(h.home, 'none')] });
    // the fixture's `headers` server sends "Bearer ${API_TOKEN}"; API_TOKEN is not set here
    const r = await discoverServers({ paths, cwd: h.project, env: { TEAM: 'blue' } });
    const s = r.servers.find((x) => x.name === 'headers')!;
    assert.equal(s.problem?.code, 'unset-variable');
    assert.deepEqual(s.problem?.variables, ['API_TOKEN']);
    const st = computeStatus(s, {}, {}, undefined, Date.now());
    assert.equal(st.state, 'error');
    assert.equal(st.reason, 'unset-variable');
    assert.deepEqual(st.variables, ['API_TOKEN']);
    assert.throws(
      () => serverToActOn(r, 'headers'),
      (e: McpAuthError) => e.code === 'unset-variable' && /\$\{API_TOKEN\}/.test(e.message),
    );
    // a default (`${MCP_HOST:-127.0.0.1}`, `${TEAM:-core}`) is not unset
    assert.equal(r.servers.find((x) => x.name === 'proj-sse')!.problem, undefined);
  });
});
