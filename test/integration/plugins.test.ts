import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeHome, runCliAsync, hashTree, type TempHome } from '../helpers/home';
import { runClaude } from '../helpers/claude';
import { startStack, cliLogin, readStore, callWhoami, type Stack } from '../helpers/oauth';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack.close();
});

const NAME = 'plugin:tools:remote';

/** A local marketplace `mk` with one plugin `tools` whose .mcp.json has an http server `remote`; installed with the real claude. */
async function installPlugin(h: TempHome, servers: Record<string, unknown>): Promise<string> {
  const mk = path.join(h.home, 'mk');
  fs.mkdirSync(path.join(mk, '.claude-plugin'), { recursive: true });
  fs.mkdirSync(path.join(mk, 'tools', '.claude-plugin'), { recursive: true });
  fs.writeFileSync(
    path.join(mk, '.claude-plugin', 'marketplace.json'),
    JSON.stringify({ name: 'mk', owner: { name: 'test' }, plugins: [{ name: 'tools', source: './tools' }] }),
  );
  fs.writeFileSync(
    path.join(mk, 'tools', '.claude-plugin', 'plugin.json'),
    JSON.stringify({ name: 'tools', version: '1.0.0' }),
  );
  fs.writeFileSync(path.join(mk, 'tools', '.mcp.json'), JSON.stringify({ mcpServers: servers }));
  for (const args of [
    ['plugin', 'marketplace', 'add', mk],
    ['plugin', 'install', 'tools@mk'],
  ]) {
    const r = await runClaude(args, { env: h.env, cwd: h.project });
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  }
  return mk;
}

type Row = { name: string; scope: string; state: string; reason: string; needsAuthCachedAt: string | null };
async function rows(h: TempHome): Promise<Row[]> {
  const st = await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project });
  assert.ok(st.stdout, st.stderr);
  return JSON.parse(st.stdout).servers as Row[];
}
const cacheOf = (h: TempHome): Record<string, { timestamp: number }> => {
  const f = path.join(h.claudeDir, 'mcp-needs-auth-cache.json');
  return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : {};
};

test(
  'plugin server installed by the real claude: same name, scope plugin, the key Claude Code wrote; login, refresh --force, logout, invalidate',
  { timeout: 240_000 },
  async () => {
    const h = makeHome();
    try {
      await installPlugin(h, { remote: { type: 'http', url: stack.mcpUrl } });
      const list = await runClaude(['mcp', 'list'], { env: h.env, cwd: h.project });
      assert.match(list.stdout, /plugin:tools:remote: .* Needs authentication/, list.stdout + list.stderr);
      const written = Object.keys(readStore(h).mcpOAuth);
      assert.equal(written.length, 1, written.join(', '));
      assert.match(written[0], /^plugin:tools:remote\|[0-9a-f]{16}$/);
      assert.ok(cacheOf(h)[NAME], 'Claude Code wrote a needs-auth entry under the full name');

      const before = (await rows(h)).find((r) => r.name === NAME);
      assert.ok(before, 'listed');
      assert.equal(before.scope, 'plugin');
      assert.equal(before.state, 'needs-auth');
      assert.equal(before.reason, 'stub', 'our key finds the stub Claude Code wrote');
      assert.equal(before.needsAuthCachedAt, new Date(cacheOf(h)[NAME].timestamp).toISOString());

      const login = await cliLogin(h, NAME, ['--timeout', '30']);
      assert.equal(login.code, 0, login.stderr);
      const store = readStore(h).mcpOAuth;
      assert.deepEqual(Object.keys(store), written, 'tokens stored under the key Claude Code wrote, no second entry');
      const entry = store[written[0]];
      assert.ok(entry.accessToken && entry.refreshToken);
      assert.equal(entry.serverName, NAME);
      assert.equal(entry.discoveryState.tokenlessRejectedAt, undefined);
      assert.equal(cacheOf(h)[NAME], undefined, 'its needs-auth entry is cleared');
      assert.equal((await callWhoami(stack.mcpUrl, entry.accessToken)).sub, 'test-user');
      assert.equal((await rows(h)).find((r) => r.name === NAME)?.state, 'signed-in');

      // Claude Code sees the tokens: `claude mcp list` connects
      const list2 = await runClaude(['mcp', 'list'], { env: h.env, cwd: h.project });
      assert.match(list2.stdout, /plugin:tools:remote: .* Connected/, list2.stdout + list2.stderr);

      const ref = await runCliAsync(['refresh', '--force', NAME, '--json'], { env: h.env, cwd: h.project });
      assert.equal(ref.code, 0, ref.stdout + ref.stderr);
      const after = readStore(h).mcpOAuth[written[0]];
      assert.notEqual(after.accessToken, entry.accessToken, 'refreshed');
      assert.deepEqual(Object.keys(readStore(h).mcpOAuth), written);

      fs.writeFileSync(
        path.join(h.claudeDir, 'mcp-needs-auth-cache.json'),
        JSON.stringify({ [NAME]: { timestamp: Date.now() }, other: { timestamp: 1 } }),
      );
      const inv = await runCliAsync(['invalidate', NAME], { env: h.env, cwd: h.project });
      assert.equal(inv.code, 0, inv.stderr);
      assert.deepEqual(Object.keys(cacheOf(h)), ['other']);

      const out = await runCliAsync(['logout', NAME], { env: h.env, cwd: h.project });
      assert.equal(out.code, 0, out.stderr);
      assert.equal(readStore(h).mcpOAuth[written[0]], undefined, 'removed');
    } finally {
      h.cleanup();
    }
  },
);

