/**
 * "Say why": what makes a row need attention beyond its state, as codes in `status --json`, lines in `doctor`.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, runCliAsync, withHome } from '../helpers/home';
import { startStack, cliLogin, writeServers, entryOf, callWhoami } from '../helpers/oauth';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serverKey } from '../../src/core/store/key';
import type { ServerConfig } from '../../src/core/config/types';

const A = 'http://127.0.0.1:9/a';
const B = 'http://127.0.0.1:9/b';
const key = (name: string, url: string) => serverKey({ name, transport: 'http', rawType: 'http', url } as ServerConfig);

test('hints: a name used by two servers across folders, and a token stored without a refresh token', async () => {
  await withHome(async (h) => {
    const now = Date.now();
    fs.writeFileSync(
      path.join(h.home, '.claude.json'),
      JSON.stringify({
        mcpServers: { demo: { type: 'http', url: A }, solo: { type: 'http', url: A } },
        projects: { [path.join(h.home, 'elsewhere')]: { mcpServers: { demo: { type: 'http', url: B } } } },
      }),
    );
    fs.writeFileSync(
      path.join(h.claudeDir, '.credentials.json'),
      JSON.stringify({
        mcpOAuth: {
          [key('demo', A)]: {
            serverName: 'demo',
            serverUrl: A,
            accessToken: 'at-demo-123456',
            refreshToken: 'rt-demo-123456',
            expiresAt: now + 3_600_000,
            clientId: 'c',
          },
          [key('solo', A)]: {
            serverName: 'solo',
            serverUrl: A,
            accessToken: 'at-solo-123456',
            expiresAt: now + 3_600_000,
            clientId: 'c',
          },
        },
      }),
      { mode: 0o600 },
    );
    const st = JSON.parse(runCli(['status', '--json'], { env: h.env, cwd: h.project }).stdout);
    const byName = Object.fromEntries(st.servers.map((s: { name: string }) => [s.name, s]));
    assert.deepEqual(byName.demo.hints, [{ code: 'shared-cache-name', definitions: 2 }]);
    assert.deepEqual(byName.solo.hints, [
      { code: 'no-offline-access', expiresAt: new Date(now + 3_600_000).toISOString() },
    ]);
    const doc = runCli(['doctor'], { env: h.env, cwd: h.project }).stdout;
    assert.match(doc, /the name is used by 2 different servers across your folders/);
    assert.match(
      doc,
      /no refresh token stored: sign-in needed again when this token expires at .* the server did not grant offline access/,
    );
  });
});

test('hints: a stored client the authorization server rejects (invalid_client) is named, with its fix', async () => {
  // an authorization server that no longer knows the stored client (an admin removed the registration)
  let base = '';
  const srv = http.createServer((req, res) => {
    req.resume();
    const p = new URL(req.url ?? '/', base).pathname;
    res.setHeader('content-type', 'application/json');
    if (p === '/.well-known/oauth-authorization-server')
      return void res.end(
        JSON.stringify({ issuer: base, token_endpoint: `${base}/token`, authorization_endpoint: `${base}/authorize` }),
      );
    if (p === '/token') {
      res.statusCode = 401;
      return void res.end('{"error":"invalid_client"}');
    }
    res.statusCode = 404;
    res.end('{}');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  try {
    await withHome(async (h) => {
      const url = `${base}/mcp`;
      fs.writeFileSync(
        path.join(h.home, '.claude.json'),
        JSON.stringify({ mcpServers: { demo: { type: 'http', url } } }),
      );
      fs.writeFileSync(
        path.join(h.claudeDir, '.credentials.json'),
        JSON.stringify({
          mcpOAuth: {
            [key('demo', url)]: {
              serverName: 'demo',
              serverUrl: url,
              accessToken: 'at-old-123456',
              refreshToken: 'rt-old-123456',
              expiresAt: Date.now() - 1000,
              clientId: 'forgotten-client',
              issuer: base,
              discoveryState: { authorizationServerUrl: base },
            },
          },
        }),
        { mode: 0o600 },
      );
      const r = await runCliAsync(['refresh', 'demo', '--json'], { env: h.env, cwd: h.project });
      assert.equal(r.code, 1);
      const st = JSON.parse((await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project })).stdout);
      assert.deepEqual(
        st.servers[0].hints.map((x: { code: string }) => x.code),
        ['client-rejected'],
      );
      assert.match(
        (await runCliAsync(['doctor'], { env: h.env, cwd: h.project })).stdout,
        /rejected the stored client registration .*--new-client/,
      );
    });
  } finally {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  }
});

test('login --new-client forgets the stored client registration and registers anew', async () => {
  const stack = await startStack();
  try {
    await withHome(async (h) => {
      writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });
      assert.equal((await cliLogin(h, 'demo', ['--timeout', '30'])).code, 0);
      const before = entryOf(h, 'demo').entry.clientId;
      const regs = stack.counters.registrations;
      const again = await cliLogin(h, 'demo', ['--timeout', '30', '--new-client']);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(stack.counters.registrations, regs + 1, 'a new client was registered');
      const e = entryOf(h, 'demo').entry;
      assert.notEqual(e.clientId, before);
      assert.equal((await callWhoami(stack.mcpUrl, e.accessToken)).sub, 'test-user');
    });
  } finally {
    await stack.close();
  }
});
