import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStore } from '../../../src/core/store/backend';
import { resolvePaths } from '../../../src/core/paths';
import { refreshServer } from '../../../src/core/refresh';
import { fingerprint, notesFile, readIntents, recordIntent, resolveIntent, spentCause } from '../../../src/core/notes';
import { serverKey } from '../../../src/core/store/key';
import type { ServerConfig } from '../../../src/core/config/types';
import { withHome } from '../../helpers/home';
import { posts, withLoopbackAs } from '../../helpers/loopback-as';

/*
 * An intent record left by a process killed between its POST and its write marks its refresh token as never to
 * be sent again. It names its writer by pid and host, and pids repeat: after a reboot, or with `mcp-auth watch`
 * as pid 1 of a container restarted on the same ~/.claude. A later process with the dead one's pid must not take
 * the record for its own (found by the cold review of session 6: it did, and sent the token again).
 */

const URL0 = 'https://mcp-0.example.com/mcp';

for (const [label, writer] of [
  ['another pid', { pid: 999_999 }],
  ['our pid and host, written by an earlier process (no run name: an older version)', { pid: process.pid }],
  ['our pid and host, another run', { pid: process.pid, run: 'f'.repeat(32) }],
] as const) {
  test(`intent record of a dead process (${label}): its token is never sent again`, async () => {
    await withLoopbackAs(async (issuer, requests) => {
      await withHome(async (h) => {
        const server = { name: 'server-0', scope: 'user', transport: 'http', url: URL0, headers: {} } as ServerConfig;
        const key = serverKey(server);
        // a token of its own per case: this process never sends one token twice (refresh/spent.ts), whatever the notes
        const rt0 = `rt-old-${writer.pid}-${'run' in writer ? writer.run : ''}-${'R'.repeat(40)}`;
        const file = path.join(h.claudeDir, '.credentials.json');
        const entry = {
          serverName: 'server-0',
          serverUrl: URL0,
          accessToken: `at-old-${'A'.repeat(40)}`,
          refreshToken: rt0,
          expiresAt: Date.now() - 1000,
          clientId: 'client-0',
          issuer,
          discoveryState: { authorizationServerUrl: issuer, oauthMetadataFound: true },
        };
        fs.writeFileSync(file, JSON.stringify({ mcpOAuth: { [key]: entry } }), { mode: 0o600 });
        const paths = resolvePaths({ env: h.env, home: h.home, platform: 'linux' });
        // what the earlier process's recordIntent left before its POST; that process then died (SIGKILL)
        const intents = {
          [key]: { fingerprint: fingerprint(rt0), at: Date.now() - 60_000, host: os.hostname(), ...writer },
        };
        fs.writeFileSync(notesFile(paths), JSON.stringify({ answers: {}, spent: {}, clientRejected: {}, intents }), {
          mode: 0o600,
        });
        const out = await refreshServer(server, { paths, store: new FileStore(file), lockTimeoutMs: 5000 });
        assert.equal(posts(requests).length, 0, `the possibly spent refresh token was sent again (${out.result})`);
        assert.equal(out.code, 'token-spent', out.message);
      });
    });
  });
}

test('intent record: this process resolves its own record, and only its own', async () => {
  await withHome(async (h) => {
    const paths = resolvePaths({ env: h.env, home: h.home, platform: 'linux' });
    await recordIntent(paths, 'k|1', 'rt-a', 1);
    const mine = (await readIntents(paths))['k|1'];
    assert.equal(mine.pid, process.pid);
    assert.match(mine.run ?? '', /^[0-9a-f]{32}$/);
    await resolveIntent(paths, 'k|1', 'rt-a');
    assert.equal((await readIntents(paths))['k|1'], undefined, 'resolved');
    // the same pid and host, but another run's record: not ours to resolve
    fs.writeFileSync(notesFile(paths), JSON.stringify({ intents: { 'k|1': { ...mine, run: '0'.repeat(32) } } }), {
      mode: 0o600,
    });
    await resolveIntent(paths, 'k|1', 'rt-a');
    assert.equal((await readIntents(paths))['k|1']?.run, '0'.repeat(32), 'left as it was');

    // an older mcp-auth rewrote the notes meanwhile and kept only the fields it knows (no run): still ours,
    // neither a mark against our own token nor left behind once resolved (second review of session 6)
    await recordIntent(paths, 'k|2', 'rt-b', 2);
    const older: Record<string, unknown> = { ...(await readIntents(paths))['k|2'] };
    delete older.run;
    fs.writeFileSync(notesFile(paths), JSON.stringify({ intents: { 'k|2': older } }), { mode: 0o600 });
    assert.equal(await spentCause(paths, 'k|2', 'rt-b'), undefined, 'not a mark against our own refresh');
    await resolveIntent(paths, 'k|2', 'rt-b');
    assert.equal((await readIntents(paths))['k|2'], undefined, 'resolved');
  });
});
