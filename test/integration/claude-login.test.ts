/**
 * Sign In with Claude Code, against the REAL Claude Code: `claude mcp login NAME` (in a pty: it refuses to run
 * without one) signs in through the oauth-stack with the test browser as its $BROWSER; then afterClaudeLogin
 * (what the extension runs when the terminal closes) finds the token and clears the needs-auth entries.
 * Failures (the authorization server refusing, a `claude` that exits 1, no `claude` at all) change nothing.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withHome, runCliAsync, CLAUDE_BIN, type TempHome } from '../helpers/home';
import { runClaude } from '../helpers/claude';
import { writeServers, entryOf } from '../helpers/oauth';
import { useStack } from '../helpers/stack';
import { browserScript } from '../helpers/claude-browser';
import { discoverServers } from '../../src/core/config/discover';
import { resolvePaths } from '../../src/core/paths';
import { openStore } from '../../src/core/store/backend';
import {
  afterClaudeLogin,
  claudeLoginCommand,
  storedTokenMark,
  type ClaudeLoginCommand,
} from '../../src/core/claudeLogin';
import { isMcpAuthError } from '../../src/core/errors';

const stack = useStack();

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The command line in a pty (util-linux `script`), as a VS Code terminal would run it; its exit code and output. */
function runInPty(cmd: ClaudeLoginCommand, env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const line = [cmd.command, ...cmd.args].map(q).join(' ');
    const child = spawn('script', ['-qfec', line, '/dev/null'], {
      cwd: cmd.cwd,
      env: { ...env, ...cmd.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => {
      clearTimeout(t);
      // what Claude Code printed, without escape sequences and without anything token-like
      // eslint-disable-next-line no-control-regex
      const text = out.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, '');
      resolve({ code: code ?? -1, out: text.replace(/[A-Za-z0-9_.~-]{24,}/g, '…') });
    });
  });
}

async function setUp(h: TempHome) {
  writeServers(h, { demo: { type: 'http', url: stack.mcpUrl }, other: { type: 'http', url: `${stack.issuer}/other` } });
  const paths = resolvePaths({ env: h.env, home: h.home, managedDirs: [] });
  const servers = (await discoverServers({ paths, cwd: h.project, env: h.env })).servers;
  const demo = servers.find((s) => s.name === 'demo')!;
  const deps = { paths, store: openStore(paths, { env: h.env }), allServers: servers };
  // needs-auth as Claude Code itself records it: `claude mcp list` while not signed in
  const list = await runClaude(['mcp', 'list'], { env: h.env, cwd: h.project });
  assert.match(list.stdout, /demo: .*Needs authentication/);
  const cacheFile = paths.needsAuthCacheFile;
  assert.ok(JSON.parse(fs.readFileSync(cacheFile, 'utf8')).demo, 'claude mcp list wrote the needs-auth entry');
  const { script, log } = browserScript(h.home);
  return { paths, demo, deps, cacheFile, env: { ...h.env, BROWSER: script }, browserLog: log };
}

const snapshot = (files: string[]) =>
  files.map((f) => (fs.existsSync(f) ? { f, bytes: fs.readFileSync(f), mtimeMs: fs.statSync(f).mtimeMs } : { f }));

