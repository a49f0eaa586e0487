import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withHome, runCliAsync } from '../helpers/home';
import { runClaude, start401Server } from '../helpers/claude';
import { discoverServers } from '../../src/core/config/discover';
import { resolvePaths } from '../../src/core/paths';
import { serverKey } from '../../src/core/store/key';

test(
  'real Claude Code: the keys it writes equal the keys we compute; its stubs and cache entries read as needs-auth',
  { timeout: 240_000 },
  async () => {
    await withHome(async (h) => {
      const srv = await start401Server();
      try {
        const env = { ...h.env, TEAM: 'blue' };
        const B = srv.base;
        const add = async (...args: string[]) => {
          const r = await runClaude(['mcp', 'add', ...args], { env, cwd: h.project });
          assert.equal(r.code, 0, r.stderr);
        };
        await add('--transport', 'http', '-s', 'user', 'u-http', `${B}/u1`);
        await add('--transport', 'sse', '-s', 'user', 'u-sse', `${B}/u-sse`);
        await add(
          '--transport',
          'http',
          '-s',
          'local',
          'l-headers',
          `${B}/l1`,
          '-H',
          'X-Team: ${TEAM}',
          '-H',
          'X-Org: ${ORG:-acme}',
        );
        await add(
          '--transport',
          'http',
          '-s',
          'user',
          '--client-id',
          'static-cid',
          '--callback-port',
          '8080',
          'u-static',
          `${B}/static`,
        );
        await add('--transport', 'sse', '-s', 'project', 'p-sse', `${B}/p-sse`);
        await add('--transport', 'http', '-s', 'project', 'p-http', `${B}/p-http`, '-H', 'X-Env: ${TEAM}');
        await add('-s', 'user', 'u-stdio', '--', process.execPath, '-e', '1');
        const addJson = await runClaude(
          [
            'mcp',
            'add-json',
            '-s',
            'user',
            'u-streamable',
            JSON.stringify({ type: 'streamable-http', url: `${B}/u2` }),
          ],
          { env, cwd: h.project },
        );
        assert.equal(addJson.code, 0, addJson.stderr);
        const pending = await runClaude(['mcp', 'list'], { env, cwd: h.project });
        assert.match(pending.stdout, /p-sse: .*Pending approval/);
        const before = await discoverServers({
          paths: resolvePaths({ env, home: h.home, managedDirs: [] }),
          cwd: h.project,
          env,
        });
        assert.equal(before.servers.find((x) => x.name === 'p-sse')?.approval, 'pending', 'we agree it is pending');
        // approve the project servers as a user would (trust the folder, enable all .mcp.json servers)
        const cj = path.join(h.home, '.claude.json');
        const conf = JSON.parse(fs.readFileSync(cj, 'utf8'));
        conf.projects[h.project].hasTrustDialogAccepted = true;
        fs.writeFileSync(cj, JSON.stringify(conf, null, 2));
        fs.mkdirSync(path.join(h.project, '.claude'), { recursive: true });
        fs.writeFileSync(
          path.join(h.project, '.claude', 'settings.local.json'),
          JSON.stringify({ enableAllProjectMcpServers: true }),
        );

        const list = await runClaude(['mcp', 'list'], { env, cwd: h.project });
        assert.equal(list.code, 0, list.stderr);
        assert.match(list.stdout, /u-http: .* Needs authentication/);

        const store = JSON.parse(fs.readFileSync(path.join(h.claudeDir, '.credentials.json'), 'utf8'));
        const written = Object.keys(store.mcpOAuth).sort();
        const cfg = await discoverServers({
          paths: resolvePaths({ env, home: h.home, managedDirs: [] }),
          cwd: h.project,
          env,
        });
        const ours = cfg.servers
          .filter((s) => s.transport !== 'stdio')
          .map((s) => serverKey(s))
          .sort();
        assert.equal(written.length, 7, `Claude Code wrote ${written.join(', ')}\n${list.stdout}`);
        assert.deepEqual(written, ours);
        // Claude Code connected to the project servers, so they were approved: we must agree
        for (const n of ['p-sse', 'p-http'])
          assert.equal(cfg.servers.find((x) => x.name === n)?.approval, 'approved', n);
        const cache = JSON.parse(fs.readFileSync(path.join(h.claudeDir, 'mcp-needs-auth-cache.json'), 'utf8'));
        assert.ok(Object.keys(cache).length >= 1);

        const st = await runCliAsync(['status', '--json'], { env, cwd: h.project });
        assert.equal(st.code, 1);
        const rows = JSON.parse(st.stdout).servers as {
          name: string;
          state: string;
          reason: string;
          needsAuthCachedAt: string | null;
        }[];
        for (const r of rows) {
          if (r.name === 'u-stdio') assert.equal(r.state, 'no-auth');
          else {
            assert.equal(r.state, 'needs-auth', `${r.name}: ${r.state}/${r.reason}`);
            assert.equal(r.reason, 'stub');
            if (cache[r.name]) assert.equal(r.needsAuthCachedAt, new Date(cache[r.name].timestamp).toISOString());
          }
        }
      } finally {
        await srv.close();
      }
    });
  },
);
