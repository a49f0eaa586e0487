import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { discoverServers } from '../../../../src/core/config/discover';
import type { ServerConfig } from '../../../../src/core/config/types';
import { resolvePaths } from '../../../../src/core/paths';
import { serverKey } from '../../../../src/core/store/key';
import { LONG_TTL_MS, DEFAULT_TTL_MS, ttlFor } from '../../../../src/core/cache/needsAuthCache';
import { makeHome, type TempHome } from '../../../helpers/home';

const w = (file: string, v: unknown) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof v === 'string' ? v : JSON.stringify(v));
};

/** installed_plugins.json, known_marketplaces.json and settings.json as `claude plugin install` 2.1.328 writes them. */
function install(
  h: TempHome,
  opts: {
    plugins: Record<string, unknown[]>;
    marketplaces?: Record<string, unknown>;
    enabled?: Record<string, boolean>;
    pluginsDir?: string;
  },
) {
  const dir = opts.pluginsDir ?? path.join(h.claudeDir, 'plugins');
  w(path.join(dir, 'installed_plugins.json'), { version: 2, plugins: opts.plugins });
  if (opts.marketplaces) w(path.join(dir, 'known_marketplaces.json'), opts.marketplaces);
  if (opts.enabled) w(path.join(h.claudeDir, 'settings.json'), { enabledPlugins: opts.enabled });
}
const discover = async (h: TempHome, env: NodeJS.ProcessEnv = {}) =>
  discoverServers({ paths: resolvePaths({ env, home: h.home, managedDirs: [] }), cwd: h.project, env });
const byName = (servers: ServerConfig[]) => Object.fromEntries(servers.map((s) => [s.name, s]));

