import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { resolvePaths } from '../../../src/core/paths';

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
  const p = resolvePaths({ env: { CLAUDE_CONFIG_DIR: decomposed }, home: '/h' });
  assert.equal(p.configDir, '/c/caf\u00e9');
  assert.equal(p.userConfigFile, '/c/caf\u00e9/.claude.json');
  assert.equal(p.credentialsFile, '/c/caf\u00e9/.credentials.json');
});

test('paths: CLAUDE_SECURESTORAGE_CONFIG_DIR moves only the store; empty means ~/.claude', () => {
  const p = resolvePaths({ env: { CLAUDE_CONFIG_DIR: '/c', CLAUDE_SECURESTORAGE_CONFIG_DIR: '/s' }, home: '/h' });
  assert.equal(p.credentialsFile, '/s/.credentials.json');
  assert.equal(p.needsAuthCacheFile, '/c/mcp-needs-auth-cache.json');
  const q = resolvePaths({ env: { CLAUDE_CONFIG_DIR: '/c', CLAUDE_SECURESTORAGE_CONFIG_DIR: '' }, home: '/h' });
  assert.equal(q.credentialsFile, '/h/.claude/.credentials.json');
});
