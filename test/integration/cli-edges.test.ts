import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withHome, runCli, runCliAsync, hashTree, type TempHome } from '../helpers/home';
import { configured, writeServers, writeStore } from '../helpers/oauth';
import { useStack } from '../helpers/stack';
import { serverKey } from '../../src/core/store/key';

/** The CLI's rough edges (issue 23 §4), each run as a user would: dist/cli.js on a throwaway HOME. */

const stack = useStack();
const run = (h: TempHome, args: string[], env: NodeJS.ProcessEnv = {}) =>
  runCli(args, { env: { ...h.env, ...env }, cwd: h.project });
const errLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('mcp-auth: '));

test('a malformed ~/.claude.json: said to exist and not parse, never "no configuration"; errors in --json, exit 1', async () => {
  await withHome(
    (h) => fs.writeFileSync(path.join(h.home, '.claude.json'), '{"mcpServers": {'),
    async (h) => {
      const before = hashTree(h.home);
      const s = run(h, ['status']);
      assert.equal(s.code, 1);
      assert.doesNotMatch(s.stdout, /No Claude Code configuration found/);
      assert.match(s.stdout, /\.claude\.json exists but cannot be read or parsed/);
      assert.equal(errLines(s.stderr).length, 1, s.stderr);
      assert.match(s.stderr, /^mcp-auth: config-parse: .*\.claude\.json:1:\d+: not valid JSON/m);

      const d = run(h, ['doctor']);
      assert.equal(d.code, 1);
      assert.doesNotMatch(d.stdout, /\(none found\)/);
      assert.match(d.stdout, /^config files: +.*\.claude\.json \(exists but cannot be parsed: config-parse\)$/m);

      const j = run(h, ['status', '--json']);
      assert.equal(j.code, 1);
      const out = JSON.parse(j.stdout) as { servers: unknown[]; errors: Record<string, unknown>[] };
      assert.deepEqual(out.servers, []);
      assert.equal(out.errors.length, 1);
      assert.equal(out.errors[0].code, 'config-parse');
      assert.equal(out.errors[0].file, path.join(h.home, '.claude.json'));
      assert.equal(out.errors[0].line, 1);
      assert.deepEqual(hashTree(h.home), before, 'nothing written');
    },
  );
});

test('invalidate with nothing to remove writes nothing (no mcp-auth-profiles.json either)', async () => {
  await withHome(configured({ x: { type: 'http', url: stack.mcpUrl } }), async (h) => {
    const before = hashTree(h.home);
    const r = run(h, ['invalidate', 'x']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no needs-auth entries to remove/);
    assert.equal(fs.existsSync(path.join(h.claudeDir, 'mcp-auth-profiles.json')), false);
    assert.deepEqual(hashTree(h.home), before);
    // with an entry to remove, it is removed (and the profile noted)
    fs.writeFileSync(path.join(h.claudeDir, 'mcp-needs-auth-cache.json'), JSON.stringify({ x: { timestamp: 1 } }));
    const r2 = run(h, ['invalidate', 'x']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stdout, /removed needs-auth entries: x/);
    assert.equal(fs.existsSync(path.join(h.claudeDir, 'mcp-auth-profiles.json')), true);
  });
});

test('an unreadable credentials file: doctor claims no entry it cannot know; refresh says the error once', async () => {
  await withHome(
    (h) => {
      writeServers(h, { x: { type: 'http', url: stack.mcpUrl } });
      fs.mkdirSync(path.join(h.claudeDir, '.credentials.json')); // not a regular file: store-read
    },
    async (h) => {
      const d = run(h, ['doctor', 'x']);
      assert.equal(d.code, 1);
      assert.doesNotMatch(d.stdout, /no credential entry/);
      assert.match(d.stdout, /state error: store-read: /);
      const r = run(h, ['refresh', 'x']);
      assert.equal(r.code, 1);
      assert.equal(errLines(r.stderr).length, 1, r.stderr);
      assert.match(r.stderr, /^mcp-auth: store-read: x: .*\.credentials\.json is not a regular file$/m);
      assert.doesNotMatch(r.stdout, /store-read/, 'not repeated on stdout');
    },
  );
});