test('plugins: a local directory marketplace loads from its own folder; .mcp.json then manifest mcpServers (path, inline, array), later wins; manifest name; plugin variables', async () => {
  const h = makeHome();
  try {
    const mk = path.join(h.home, 'mk');
    w(path.join(mk, '.claude-plugin', 'marketplace.json'), {
      name: 'mk',
      plugins: [
        { name: 'tools', source: './tools' },
        { name: 'named', source: './named' },
        { name: 'bare', source: 'bare' },
      ],
      metadata: { pluginRoot: './plugins' },
    });
    w(path.join(mk, 'tools', '.mcp.json'), {
      mcpServers: {
        remote: { type: 'http', url: 'http://127.0.0.1:9/remote' },
        dup: { type: 'http', url: 'http://127.0.0.1:9/from-mcp-json' },
        hdr: {
          type: 'http',
          url: 'http://127.0.0.1:9/hdr',
          headers: {
            'X-Root': '${CLAUDE_PLUGIN_ROOT}',
            'X-Data': '${CLAUDE_PLUGIN_DATA}',
            'X-Proj': '${CLAUDE_PROJECT_DIR}',
            'X-Home': '${HOME}',
            'X-Miss': '${NOPE}',
          },
        },
        local: { command: '${CLAUDE_PLUGIN_ROOT}/bin/srv', args: ['${CLAUDE_PLUGIN_DATA}'] },
      },
    });
    w(path.join(mk, 'tools', '.claude-plugin', 'plugin.json'), {
      name: 'tools',
      mcpServers: [
        './extra.json',
        {
          inline: { type: 'sse', url: 'http://127.0.0.1:9/inline' },
          dup: { type: 'http', url: 'http://127.0.0.1:9/from-manifest' },
        },
        'https://example.test/x.mcpb',
      ],
    });
    w(path.join(mk, 'tools', 'extra.json'), { extra: { type: 'http', url: 'http://127.0.0.1:9/extra' } }); // a bare map
    w(path.join(mk, 'named', '.claude-plugin', 'plugin.json'), { name: 'named2' });
    w(path.join(mk, 'named', '.mcp.json'), { r: { type: 'http', url: 'http://127.0.0.1:9/named' } });
    w(path.join(mk, 'plugins', 'bare', '.mcp.json'), { b: { type: 'http', url: 'http://127.0.0.1:9/bare' } }); // no manifest: the plugin's name
    const cache = (p: string) => path.join(h.claudeDir, 'plugins', 'cache', 'mk', p, '1.0.0');
    // the cached copies say something else: Claude Code does not read them for a directory marketplace
    w(path.join(cache('tools'), '.mcp.json'), {
      mcpServers: { stale: { type: 'http', url: 'http://127.0.0.1:9/stale' } },
    });
    install(h, {
      plugins: Object.fromEntries(
        ['tools', 'named', 'bare'].map((p) => [
          `${p}@mk`,
          [{ scope: 'user', installPath: cache(p), version: '1.0.0' }],
        ]),
      ),
      marketplaces: { mk: { source: { source: 'directory', path: mk }, installLocation: mk } },
      enabled: { 'tools@mk': true, 'named@mk': true, 'bare@mk': true },
    });
    const r = await discover(h, { HOME: h.home });
    assert.deepEqual(r.issues, []);
    const plugin = r.servers.filter((s) => s.scope === 'plugin');
    assert.deepEqual(plugin.map((s) => s.name).sort(), [
      'plugin:bare:b',
      'plugin:named2:r',
      'plugin:tools:dup',
      'plugin:tools:extra',
      'plugin:tools:hdr',
      'plugin:tools:inline',
      'plugin:tools:local',
      'plugin:tools:remote',
    ]);
    const by = byName(plugin);
    assert.equal(by['plugin:tools:dup'].url, 'http://127.0.0.1:9/from-manifest');
    assert.equal(by['plugin:tools:inline'].transport, 'sse');
    assert.equal(by['plugin:tools:remote'].plugin, 'tools@mk');
    assert.equal(by['plugin:tools:remote'].file, path.join(mk, 'tools', '.mcp.json'));
    assert.deepEqual(by['plugin:tools:hdr'].headers, {
      'X-Root': path.join(mk, 'tools'),
      'X-Data': path.join(h.claudeDir, 'plugins', 'data', 'tools-mk'),
      'X-Proj': h.project,
      'X-Home': h.home,
      'X-Miss': '${NOPE}',
    });
    assert.equal(by['plugin:tools:local'].command, path.join(mk, 'tools', 'bin', 'srv'));
    assert.deepEqual(by['plugin:tools:local'].args, [path.join(h.claudeDir, 'plugins', 'data', 'tools-mk')]);
    assert.ok(!fs.existsSync(path.join(h.claudeDir, 'plugins', 'data')), 'nothing created');
    // 4 h needs-auth TTL for a plugin http server without static headers, 15 min with headers
    assert.equal(ttlFor(by['plugin:tools:remote'], { timestamp: 0 }), LONG_TTL_MS);
    assert.equal(ttlFor(by['plugin:tools:hdr'], { timestamp: 0 }), DEFAULT_TTL_MS);
  } finally {
    h.cleanup();
  }
});

test('plugins: other marketplaces load from installPath; enabledPlugins merged user < project < local (false/absent = off); the project record; CLAUDE_CODE_PLUGIN_CACHE_DIR', async () => {
  const h = makeHome();
  try {
    const at = (n: string) => {
      const d = path.join(h.home, 'cache', n);
      w(path.join(d, '.mcp.json'), { mcpServers: { s: { type: 'http', url: `http://127.0.0.1:9/${n}` } } });
      return d;
    };
    install(h, {
      plugins: {
        'on@gh': [{ scope: 'user', installPath: at('on') }],
        'off@gh': [{ scope: 'user', installPath: at('off') }],
        'absent@gh': [{ scope: 'user', installPath: at('absent') }],
        'proj@gh': [
          { scope: 'user', installPath: at('proj-user') },
          { scope: 'project', projectPath: h.project, installPath: at('proj-here') },
        ],
        'local@gh': [{ scope: 'local', projectPath: h.project, installPath: at('local') }],
        'CaSe@gh': [{ scope: 'user', installPath: at('case') }],
      },
      marketplaces: { gh: { source: { source: 'github', repo: 'o/r' }, installLocation: path.join(h.home, 'mkt') } },
      enabled: { 'on@gh': true, 'off@gh': false, 'proj@gh': false, 'local@gh': true, 'case@gh': true },
    });
    w(path.join(h.project, '.claude', 'settings.json'), { enabledPlugins: { 'proj@gh': true, 'local@gh': true } });
    w(path.join(h.project, '.claude', 'settings.local.json'), { enabledPlugins: { 'local@gh': false } });
    const r = await discover(h);
    assert.deepEqual(r.issues, []);
    assert.deepEqual(
      r.servers.map((s) => [s.name, s.url]),
      [
        ['plugin:CaSe:s', 'http://127.0.0.1:9/case'],
        ['plugin:on:s', 'http://127.0.0.1:9/on'],
        ['plugin:proj:s', 'http://127.0.0.1:9/proj-here'],
      ],
    );

    const other = path.join(h.home, 'elsewhere');
    install(h, {
      plugins: { 'moved@gh': [{ scope: 'user', installPath: at('moved') }] },
      enabled: { 'moved@gh': true },
      pluginsDir: other,
    });
    const r2 = await discover(h, { CLAUDE_CODE_PLUGIN_CACHE_DIR: other });
    assert.deepEqual(
      r2.servers.map((s) => s.name),
      ['plugin:moved:s'],
    );
  } finally {
    h.cleanup();
  }
});

