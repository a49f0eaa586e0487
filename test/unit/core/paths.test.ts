import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { managedMcpFiles, resolvePaths } from '../../../src/core/paths';
import { refreshLock, storageLock } from '../../../src/core/lock/lock';
import { openStore } from '../../../src/core/store/backend';
import { assertWritableStore, windowsCredmanForced } from '../../../src/core/store/credman';
import type { McpAuthError } from '../../../src/core/errors';

test('paths: defaults under HOME', () => {
  const p = resolvePaths({ env: {}, home: '/h', platform: 'linux' });
  assert.equal(p.configDir, '/h/.claude');
  assert.equal(p.credentialsFile, '/h/.claude/.credentials.json');
  assert.equal(p.needsAuthCacheFile, '/h/.claude/mcp-needs-auth-cache.json');
  assert.equal(p.userConfigFile, '/h/.claude.json');
  assert.deepEqual(p.managedDirs, ['/etc/claude-code']);
});

test('paths: CLAUDE_CONFIG_DIR moves everything, .claude.json included; NFC-normalised', () => {
  const decomposed = '/c/cafe\u0301';
  const p = resolvePaths({ env: { CLAUDE_CONFIG_DIR: decomposed }, home: '/h', platform: 'linux' });
  assert.equal(p.configDir, '/c/caf\u00e9');
  assert.equal(p.userConfigFile, '/c/caf\u00e9/.claude.json');
  assert.equal(p.credentialsFile, '/c/caf\u00e9/.credentials.json');
});

test('paths: CLAUDE_SECURESTORAGE_CONFIG_DIR moves only the store; empty means ~/.claude', () => {
  const p = resolvePaths({
    env: { CLAUDE_CONFIG_DIR: '/c', CLAUDE_SECURESTORAGE_CONFIG_DIR: '/s' },
    home: '/h',
    platform: 'linux',
  });
  assert.equal(p.credentialsFile, '/s/.credentials.json');
  assert.equal(p.needsAuthCacheFile, '/c/mcp-needs-auth-cache.json');
  const q = resolvePaths({
    env: { CLAUDE_CONFIG_DIR: '/c', CLAUDE_SECURESTORAGE_CONFIG_DIR: '' },
    home: '/h',
    platform: 'linux',
  });
  assert.equal(q.credentialsFile, '/h/.claude/.credentials.json');
});

// Windows, on any machine: path.win32 and process.platform injected through `platform`
test('paths (win32): %USERPROFILE% is home (a shell HOME is not); config dir, store, user config, managed-mcp.json', () => {
  const p = resolvePaths({ env: { USERPROFILE: 'C:\\Users\\Me', HOME: '/c/Users/Me' }, platform: 'win32' });
  assert.equal(p.home, 'C:\\Users\\Me');
  assert.equal(p.configDir, 'C:\\Users\\Me\\.claude');
  assert.equal(p.secureDir, 'C:\\Users\\Me\\.claude');
  assert.equal(p.credentialsFile, 'C:\\Users\\Me\\.claude\\.credentials.json');
  assert.equal(p.needsAuthCacheFile, 'C:\\Users\\Me\\.claude\\mcp-needs-auth-cache.json');
  assert.equal(p.userConfigFile, 'C:\\Users\\Me\\.claude.json');
  assert.deepEqual(p.managedDirs, ['C:\\Program Files\\ClaudeCode']);
  assert.deepEqual(managedMcpFiles(p), ['C:\\Program Files\\ClaudeCode\\managed-mcp.json']);
});

test('paths (win32): CLAUDE_CONFIG_DIR and CLAUDE_SECURESTORAGE_CONFIG_DIR as Windows paths', () => {
  const p = resolvePaths({
    env: { USERPROFILE: 'C:\\Users\\Me', CLAUDE_CONFIG_DIR: 'D:\\cc', CLAUDE_SECURESTORAGE_CONFIG_DIR: '' },
    platform: 'win32',
  });
  assert.equal(p.configDir, 'D:\\cc');
  assert.equal(p.userConfigFile, 'D:\\cc\\.claude.json');
  assert.equal(p.needsAuthCacheFile, 'D:\\cc\\mcp-needs-auth-cache.json');
  assert.equal(p.credentialsFile, 'C:\\Users\\Me\\.claude\\.credentials.json');
});

