import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KeychainStore, FileStore } from '../../../src/core/store/backend';
import { makeHome } from '../../helpers/home';
import { fakeSecurity } from '../../helpers/fake-security';

/*
 * The calls go to a stand-in for /usr/bin/security (test/helpers/fake-security.ts): it records its argv (one
 * argument a line) and stdin, keeps the item in a file, and answers as the real tool does (exit 44 = no item,
 * 36 = locked). It proves the calls go through execFile/spawn with separate arguments and that the secret
 * travels on stdin, not in argv.
 */

test('keychain: read through find-generic-password with separate arguments; the keychain wins over the file', async () => {
  const h = makeHome();
  try {
    const sec = fakeSecurity(h.home, { item: '{"mcpOAuth":{"a|1":{"accessToken":"kc-token-123"}}}' });
    fs.writeFileSync(path.join(h.claudeDir, '.credentials.json'), '{"mcpOAuth":{"a|1":{"accessToken":"file-token"}}}');
    const store = new KeychainStore('Claude Code-credentials', 'alice', new FileStore(path.join(h.claudeDir, '.credentials.json')), sec);
    const snap = await store.read();
    assert.equal(snap.data.mcpOAuth?.['a|1'].accessToken, 'kc-token-123');
    const argv = fs.readFileSync(path.join(h.home, 'argv.log'), 'utf8').split('\n');
    assert.deepEqual(argv.slice(0, 6), ['find-generic-password', '-a', 'alice', '-w', '-s', 'Claude Code-credentials']);
  } finally { h.cleanup(); }
});

test('keychain: exit 44 (no item) falls back to the file; 36 (locked) is keychain-locked', async () => {
  const h = makeHome();
  try {
    fs.writeFileSync(path.join(h.claudeDir, '.credentials.json'), '{"mcpOAuth":{"a|1":{"accessToken":"file-token"}}}');
    const file = new FileStore(path.join(h.claudeDir, '.credentials.json'));
    const none = new KeychainStore('svc', 'alice', file, fakeSecurity(h.home, { exit: 44 }));
    assert.equal((await none.read()).data.mcpOAuth?.['a|1'].accessToken, 'file-token');
    const locked = new KeychainStore('svc', 'alice', file, fakeSecurity(h.home, { exit: 36 }));
    await assert.rejects(locked.read(), (e: { code: string }) => e.code === 'keychain-locked');
  } finally { h.cleanup(); }
});

test('keychain: the write goes through `security -i` on stdin as hex, never in argv', async () => {
  const h = makeHome();
  try {
    const sec = fakeSecurity(h.home, {});
    const store = new KeychainStore('Claude Code-credentials-1a2b3c4d', 'alice', new FileStore(path.join(h.claudeDir, '.credentials.json')), sec);
    await store.write({ mcpOAuth: { 'a|1': { accessToken: 'secret-at-value' } } });
    const argv = fs.readFileSync(path.join(h.home, 'argv.log'), 'utf8');
    assert.equal(argv.trim(), '-i\n---');
    assert.ok(!argv.includes('secret-at-value'));
    const stdin = fs.readFileSync(path.join(h.home, 'stdin.log'), 'utf8');
    const m = /^add-generic-password -U -a "alice" -s "Claude Code-credentials-1a2b3c4d" -X "([0-9a-f]+)"\n$/.exec(stdin);
    assert.ok(m, stdin);
    assert.deepEqual(JSON.parse(Buffer.from(m[1], 'hex').toString('utf8')), { mcpOAuth: { 'a|1': { accessToken: 'secret-at-value' } } });
  } finally { h.cleanup(); }
});
