import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolvePaths } from '../../../src/core/paths';
import { otherProfiles, profilesFile, recordProfile } from '../../../src/core/profiles';
import { withHome } from '../../helpers/home';

const DAY = 24 * 3600_000;
const T0 = 1_800_000_000_000;

test('recordProfile: one write a day, forgets profiles unseen for 90 days, never creates the config dir', async () => {
  await withHome(async (h) => {
    const p = resolvePaths({ env: { CLAUDE_SECURESTORAGE_CONFIG_DIR: '/w' }, home: h.home });
    const file = profilesFile(p);
    const read = () => JSON.parse(fs.readFileSync(file, 'utf8')).profiles;
    await recordProfile(p, T0);
    assert.deepEqual(read(), { '/w': { lastSeen: T0 } });
    await recordProfile(p, T0 + DAY / 2);
    assert.deepEqual(read(), { '/w': { lastSeen: T0 } }, 'not rewritten within a day');
    await recordProfile(p, T0 + 2 * DAY);
    assert.deepEqual(read(), { '/w': { lastSeen: T0 + 2 * DAY } });
    const q = resolvePaths({ env: {}, home: h.home });
    await recordProfile(q, T0 + 93 * DAY);
    assert.deepEqual(read(), { [h.claudeDir]: { lastSeen: T0 + 93 * DAY } }, '/w forgotten after 90 days');
    assert.equal((fs.statSync(file).mode & 0o777).toString(8), '600');

    const elsewhere = resolvePaths({ env: { CLAUDE_CONFIG_DIR: path.join(h.home, 'nope') }, home: h.home });
    await recordProfile(elsewhere, T0);
    assert.equal(fs.existsSync(path.join(h.home, 'nope')), false);
  });
});

test('recordProfile and otherProfiles: a malformed or hostile record is no record, and is replaced whole', async () => {
  await withHome(async (h) => {
    const p = resolvePaths({ env: {}, home: h.home });
    for (const text of ['{not json', '[]', '{"profiles":{"relative/dir":{"lastSeen":1},"/x":{"lastSeen":"soon"}}}']) {
      fs.writeFileSync(profilesFile(p), text);
      assert.deepEqual(otherProfiles(p, T0), []);
      await recordProfile(p, T0);
      assert.deepEqual(JSON.parse(fs.readFileSync(profilesFile(p), 'utf8')).profiles, {
        [h.claudeDir]: { lastSeen: T0 },
      });
    }
  });
});

test('otherProfiles: D itself when S ≠ D and D has a store; tokens usable there by key; a store that is not JSON has none', async () => {
  await withHome(async (h) => {
    const w = path.join(h.home, 'w');
    fs.mkdirSync(w);
    const p = resolvePaths({ env: { CLAUDE_SECURESTORAGE_CONFIG_DIR: w }, home: h.home });
    assert.deepEqual(otherProfiles(p, T0), [], 'no store in D yet');
    fs.writeFileSync(
      path.join(h.claudeDir, '.credentials.json'),
      JSON.stringify({
        mcpOAuth: {
          'live|1': { accessToken: 'a', expiresAt: T0 + 1000 },
          'old|1': { accessToken: 'a', expiresAt: T0 - 1000 },
          'refreshable|1': { accessToken: 'a', refreshToken: 'r', expiresAt: T0 - 1000 },
          'out|1': { accessToken: '', refreshToken: '', expiresAt: 0 },
        },
      }),
    );
    const [d] = otherProfiles(p, T0);
    assert.equal(d.dir, h.claudeDir);
    assert.deepEqual([...d.usableKeys].sort(), ['live|1', 'refreshable|1']);
    fs.writeFileSync(path.join(h.claudeDir, '.credentials.json'), '{broken');
    assert.deepEqual([...otherProfiles(p, T0)[0].usableKeys], []);
    // from D's side, w is known only once noted
    const q = resolvePaths({ env: {}, home: h.home });
    assert.deepEqual(otherProfiles(q, T0), []);
    fs.writeFileSync(path.join(w, '.credentials.json'), '{}');
    await recordProfile(p, T0);
    assert.deepEqual(
      otherProfiles(q, T0).map((o) => o.dir),
      [w],
    );
  });
});
