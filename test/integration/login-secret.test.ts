/**
 * The client secret stored in an entry is the one of the client its token was issued to, or none: a sign-in
 * that registers another client (`--new-client`, a step-up) or moves to the configured static client must not
 * leave the previous registration's `clientSecret` behind, or every later refresh authenticates the new client
 * with the old secret and gets `invalid_client`. Against the real oidc-provider stack.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { withHome, runCliAsync, type TempHome } from '../helpers/home';
import { configured, cliLogin, entryOf, callWhoami, writeServers, writeStore, patchEntry } from '../helpers/oauth';
import { useStack } from '../helpers/stack';
import { serverKey } from '../../src/core/store/key';

const stack = useStack();

async function freePort(): Promise<number> {
  const srv = http.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * A confidential client registered dynamically (RFC 7591, client_secret_basic), as an authorization server
 * may hand out, stored in the entry the way Claude Code stores a registration; then signed in with it.
 */
async function signInConfidential(h: TempHome): Promise<{ clientId: string; clientSecret: string }> {
  const meta = (await (await fetch(`${stack.issuer}/.well-known/oauth-authorization-server`)).json()) as {
    registration_endpoint: string;
  };
  const redirectUri = `http://localhost:${await freePort()}/callback`;
  const res = await fetch(meta.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'Claude Code',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }),
  });
  assert.equal(res.status, 201);
  const reg = (await res.json()) as { client_id: string; client_secret: string };
  assert.ok(reg.client_secret, 'a confidential registration');
  const key = serverKey({ name: 'demo', transport: 'http', rawType: 'http', url: stack.mcpUrl });
  writeStore(h, {
    mcpOAuth: {
      [key]: {
        serverName: 'demo',
        serverUrl: stack.mcpUrl,
        accessToken: '',
        clientId: reg.client_id,
        clientSecret: reg.client_secret,
        redirectUri,
        issuer: stack.issuer,
      },
    },
  });
  const r = await cliLogin(h, 'demo', ['--timeout', '30']);
  assert.equal(r.code, 0, r.stderr);
  const { entry } = entryOf(h, 'demo');
  assert.equal(entry.clientId, reg.client_id, 'the stored registration was used');
  assert.equal(entry.clientSecret === reg.client_secret, true, 'its secret stored in the entry');
  assert.equal((await callWhoami(stack.mcpUrl, entry.accessToken)).client_id, reg.client_id);
  const refreshed = await runCliAsync(['refresh', '--force', 'demo'], { env: h.env, cwd: h.project });
  assert.equal(refreshed.code, 0, `the confidential client refreshes with its secret: ${refreshed.stderr}`);
  return { clientId: reg.client_id, clientSecret: reg.client_secret };
}

/** After the switch: a forced refresh works, and the entry holds no secret of the previous client. */
async function refreshesWithoutStaleSecret(h: TempHome, previous: { clientId: string; clientSecret: string }) {
  const { entry } = entryOf(h, 'demo');
  assert.notEqual(entry.clientId, previous.clientId, 'signed in with another client');
  const r = await runCliAsync(['refresh', '--force', 'demo'], { env: h.env, cwd: h.project });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /invalid_client|client-rejected/);
  // (a boolean, so that no secret is printed when it fails)
  assert.equal('clientSecret' in entry, false, 'no secret of the previous client left in the entry');
  const after = entryOf(h, 'demo').entry;
  assert.notEqual(after.refreshToken, entry.refreshToken, 'refreshed');
  assert.equal((await callWhoami(stack.mcpUrl, after.accessToken)).client_id, entry.clientId);
  assert.ok(!r.stdout.includes(previous.clientSecret) && !r.stderr.includes(previous.clientSecret));
}

test(
  'login --new-client after a confidential registration: the new public client is stored without the old secret; refresh --force works',
  { timeout: 120_000 },
  async () => {
    await withHome(configured({ demo: { type: 'http', url: stack.mcpUrl } }), async (h) => {
      const previous = await signInConfidential(h);
      const regs = stack.counters.registrations;
      const r = await cliLogin(h, 'demo', ['--timeout', '30', '--new-client']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(stack.counters.registrations, regs + 1, 'registered anew');
      await refreshesWithoutStaleSecret(h, previous);
    });
  },
);

test(
  'step-up sign-in that registers again, after a confidential registration: no stale secret; refresh --force works',
  { timeout: 120_000 },
  async () => {
    await withHome(configured({ demo: { type: 'http', url: stack.mcpUrl } }), async (h) => {
      const previous = await signInConfidential(h);
      const granted = entryOf(h, 'demo').entry.scope as string;
      const wider = ['mcp', 'mcp:read', 'mcp:write'].find((s) => !granted.split(' ').includes(s));
      assert.ok(wider, `a scope the token lacks (granted: ${granted})`);
      patchEntry(h, 'demo', { stepUpScope: `${granted} ${wider}` });
      const regs = stack.counters.registrations;
      const r = await cliLogin(h, 'demo', ['--timeout', '30']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(stack.counters.registrations, regs + 1, 'registered anew for the wider scope');
      await refreshesWithoutStaleSecret(h, previous);
    });
  },
);

test(
  'a switch to the configured static client (the stored registration is of another authorization server): no stale secret; refresh --force works',
  { timeout: 120_000 },
  async () => {
    await withHome(configured({ demo: { type: 'http', url: stack.mcpUrl } }), async (h) => {
      const previous = await signInConfidential(h);
      // the server now names a static client, and its stored registration is of the authorization server it left
      writeServers(h, { demo: { type: 'http', url: stack.mcpUrl, oauth: { clientId: stack.staticClientId } } });
      patchEntry(h, 'demo', { issuer: 'http://127.0.0.1:9/old-as' });
      const regs = stack.counters.registrations;
      const r = await cliLogin(h, 'demo', ['--timeout', '30']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(stack.counters.registrations, regs, 'no registration: the static client');
      assert.equal(entryOf(h, 'demo').entry.clientId, stack.staticClientId);
      await refreshesWithoutStaleSecret(h, previous);
    });
  },
);
