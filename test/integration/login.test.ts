import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withHome, runCliAsync } from '../helpers/home';
import { cliLogin, writeServers, entryOf, callWhoami, browse } from '../helpers/oauth';
import { useStack } from '../helpers/stack';

const stack = useStack();

test("login: the URL on stderr, the browser step, a stored entry in Claude Code's shape that the MCP server accepts", async () => {
  await withHome(async (h) => {
    writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });
    fs.writeFileSync(
      path.join(h.claudeDir, 'mcp-needs-auth-cache.json'),
      JSON.stringify({ demo: { timestamp: Date.now() }, other: { timestamp: 1 } }),
    );
    const r = await cliLogin(h, 'demo', ['--timeout', '30']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Sign in to demo in your browser:\nhttp:\/\/127\.0\.0\.1:\d+\/auth\?/);
    const u = new URL(r.authUrl!);
    assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(u.searchParams.get('resource'), stack.mcpUrl);
    assert.ok(u.searchParams.get('state'));
    assert.match(u.searchParams.get('redirect_uri')!, /^http:\/\/localhost:\d+\/callback$/);
    const { key, entry } = entryOf(h, 'demo');
    assert.match(key, /^demo\|[0-9a-f]{16}$/);
    assert.equal(entry.serverName, 'demo');
    assert.equal(entry.serverUrl, stack.mcpUrl);
    assert.equal(entry.issuer, stack.issuer);
    assert.ok(entry.accessToken && entry.refreshToken && entry.clientId);
    assert.ok(
      entry.expiresAt > Date.now() + 3000_000 && entry.expiresAt < Date.now() + 3700_000,
      'expiresAt in epoch ms',
    );
    assert.equal(entry.discoveryState.authorizationServerUrl, stack.issuer);
    assert.equal(fs.statSync(path.join(h.claudeDir, '.credentials.json')).mode & 0o777, 0o600);
    // the authorization server's metadata is shared for the first refresh of every process (a public document)
    const meta = path.join(h.claudeDir, 'mcp-auth-metadata.json');
    const cached = JSON.parse(fs.readFileSync(meta, 'utf8'));
    assert.deepEqual(Object.keys(cached), [stack.issuer]);
    assert.equal(cached[stack.issuer].metadata.issuer, stack.issuer);
    assert.equal(fs.statSync(meta).mode & 0o777, 0o600);
    assert.ok(
      !JSON.stringify(cached).includes(entry.accessToken) && !JSON.stringify(cached).includes(entry.refreshToken),
    );
    assert.deepEqual(
      Object.keys(JSON.parse(fs.readFileSync(path.join(h.claudeDir, 'mcp-needs-auth-cache.json'), 'utf8'))),
      ['other'],
    );
    const who = await callWhoami(stack.mcpUrl, entry.accessToken);
    assert.equal(who.sub, 'test-user');
    assert.ok(!r.stderr.includes(entry.accessToken) && !r.stdout.includes(entry.refreshToken));
    const st = await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project });
    assert.equal(JSON.parse(st.stdout).servers[0].state, 'signed-in');
    // a second login reuses the registered client, and drops a metadata copy stored in the entry (Claude Code
    // keeps one there; a refresh would prefer it to what this sign-in discovered)
    const regs = stack.counters.registrations;
    const s0 = JSON.parse(fs.readFileSync(path.join(h.claudeDir, '.credentials.json'), 'utf8'));
    s0.mcpOAuth[key].discoveryState.authorizationServerMetadata = {
      issuer: stack.issuer,
      token_endpoint: 'http://127.0.0.1:9/moved-away',
    };
    fs.writeFileSync(path.join(h.claudeDir, '.credentials.json'), JSON.stringify(s0), { mode: 0o600 });
    const again = await cliLogin(h, 'demo', ['--timeout', '30']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(entryOf(h, 'demo').entry.discoveryState.authorizationServerMetadata, undefined);
    assert.equal(entryOf(h, 'demo').entry.discoveryState.authorizationServerUrl, stack.issuer);
    assert.equal(stack.counters.registrations, regs);
    assert.equal(entryOf(h, 'demo').entry.clientId, entry.clientId);
  });
});

test('login again while the token still works: the old token stays in place (and keeps working) until the new one is stored', async () => {
  await withHome(async (h) => {
    writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });
    assert.equal((await cliLogin(h, 'demo', ['--timeout', '30'])).code, 0);
    const old = entryOf(h, 'demo').entry;
    let during: { accessToken: string; sub: string } | undefined;
    const r = await cliLogin(h, 'demo', ['--timeout', '30'], {
      onUrl: async (url) => {
        // the browser is open: running sessions still read a stored token that the server accepts
        const e = entryOf(h, 'demo').entry;
        during = { accessToken: e.accessToken, sub: (await callWhoami(stack.mcpUrl, e.accessToken)).sub };
        await browse(url);
      },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(during?.accessToken, old.accessToken, 'the old token was in the store while the sign-in ran');
    assert.equal(during?.sub, 'test-user');
    const now = entryOf(h, 'demo').entry;
    assert.notEqual(now.accessToken, old.accessToken, 'then the new one replaced it');
    assert.equal((await callWhoami(stack.mcpUrl, now.accessToken)).sub, 'test-user');
  });
});