test(
  'plugin servers: ${CLAUDE_PLUGIN_ROOT}/${CLAUDE_PLUGIN_DATA}/${CLAUDE_PROJECT_DIR} in headers expanded as Claude Code does (same key); a disabled plugin is not listed',
  { timeout: 240_000 },
  async () => {
    const h = makeHome();
    try {
      const headers = {
        'X-Root': '${CLAUDE_PLUGIN_ROOT}',
        'X-Data': '${CLAUDE_PLUGIN_DATA}',
        'X-Proj': '${CLAUDE_PROJECT_DIR}',
        'X-Def': '${NOPE:-dflt}',
      };
      await installPlugin(h, { hdr: { type: 'http', url: stack.mcpUrl, headers } });
      const list = await runClaude(['mcp', 'list'], { env: h.env, cwd: h.project });
      assert.match(list.stdout, /plugin:tools:hdr: .* Needs authentication/, list.stdout + list.stderr);
      const ours = (await rows(h)).filter((r) => r.scope === 'plugin');
      assert.deepEqual(
        ours.map((r) => [r.name, r.state, r.reason]),
        [['plugin:tools:hdr', 'needs-auth', 'stub']],
        'our key (headers expanded) finds the stub Claude Code wrote',
      );

      const dis = await runClaude(['plugin', 'disable', 'tools@mk'], { env: h.env, cwd: h.project });
      assert.equal(dis.code, 0, dis.stdout + dis.stderr);
      const listOff = await runClaude(['mcp', 'list'], { env: h.env, cwd: h.project });
      assert.doesNotMatch(listOff.stdout, /plugin:tools/);
      assert.deepEqual(
        (await rows(h)).filter((r) => r.scope === 'plugin'),
        [],
      );
      const login = await runCliAsync(['login', 'plugin:tools:hdr', '--no-open', '--timeout', '2'], {
        env: h.env,
        cwd: h.project,
      });
      assert.equal(login.code, 1);
      assert.match(login.stderr, /unknown-server/);
    } finally {
      h.cleanup();
    }
  },
);

test(
  'plugin manifest that is not JSON: config-parse on status (exit 1), its servers not listed, nothing written',
  { timeout: 240_000 },
  async () => {
    const h = makeHome();
    try {
      await installPlugin(h, { remote: { type: 'http', url: stack.mcpUrl } });
      fs.writeFileSync(path.join(h.home, 'mk', 'tools', '.claude-plugin', 'plugin.json'), '{"name": "tools",');
      const hashes = hashTree(h.home);
      const st = await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project });
      assert.equal(st.code, 1);
      assert.match(st.stderr, /config-parse: .*plugin\.json/);
      assert.deepEqual(
        JSON.parse(st.stdout).servers.filter((r: Row) => r.scope === 'plugin'),
        [],
      );
      const login = await runCliAsync(['login', NAME, '--no-open', '--timeout', '2'], { env: h.env, cwd: h.project });
      assert.notEqual(login.code, 0);
      assert.deepEqual(hashTree(h.home), hashes);
    } finally {
      h.cleanup();
    }
  },
);