test(
  "real claude mcp login through the oauth-stack, then afterClaudeLogin: token stored, the server's needs-auth entries gone, status signed-in",
  { timeout: 240_000 },
  async () => {
    await withHome(async (h) => {
      const s = await setUp(h);
      const cmd = claudeLoginCommand(s.demo, {
        claudePath: CLAUDE_BIN,
        workspaceFolder: h.project,
        paths: s.paths,
        env: s.env,
      });
      assert.deepEqual(cmd.args, ['mcp', 'login', 'demo']);
      assert.equal(cmd.cwd, h.project);
      assert.deepEqual(cmd.env, {}, 'no CLAUDE_CONFIG_DIR when ours is the inherited one');
      const before = await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project });
      assert.equal(
        JSON.parse(before.stdout).servers.find((x: { name: string }) => x.name === 'demo').state,
        'needs-auth',
      );

      const r = await runInPty(cmd, s.env);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /Authenticated with "demo"/);
      assert.match(
        fs.readFileSync(s.browserLog, 'utf8'),
        /^done 200 \/callback$/m,
        'the test browser reached the callback',
      );
      const { entry } = entryOf(h, 'demo');
      assert.ok(entry.accessToken && entry.refreshToken, 'Claude Code stored the tokens');
      // observed with 2.1.328: claude mcp login clears the entry of the name it signed in to itself
      assert.equal(JSON.parse(fs.readFileSync(s.cacheFile, 'utf8')).demo, undefined);

      // a session that started before the token was stored writes the entry again; another server's stays
      fs.writeFileSync(
        s.cacheFile,
        JSON.stringify({ demo: { timestamp: Date.now() }, other: { timestamp: Date.now() } }),
        { mode: 0o644 },
      );
      const out = await afterClaudeLogin(s.demo, s.deps);
      assert.deepEqual(out, { name: 'demo', signedIn: true, cleared: ['demo'] });
      const cache = JSON.parse(fs.readFileSync(s.cacheFile, 'utf8'));
      assert.deepEqual(Object.keys(cache), ['other']);

      // nothing left to clear: a second run writes nothing
      const snap = snapshot([s.cacheFile]);
      assert.deepEqual(await afterClaudeLogin(s.demo, s.deps), { name: 'demo', signedIn: true, cleared: [] });
      assert.deepEqual(snapshot([s.cacheFile]), snap);

      // a later run that fails over the stored token (unchanged) clears nothing: the keeper asks the server first
      fs.writeFileSync(s.cacheFile, JSON.stringify({ demo: { timestamp: Date.now() } }), { mode: 0o644 });
      const mark = await storedTokenMark(s.demo, s.deps.store);
      const snap2 = snapshot([s.cacheFile]);
      assert.deepEqual(await afterClaudeLogin(s.demo, s.deps, { exitCode: 1, before: mark }), {
        name: 'demo',
        signedIn: false,
        cleared: [],
        why: 'unchanged',
      });
      // exit 0 says nothing by itself: the token must be a new one
      assert.equal((await afterClaudeLogin(s.demo, s.deps, { exitCode: 0, before: mark })).why, 'unchanged');
      assert.deepEqual(snapshot([s.cacheFile]), snap2);
      // a token that lacks the scopes of a pending step-up keeps Claude Code's (90-s) entry
      const store = JSON.parse(fs.readFileSync(s.paths.credentialsFile, 'utf8'));
      const k = Object.keys(store.mcpOAuth).find((x) => x.startsWith('demo|'))!;
      store.mcpOAuth[k].stepUpScope = 'mcp mcp:admin offline_access';
      fs.writeFileSync(s.paths.credentialsFile, JSON.stringify(store), { mode: 0o600 });
      assert.equal((await afterClaudeLogin(s.demo, s.deps, { exitCode: 0 })).why, 'step-up-pending');
      assert.deepEqual(snapshot([s.cacheFile]), snap2);
      delete store.mcpOAuth[k].stepUpScope;
      fs.writeFileSync(s.paths.credentialsFile, JSON.stringify(store), { mode: 0o600 });
      assert.deepEqual(await afterClaudeLogin(s.demo, s.deps, { exitCode: 0 }), {
        name: 'demo',
        signedIn: true,
        cleared: ['demo'],
      });

      const st = await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project });
      const row = JSON.parse(st.stdout).servers.find((x: { name: string }) => x.name === 'demo');
      assert.equal(row.state, 'signed-in', st.stdout);
      assert.equal(row.needsAuthCachedAt, null);
      for (const t of [entry.accessToken, entry.refreshToken]) {
        assert.ok(!st.stdout.includes(t) && !st.stderr.includes(t) && !r.out.includes(t), 'no token in any output');
      }
    });
  },
);

const NO_TOKEN = { name: 'demo', signedIn: false, cleared: [], why: 'no-token' };

test(
  'claude mcp login fails (the authorization server refuses the code; a claude that exits 1): nothing cleared, no file changed',
  { timeout: 240_000 },
  async () => {
    await withHome(async (h) => {
      const s = await setUp(h);
      const files = [s.cacheFile, s.paths.credentialsFile];

      // 1. the real Claude Code, with the token endpoint answering 400
      stack.mode.tokenStatus = 400;
      const cmd = claudeLoginCommand(s.demo, {
        claudePath: CLAUDE_BIN,
        workspaceFolder: h.project,
        paths: s.paths,
        env: s.env,
      });
      const r = await runInPty(cmd, s.env);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /Couldn't complete authentication for "demo"/);
      const snap = snapshot(files);
      assert.ok(JSON.parse(fs.readFileSync(s.cacheFile, 'utf8')).demo, 'Claude Code kept the needs-auth entry');
      assert.deepEqual(await afterClaudeLogin(s.demo, s.deps, { exitCode: 1 }), NO_TOKEN);
      assert.deepEqual(snapshot(files), snap, 'no file written');

      // 2. mcpAuth.claudePath naming a program that exits 1
      const fake = path.join(h.home, 'bin', 'claude-fails');
      fs.mkdirSync(path.dirname(fake));
      fs.writeFileSync(fake, '#!/bin/sh\necho "cannot sign in" >&2\nexit 1\n', { mode: 0o755 });
      const cmd2 = claudeLoginCommand(s.demo, {
        claudePath: fake,
        workspaceFolder: h.project,
        paths: s.paths,
        env: s.env,
      });
      assert.equal(cmd2.command, fake);
      const r2 = await runInPty(cmd2, s.env);
      assert.equal(r2.code, 1);
      assert.deepEqual(await afterClaudeLogin(s.demo, s.deps, { exitCode: 1 }), NO_TOKEN);
      assert.deepEqual(snapshot(files), snap, 'no file written');

      // 3. no such claude: refused before any terminal, with its own code
      assert.throws(
        () =>
          claudeLoginCommand(s.demo, {
            claudePath: 'no-such-claude-here',
            workspaceFolder: h.project,
            paths: s.paths,
            env: s.env,
          }),
        (e) => isMcpAuthError(e) && e.code === 'claude-not-found',
      );
      assert.deepEqual(snapshot(files), snap);
    });
  },
);