test('locks (win32): the same lock names as Claude Code, in the Windows secure-storage folder', () => {
  const p = resolvePaths({ env: { USERPROFILE: 'C:\\Users\\Me' }, platform: 'win32' });
  assert.equal(storageLock(p.secureDir).target, 'C:\\Users\\Me\\.claude\\.storage-write');
  const r = refreshLock(p.secureDir, 'demo|c52143f84584caf9');
  // proper-lockfile's mkdir lock is `<target>.lock`: mcp-refresh-demo_c52143f84584caf9.lock.lock, as on Linux
  assert.equal(r.target, 'C:\\Users\\Me\\.claude\\mcp-refresh-demo_c52143f84584caf9.lock');
  assert.equal(path.win32.basename(r.target) + '.lock', 'mcp-refresh-demo_c52143f84584caf9.lock.lock');
  assert.equal(r.stale, 60_000);
  // a UNC profile folder too
  assert.equal(storageLock('\\\\srv\\home\\.claude').target, '\\\\srv\\home\\.claude\\.storage-write');
  // and POSIX folders are joined as before
  assert.equal(storageLock('/h/.claude').target, '/h/.claude/.storage-write');
});

test('store (win32): the file store, unless Windows Credential Manager is forced (env or cached flag)', () => {
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-credman-')));
  try {
    // real files, POSIX paths of this machine; the platform the store is chosen for is injected
    const paths = resolvePaths({ env: {}, home: tmp, platform: process.platform === 'win32' ? 'win32' : 'linux' });
    fs.mkdirSync(paths.configDir, { recursive: true });
    assert.equal(openStore(paths, { platform: 'win32', env: {} }).kind, 'file');
    assert.equal(openStore(paths, { platform: 'win32', env: { CLAUDE_CODE_FORCE_WINDOWS_CREDMAN: '0' } }).kind, 'file');
    const forced = openStore(paths, { platform: 'win32', env: { CLAUDE_CODE_FORCE_WINDOWS_CREDMAN: '1' } });
    assert.equal(forced.kind, 'credman');
    // the flag cached in the user config (~/.claude.json), Claude Code's cachedGrowthBookFeatures
    fs.writeFileSync(
      paths.userConfigFile,
      JSON.stringify({ mcpServers: {}, cachedGrowthBookFeatures: { tengu_windows_credman: true } }),
    );
    assert.equal(openStore(paths, { platform: 'win32', env: {} }).kind, 'credman');
    assert.equal(openStore(paths, { platform: 'linux', env: {} }).kind, 'file', 'only on Windows');
    assert.equal(windowsCredmanForced(paths, { CLAUDE_CODE_FORCE_WINDOWS_CREDMAN: '1' }, 'darwin'), false);
    // false, or a config that does not parse: the file store
    fs.writeFileSync(
      paths.userConfigFile,
      JSON.stringify({ cachedGrowthBookFeatures: { tengu_windows_credman: false } }),
    );
    assert.equal(openStore(paths, { platform: 'win32', env: {} }).kind, 'file');
    fs.writeFileSync(paths.userConfigFile, '{');
    assert.equal(openStore(paths, { platform: 'win32', env: {} }).kind, 'file');
    // D/.config.json (the older config file), when present and not empty, is the one read
    fs.writeFileSync(
      path.join(paths.configDir, '.config.json'),
      JSON.stringify({ cachedFeatureFlags: { tengu_windows_credman: true } }),
    );
    assert.equal(openStore(paths, { platform: 'win32', env: {} }).kind, 'credman');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('store (credman): every read and write is refused with store-credman, and nothing is written', async () => {
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-credman-')));
  try {
    const paths = resolvePaths({ env: {}, home: tmp, platform: 'linux' });
    const store = openStore(paths, { platform: 'win32', env: { CLAUDE_CODE_FORCE_WINDOWS_CREDMAN: '1' } });
    await assert.rejects(store.read(), (e: McpAuthError) => e.code === 'store-credman');
    await assert.rejects(store.write({ mcpOAuth: {} }), (e: McpAuthError) => e.code === 'store-credman');
    assert.throws(
      () => assertWritableStore(store),
      (e: McpAuthError) => e.code === 'store-credman',
    );
    assert.doesNotThrow(() => assertWritableStore(openStore(paths, { platform: 'linux', env: {} })));
    assert.equal(fs.existsSync(paths.credentialsFile), false);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
