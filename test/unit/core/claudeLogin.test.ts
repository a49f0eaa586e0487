import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { claudeLoginCommand, findExecutable } from '../../../src/core/claudeLogin';
import { hasUsableToken } from '../../../src/core/status';
import type { ServerConfig } from '../../../src/core/config/types';
import { isMcpAuthError } from '../../../src/core/errors';
import { resolvePaths } from '../../../src/core/paths';

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-claude-cmd-')));
const bin = path.join(dir, 'bin');
fs.mkdirSync(bin);
fs.writeFileSync(path.join(bin, 'claude'), '#!/bin/sh\n', { mode: 0o755 });
fs.writeFileSync(path.join(bin, 'not-exec'), '', { mode: 0o644 });
const env = { PATH: `/nonexistent:${bin}` };
const server = (o: Partial<ServerConfig> = {}): ServerConfig => ({
  name: 'demo',
  scope: 'user',
  file: '/h/.claude.json',
  transport: 'http',
  url: 'https://mcp.example/mcp',
  ...o,
});
const paths = resolvePaths({ env: {}, home: '/h', platform: 'linux' });

test(
  'claudeLoginCommand: claude from PATH, `mcp login NAME`, workspace folder, no extra env',
  { skip: process.platform === 'win32' },
  () => {
    const c = claudeLoginCommand(server(), { workspaceFolder: '/w', paths, env });
    assert.deepEqual(c, { command: path.join(bin, 'claude'), args: ['mcp', 'login', 'demo'], cwd: '/w', env: {} });
    assert.equal(claudeLoginCommand(server(), { paths, env }).cwd, '/h', 'no folder: home');
    assert.equal(claudeLoginCommand(server({ scope: 'local' }), { workspaceFolder: '/w', paths, env }).cwd, '/w');
  },
);

test(
  'claudeLoginCommand: a project server runs from its .mcp.json folder',
  { skip: process.platform === 'win32' },
  () => {
    const c = claudeLoginCommand(server({ scope: 'project', file: '/w/sub/.mcp.json' }), {
      workspaceFolder: '/w',
      paths,
      env,
    });
    assert.equal(c.cwd, '/w/sub');
  },
);

test(
  'claudeLoginCommand: CLAUDE_CONFIG_DIR only when our config folder differs from the inherited one',
  { skip: process.platform === 'win32' },
  () => {
    const ours = resolvePaths({ env: {}, home: '/h', configDirOverride: '/cfg' });
    assert.deepEqual(claudeLoginCommand(server(), { paths: ours, env }).env, { CLAUDE_CONFIG_DIR: '/cfg' });
    assert.deepEqual(claudeLoginCommand(server(), { paths: ours, env: { ...env, CLAUDE_CONFIG_DIR: '/cfg' } }).env, {});
    assert.deepEqual(claudeLoginCommand(server(), { paths: ours, env: { ...env, CLAUDE_CONFIG_DIR: '/other' } }).env, {
      CLAUDE_CONFIG_DIR: '/cfg',
    });
  },
);

test(
  'claudeLoginCommand: a missing or non-executable claude is claude-not-found; stdio servers are refused',
  { skip: process.platform === 'win32' },
  () => {
    const notFound = (e: unknown) => isMcpAuthError(e) && e.code === 'claude-not-found';
    assert.throws(() => claudeLoginCommand(server(), { claudePath: 'nope', paths, env }), notFound);
    assert.throws(() => claudeLoginCommand(server(), { claudePath: path.join(bin, 'not-exec'), paths, env }), notFound);
    assert.throws(() => claudeLoginCommand(server(), { paths, env: { PATH: '' } }), notFound);
    assert.equal(
      claudeLoginCommand(server(), { claudePath: path.join(bin, 'claude'), paths, env: {} }).command,
      path.join(bin, 'claude'),
    );
    assert.throws(
      () => claudeLoginCommand(server({ transport: 'stdio', url: undefined }), { paths, env }),
      (e) => isMcpAuthError(e) && e.code === 'not-remote',
    );
    assert.equal(findExecutable('claude', { PATH: bin }, 'linux'), path.join(bin, 'claude'));
    // a relative path, or a relative PATH folder, would be resolved in the working folder (maybe untrusted): never
    const rel = path.relative(process.cwd(), path.join(bin, 'claude'));
    assert.throws(() => claudeLoginCommand(server(), { claudePath: rel, paths, env: {} }), notFound);
    assert.equal(findExecutable('claude', { PATH: path.relative(process.cwd(), bin) }, 'linux'), undefined);
  },
);

test('hasUsableToken: an unexpired access token or a refresh token; not a stub, not signed out', () => {
  const now = 1_000_000;
  assert.equal(hasUsableToken(undefined, now), false);
  assert.equal(hasUsableToken({ accessToken: '' }, now), false, 'stub');
  assert.equal(hasUsableToken({ accessToken: '', expiresAt: 0 }, now), false, 'signed out after invalid_grant');
  assert.equal(hasUsableToken({ accessToken: 'a', expiresAt: now - 1 }, now), false);
  assert.equal(hasUsableToken({ accessToken: 'a', expiresAt: now + 1 }, now), true);
  assert.equal(hasUsableToken({ accessToken: 'a' }, now), true, 'no expiry');
  assert.equal(hasUsableToken({ accessToken: 'a', expiresAt: now - 1, refreshToken: 'r' }, now), true);
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