test('status NAME: an unknown name is unknown-server (as for every other command); a known one shows that row', async () => {
  await withHome(configured({ x: { type: 'http', url: stack.mcpUrl }, y: { command: 'true' } }), async (h) => {
    const r = run(h, ['status', 'nope']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^mcp-auth: unknown-server: no MCP server named "nope"/m);
    assert.equal(r.stdout, '');
    const y = run(h, ['status', 'y', '--json']);
    assert.equal(y.code, 0, y.stderr);
    assert.deepEqual(
      (JSON.parse(y.stdout) as { servers: { name: string }[] }).servers.map((s) => s.name),
      ['y'],
    );
  });
});

test('a mistyped option: "unknown option --jsn" and the closest real one, no unbalanced quote', async () => {
  await withHome(async (h) => {
    const r = run(h, ['status', '--jsn']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'mcp-auth: usage: unknown option --jsn (did you mean --json?)\n');
    const r2 = run(h, ['refresh', '--forse=1']);
    assert.equal(r2.stderr, 'mcp-auth: usage: unknown option --forse (did you mean --force?)\n');
    const r3 = run(h, ['status', '-x']);
    assert.equal(r3.code, 2);
    assert.doesNotMatch(r3.stderr, /'/);
  });
});

test('a remote server never contacted is unchecked (not no-auth); doctor --probe asks it', async () => {
  await withHome(configured({ x: { type: 'http', url: stack.mcpUrl } }), async (h) => {
    const j = run(h, ['status', '--json']);
    assert.equal(j.code, 0, j.stderr);
    const row = (JSON.parse(j.stdout) as { servers: Record<string, unknown>[] }).servers[0];
    assert.equal(row.state, 'unchecked');
    assert.equal(row.reason, 'not-checked');
    const s = run(h, ['status']);
    assert.match(s.stdout, /^x +user +unchecked +not contacted yet/m);
    // async: the oauth-stack answers from this process
    const d = await runCliAsync(['doctor', 'x', '--probe'], { env: h.env, cwd: h.project });
    assert.match(d.stdout, /probe now: the server asks for a sign-in \(HTTP 401/);
    assert.match(d.stdout, /fix: mcp-auth login x/);
  });
});

test('a ${VAR} unset in our process: an error row naming it; refresh, login, logout and invalidate refuse it', async () => {
  const servers = { v: { type: 'http', url: stack.mcpUrl, headers: { 'X-Tenant': '${MCP_TENANT}' } } };
  await withHome(
    (h) => {
      writeServers(h, servers);
      // what Claude Code stores with MCP_TENANT=acme in its environment (the key hashes the expanded headers)
      const key = serverKey({ name: 'v', transport: 'http', url: stack.mcpUrl, headers: { 'X-Tenant': 'acme' } });
      writeStore(h, {
        mcpOAuth: { [key]: { serverName: 'v', accessToken: 'fixture-at', expiresAt: Date.now() + 3600_000 } },
      });
      fs.writeFileSync(
        path.join(h.claudeDir, 'mcp-needs-auth-cache.json'),
        JSON.stringify({ v: { timestamp: Date.now() } }),
      );
    },
    async (h) => {
      const before = hashTree(h.home);
      const j = run(h, ['status', '--json']);
      assert.equal(j.code, 1);
      const row = (JSON.parse(j.stdout) as { servers: Record<string, unknown>[] }).servers[0];
      assert.equal(row.state, 'error');
      assert.equal(row.reason, 'unset-variable');
      const s = run(h, ['status']);
      assert.match(s.stdout, /\$\{MCP_TENANT\} in its url or headers is not set here/);
      for (const args of [
        ['refresh', 'v'],
        ['login', 'v', '--no-open', '--timeout', '5'],
        ['logout', 'v'],
        ['invalidate', 'v'],
      ]) {
        const r = run(h, args);
        assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
        assert.match(r.stderr, /^mcp-auth: unset-variable: .*\$\{MCP_TENANT\}/m, args[0]);
      }
      assert.deepEqual(hashTree(h.home), before, 'nothing written');
      // with the variable set, it is the entry Claude Code reads
      const ok = run(h, ['status', 'v', '--json'], { MCP_TENANT: 'acme' });
      assert.equal((JSON.parse(ok.stdout) as { servers: { state: string }[] }).servers[0].state, 'blocked');
      assert.ok(!j.stdout.includes('fixture-at') && !ok.stdout.includes('fixture-at'));
    },
  );
});

test('doctor: header values in one column, no blank line at the end; port 9 said to be a blocked port', async () => {
  await withHome(
    (h) => {
      writeServers(h, { p9: { type: 'http', url: 'http://127.0.0.1:9/mcp' } });
      const key = serverKey({ name: 'p9', transport: 'http', url: 'http://127.0.0.1:9/mcp' });
      writeStore(h, {
        mcpOAuth: { [key]: { accessToken: 'fixture-at', refreshToken: 'fixture-rt', expiresAt: 1, clientId: 'c' } },
      });
    },
    async (h) => {
      const d = run(h, ['doctor']);
      const header = d.stdout.split('\n').slice(0, 4);
      const cols = header.map((l) => /^[a-z -]+: +/.exec(l)![0].length);
      assert.equal(new Set(cols).size, 1, header.join('\n'));
      assert.ok(d.stdout.endsWith('\n') && !d.stdout.endsWith('\n\n'), JSON.stringify(d.stdout.slice(-40)));
      const r = run(h, ['refresh', 'p9']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /port 9 is on the Fetch standard's list of blocked ports/);
      assert.doesNotMatch(r.stderr, /\(bad port\)/);
    },
  );
});

test('Windows Credential Manager mode: said in status and doctor; refresh, login and logout refuse to write', async () => {
  const win = { MCP_AUTH_TEST_PLATFORM: 'win32', CLAUDE_CODE_FORCE_WINDOWS_CREDMAN: '1' };
  await withHome(
    (h) => {
      writeServers(h, { x: { type: 'http', url: stack.mcpUrl } });
      const key = serverKey({ name: 'x', transport: 'http', url: stack.mcpUrl });
      writeStore(h, { mcpOAuth: { [key]: { accessToken: 'fixture-at', refreshToken: 'fixture-rt', expiresAt: 1 } } });
    },
    async (h) => {
      const before = hashTree(h.home);
      const j = run(h, ['status', '--json'], win);
      assert.equal(j.code, 1);
      const out = JSON.parse(j.stdout) as { servers: Record<string, unknown>[]; errors: { code: string }[] };
      assert.equal(out.servers[0].state, 'error');
      assert.equal(out.servers[0].reason, 'store-credman');
      assert.deepEqual(
        out.errors.map((e) => e.code),
        ['store-credman'],
      );
      const s = run(h, ['status'], win);
      assert.match(s.stdout, /Windows Credential Manager here; mcp-auth can show state but cannot refresh or sign in/);
      const d = run(h, ['doctor'], win);
      assert.match(d.stdout, /^credential store: +Windows Credential Manager/m);
      assert.doesNotMatch(d.stdout, /no credential entry/);
      for (const args of [
        ['refresh', 'x', '--force'],
        ['login', 'x', '--no-open', '--timeout', '5'],
        ['logout', 'x'],
      ]) {
        const r = run(h, args, win);
        assert.equal(r.code, 1, `${args[0]}: ${r.stdout} ${r.stderr}`);
        assert.match(r.stderr, /^mcp-auth: store-credman: /m, args[0]);
      }
      assert.deepEqual(hashTree(h.home), before, 'the file is never written');
      // without the switch, the same HOME is the file store
      const f = run(h, ['status', '--json'], { MCP_AUTH_TEST_PLATFORM: 'win32' });
      assert.equal((JSON.parse(f.stdout) as { servers: { state: string }[] }).servers[0].state, 'expired');
    },
  );
});
