import { test, before, after, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import { makeHome, type TempHome } from '../helpers/home';
import { startStack, cliLogin, writeServers, entryOf, callWhoami, readStore, writeStore, type Stack, type LoginRun } from '../helpers/oauth';
import { serverKey } from '../../src/core/store/key';

let stack: Stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack.close(); });
beforeEach(() => { Object.assign(stack.mode, { tokenDelayMs: 0, tokenStatus: 0, tokenHang: false, tokenBody: null, tokenMutate: null }); });

function homeWith(servers: Record<string, unknown>): TempHome {
  const h = makeHome();
  writeServers(h, servers);
  return h;
}

const noSecretsIn = (r: LoginRun, entry: Record<string, string>) => {
  for (const s of [entry.accessToken, entry.refreshToken].filter(Boolean)) {
    assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), 'no token in the output');
  }
};

// ---- a static confidential client, signing in again -----------------------------------------------------

test('static confidential client: the second and third sign-in still authenticate with the secret from mcpOAuthClientConfig', { timeout: 60_000 }, async () => {
  const url = stack.mcpUrl;
  const h = homeWith({ conf: { type: 'http', url, oauth: { clientId: 'mcp-auth-confidential' } } });
  try {
    const key = serverKey({ name: 'conf', transport: 'http', rawType: 'http', url });
    writeStore(h, { mcpOAuthClientConfig: { [key]: { clientSecret: 'confidential-secret-for-tests' } } });
    const regs = stack.counters.registrations;
    for (const round of [1, 2, 3]) {
      const r = await cliLogin(h, 'conf', ['--timeout', '30']);
      assert.equal(r.code, 0, `sign-in #${round}: ${r.stderr}`);
      const { entry } = entryOf(h, 'conf');
      assert.equal(entry.clientId, 'mcp-auth-confidential');
      assert.equal(entry.clientSecret, undefined, 'the static secret is never copied into the mcpOAuth entry');
      assert.ok(!r.stderr.includes('confidential-secret-for-tests') && !r.stdout.includes('confidential-secret-for-tests'));
      noSecretsIn(r, entry);
      assert.equal((await callWhoami(url, entry.accessToken)).client_id, 'mcp-auth-confidential');
    }
    assert.equal(stack.counters.registrations, regs, 'no dynamic registration');
    assert.deepEqual(readStore(h).mcpOAuthClientConfig, { [key]: { clientSecret: 'confidential-secret-for-tests' } });
  } finally { h.cleanup(); }
});
