import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStore } from '../../../../src/core/store/backend';
import { updateEntry } from '../../../../src/core/store/write';
import { resolvePaths } from '../../../../src/core/paths';
import { redact, rememberSecret, rememberedSecrets } from '../../../../src/core/log';

test('updateEntry: the tokens a write replaces are no longer live secrets (retired, still hidden for a while); the new ones and the other entries are', async () => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-write-')));
  try {
    const paths = resolvePaths({ env: { HOME: dir }, home: dir, managedDirs: [] });
    fs.mkdirSync(paths.secureDir);
    const old = { accessToken: 'at-old-0123456789', refreshToken: 'rt-old-0123456789', expiresAt: 1 };
    const other = { accessToken: 'at-other-0123456789', refreshToken: 'rt-other-0123456789' };
    fs.writeFileSync(paths.credentialsFile, JSON.stringify({ mcpOAuth: { 'a|1': old, 'b|2': other } }), {
      mode: 0o600,
    });
    for (const s of [old.accessToken, old.refreshToken, other.accessToken, other.refreshToken]) rememberSecret(s);
    // what the token answer brought (client.ts remembers it)
    rememberSecret('at-new-0123456789');
    rememberSecret('rt-new-0123456789');
    const before = rememberedSecrets();
    const r = await updateEntry(new FileStore(paths.credentialsFile), paths, 'a|1', (cur) => ({
      ...cur!,
      accessToken: 'at-new-0123456789',
      refreshToken: 'rt-new-0123456789',
    }));
    assert.equal(r.written, true);
    assert.deepEqual(rememberedSecrets(), { live: before.live - 2, retired: before.retired + 2 });
    const line = redact(`${old.refreshToken} ${old.accessToken} at-new-0123456789 ${other.refreshToken}`);
    assert.equal(line, '[REDACTED] [REDACTED] [REDACTED] [REDACTED]');
    // a write that changes nothing of the tokens retires nothing
    await updateEntry(new FileStore(paths.credentialsFile), paths, 'b|2', (cur) => ({ ...cur!, scope: 'mcp' }));
    assert.deepEqual(rememberedSecrets(), { live: before.live - 2, retired: before.retired + 2 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