test('plugins: a manifest or .mcp.json that is not JSON is reported (config-parse) and loads nothing; a bad installed_plugins.json is reported; other servers still read', async () => {
  const h = makeHome();
  try {
    fs.writeFileSync(
      path.join(h.home, '.claude.json'),
      JSON.stringify({ mcpServers: { u: { type: 'http', url: 'http://u' } } }),
    );
    const a = path.join(h.home, 'a');
    const b = path.join(h.home, 'b');
    w(path.join(a, '.claude-plugin', 'plugin.json'), '{"name": "a",');
    w(path.join(a, '.mcp.json'), { s: { type: 'http', url: 'http://a' } });
    w(path.join(b, '.mcp.json'), '{"s": ');
    install(h, {
      plugins: { 'a@m': [{ scope: 'user', installPath: a }], 'b@m': [{ scope: 'user', installPath: b }] },
      enabled: { 'a@m': true, 'b@m': true },
    });
    const r = await discover(h);
    assert.deepEqual(
      r.servers.map((s) => s.name),
      ['u'],
    );
    assert.deepEqual(
      r.issues.map((i) => [i.code, path.relative(h.home, i.file)]),
      [
        ['config-parse', 'a/.claude-plugin/plugin.json'],
        ['config-parse', 'b/.mcp.json'],
      ],
    );

    w(path.join(h.claudeDir, 'plugins', 'installed_plugins.json'), { version: 2, plugins: [] });
    const r2 = await discover(h);
    assert.deepEqual(
      r2.servers.map((s) => s.name),
      ['u'],
    );
    assert.deepEqual(
      r2.issues.map((i) => i.code),
      ['config-invalid'],
    );
  } finally {
    h.cleanup();
  }
});

test('plugins: keys written by Claude Code 2.1.328 for plugin servers (seen with `claude mcp list`, headers after plugin-variable expansion)', () => {
  const s = (name: string, url: string, rawType: string, headers?: Record<string, string>) =>
    ({ name, url, rawType, transport: rawType, headers }) as Pick<
      ServerConfig,
      'name' | 'transport' | 'rawType' | 'url' | 'headers'
    >;
  assert.equal(
    serverKey(s('plugin:tools:remote', 'http://127.0.0.1:42115/remote', 'http')),
    'plugin:tools:remote|3d4250095d5effeb',
  );
  assert.equal(
    serverKey(s('plugin:tools:extra', 'http://127.0.0.1:42115/extra', 'sse')),
    'plugin:tools:extra|78f5e3153598fc89',
  );
  assert.equal(
    serverKey(s('plugin:named2:r', 'http://127.0.0.1:42115/named', 'http')),
    'plugin:named2:r|c18206e6b9a5cd10',
  );
  assert.equal(
    serverKey(
      s('plugin:tools:hdr', 'http://127.0.0.1:42115/hdr', 'http', {
        'X-Root': '/tmp/pl-exp/mk2/tools',
        'X-Data': '/tmp/pl-exp/home2/.claude/plugins/data/tools-mk2',
        'X-Proj': '/tmp/pl-exp/proj',
        'X-Home': '/tmp/pl-exp/home2',
        'X-Def': 'dflt',
        'X-Miss': '${NOPE2}',
      }),
    ),
    'plugin:tools:hdr|6505a6e86c3aec09',
  );
});
