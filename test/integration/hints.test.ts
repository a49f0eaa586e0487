/**
 * "Say why": what makes a row need attention beyond its state, as codes in `status --json`, lines in `doctor`.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, withHome } from '../helpers/home';
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
