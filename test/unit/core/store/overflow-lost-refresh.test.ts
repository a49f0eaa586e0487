import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { KeychainStore, FileStore } from '../../../../src/core/store/backend';
import { resolvePaths } from '../../../../src/core/paths';
import { refreshServer } from '../../../../src/core/refresh';
import { login } from '../../../../src/core/login';
import type { ServerConfig } from '../../../../src/core/config/types';
import { withHome } from '../../../helpers/home';
import { posts, withLoopbackAs } from '../../../helpers/loopback-as';
import { fakeSecurity, fakeKeychainItems } from '../../../helpers/fake-security';

/*
 * A keychain whose main item points at an overflow item that is gone (claude-code-format.md, "macOS keychain
 * overflow"): the store refuses every write then (store/keychain.ts), so that what the overflow held is not lost.
 * A refresh of a server whose entry reads whole from the main item must not send its refresh token (it would be
 * spent, and the answer could not be stored: Claude Code would then present the spent token), and a sign-in must
 * not start (the grant it gets could not be kept). Found by the cold review of session 6.
 */

const SERVICE = 'Claude Code-credentials';
const ACCOUNT = 'alice';
const URL0 = 'https://mcp-0.example.com/mcp';
const keyOf = (name: string, url: string) =>
  `${name}|${createHash('sha256')
    .update(JSON.stringify({ type: 'http', url, headers: {} }))
    .digest('hex')
    .slice(0, 16)}`;

test('lost overflow: a refresh sends nothing (the answer could not be stored) and a sign-in does not start; nothing is written', async () => {
  await withLoopbackAs(async (issuer, requests) => {
    await withHome(async (h) => {
      const k0 = keyOf('server-0', URL0);
      const main = {
        mcpOAuth: {
          [k0]: {
            serverName: 'server-0',
            serverUrl: URL0,
            accessToken: `at-old-${'A'.repeat(40)}`,
            refreshToken: `rt-old-${'R'.repeat(40)}`,
            expiresAt: Date.now() - 1000,
            clientId: 'client-0',
            issuer,
            discoveryState: { authorizationServerUrl: issuer, oauthMetadataFound: true },
          },
        },
        keychainOverflow: { slot: 'a', key: randomBytes(32).toString('base64') },
      };
      const sec = fakeSecurity(h.home, { items: [{ service: SERVICE, account: ACCOUNT, data: JSON.stringify(main) }] });
      const store = new KeychainStore(
        SERVICE,
        ACCOUNT,
        new FileStore(path.join(h.claudeDir, '.credentials.json')),
        sec,
      );
      fs.writeFileSync(
        path.join(h.home, '.claude.json'),
        JSON.stringify({ mcpServers: { 'server-0': { type: 'http', url: URL0 } } }),
      );
      const paths = resolvePaths({ env: h.env, home: h.home, platform: 'darwin' });
      assert.equal((await store.read()).overflowError?.code, 'store-overflow-missing');
      const before = fakeKeychainItems(h.home);
      const server = { name: 'server-0', scope: 'user', transport: 'http', url: URL0, headers: {} } as ServerConfig;

      const out = await refreshServer(server, { paths, store, lockTimeoutMs: 5000 });
      assert.equal(out.result, 'failed');
      assert.equal(out.code, 'store-overflow-missing', out.message);
      assert.match(out.message ?? '', /the refresh token was not sent/);
      assert.deepEqual(posts(requests), [], 'the refresh token was sent though no write could store the answer');

      let opened = 0;
      await assert.rejects(
        login(server, { paths, store }, { onAuthorizationUrl: () => void opened++, timeoutMs: 5000 }),
        (e: { code: string; message: string }) =>
          e.code === 'store-overflow-missing' && /no sign-in was started/.test(e.message),
      );
      assert.equal(opened, 0, 'no browser was opened');
      assert.deepEqual(posts(requests), [], 'no token request of any kind');
      assert.deepEqual(fakeKeychainItems(h.home), before, 'no keychain item was written');
      assert.equal(fs.existsSync(path.join(h.claudeDir, '.credentials.json')), false, 'no plaintext fallback either');
    });
  });
});
