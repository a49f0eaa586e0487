import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hashTree, withHome, runCliAsync, type TempHome } from '../helpers/home';
import { claudeSession, runClaude, start401Server, startFakeMessagesApi, startPlainMcp } from '../helpers/claude';
import { discoverServers } from '../../src/core/config/discover';
import { resolvePaths } from '../../src/core/paths';
import { serverKey } from '../../src/core/store/key';

/*
 * A .mcp.json that is not approved must not change which server a name means. The setup of every test here: a
 * user-scope server `demo` → URL A in ~/.claude.json, and a project folder whose .mcp.json defines `demo` → URL B
 * (plus `onlyproj` → B, a name no other scope has), left pending or rejected.
 */

type Variant = 'pending-trusted' | 'pending-untrusted' | 'rejected';

function setUp(h: TempHome, variant: Variant, urlA: string, urlB: string, onlyUrl: string): void {
  const projects = variant === 'pending-untrusted' ? {} : { [h.project]: { hasTrustDialogAccepted: true } };
  fs.writeFileSync(
    path.join(h.home, '.claude.json'),
    JSON.stringify(
      { hasCompletedOnboarding: true, mcpServers: { demo: { type: 'http', url: urlA } }, projects },
      null,
      2,
    ),
  );
  fs.writeFileSync(
    path.join(h.project, '.mcp.json'),
    JSON.stringify(
      { mcpServers: { demo: { type: 'http', url: urlB }, onlyproj: { type: 'http', url: onlyUrl } } },
      null,
      2,
    ),
  );
  if (variant === 'rejected') {
    fs.mkdirSync(path.join(h.project, '.claude'), { recursive: true });
    fs.writeFileSync(
      path.join(h.project, '.claude', 'settings.local.json'),
      JSON.stringify({ disabledMcpjsonServers: ['demo', 'onlyproj'] }),
    );
  }
}

test(
  'real Claude Code: a pending or rejected .mcp.json server never stands in for the user server of the same name; we agree',
  { timeout: 300_000 },
  async () => {
    const api = await startFakeMessagesApi();
    try {
      for (const variant of ['pending-trusted', 'pending-untrusted', 'rejected'] as Variant[]) {
        await withHome(async (h) => {
          const A = await startPlainMcp('A');
          const B = await startPlainMcp('B');
          try {
            const only = `${B.url}?only`;
            setUp(h, variant, A.url, B.url, only);
            const env = h.env;
            const run = (...args: string[]) => runClaude(args, { env, cwd: h.project });
            const ctx = (r: { stdout: string; stderr: string }) => `${variant}\n${r.stdout}\n${r.stderr}`;

            // `claude mcp list`: `demo` is the user server (URL A); B is never contacted
            const list = await run('mcp', 'list');
            assert.equal(list.code, 0, ctx(list));
            assert.ok(list.stdout.includes(`demo: ${A.url} (HTTP) - ✔ Connected`), ctx(list));
            if (variant === 'rejected') assert.doesNotMatch(list.stdout, /onlyproj:/, ctx(list));
            else assert.ok(list.stdout.includes(`onlyproj: ${only} (HTTP) - ⏸ Pending approval`), ctx(list));
            assert.match(list.stdout, /Server "demo" is defined in multiple scopes with different endpoints/);

            const get = await run('mcp', 'get', 'demo');
            assert.equal(get.code, 0, ctx(get));
            assert.match(get.stdout, /Scope: User config/, ctx(get));
            assert.ok(get.stdout.includes(`URL: ${A.url}`), ctx(get));
            const getOnly = await run('mcp', 'get', 'onlyproj');
            assert.match(
              getOnly.stdout,
              variant === 'rejected' ? /Status: ✘ Rejected/ : /Status: ⏸ Pending approval/,
              ctx(getOnly),
            );

            // `claude mcp login|logout` refuse the project-only server before any request
            for (const cmd of ['login', 'logout']) {
              const r = await run('mcp', cmd, 'onlyproj', ...(cmd === 'login' ? ['--no-browser'] : []));
              assert.equal(r.code, 1, ctx(r));
              assert.match(
                r.stderr,
                variant === 'rejected'
                  ? /"onlyproj" is from \.mcp\.json and was rejected/
                  : /"onlyproj" is from \.mcp\.json and awaiting approval/,
                ctx(r),
              );
            }
            assert.deepEqual(B.requests, [], `${variant}: claude mcp list/get/login/logout never contacted URL B`);

            // a real session in print mode
            const s = await claudeSession(api, env, h.project);
            assert.equal(s.code, 0, ctx(s));
            const offered = s.offered;
            if (variant === 'rejected') {
              // rejected: the session uses A and never contacts B
              assert.match(s.stdout, /ENDPOINT-A/, ctx(s));
              assert.ok(!offered.includes('mcp__onlyproj__whoami'));
              assert.deepEqual(B.requests, []);
            } else {
              // Print mode (-p) approves pending .mcp.json servers by itself (its code: `status:"approved",
              // by:"non_interactive"`), trusted folder or not: the session connects B under `demo`. `claude mcp`
              // and interactive sessions do not; we follow those (see the report of issue item 9).
              assert.match(s.stdout, /ENDPOINT-B/, ctx(s));
              assert.ok(offered.includes('mcp__onlyproj__whoami'));
            }

            // ours: `demo` is the user server; `onlyproj` is pending (listed, never acted on) or not loaded at all
            const cfg = await discoverServers({
              paths: resolvePaths({ env, home: h.home, managedDirs: [] }),
              cwd: h.project,
              env,
            });
            const demo = cfg.servers.find((x) => x.name === 'demo');
            assert.equal(demo?.url, A.url, `${variant}: our demo`);
            assert.equal(demo?.scope, 'user');
            const ourOnly = cfg.servers.find((x) => x.name === 'onlyproj');
            if (variant === 'rejected') assert.equal(ourOnly, undefined);
            else assert.equal(ourOnly?.approval, 'pending');
          } finally {
            await A.close();
            await B.close();
          }
        });
      }
    } finally {
      await api.close();
    }
  },
);

// ---- our CLI -------------------------------------------------------------------------------------------

const NOW = 1795550000000;

/** demo → A (user), demo → B and onlyproj → B (.mcp.json, pending), rej → B (.mcp.json, rejected); tokens for every key. */
async function cliHome(h: TempHome) {
  const A = await start401Server();
  const B = await start401Server();
  const urlA = `${A.base}/mcp`;
  const urlB = `${B.base}/mcp`;
  const onlyUrl = `${B.base}/only`;
  const rejUrl = `${B.base}/rej`;
  fs.writeFileSync(
    path.join(h.home, '.claude.json'),
    JSON.stringify(
      {
        mcpServers: { demo: { type: 'http', url: urlA } },
        projects: { [h.project]: { hasTrustDialogAccepted: true } },
      },
      null,
      2,
    ),
  );
  fs.writeFileSync(
    path.join(h.project, '.mcp.json'),
    JSON.stringify(
      {
        mcpServers: {
          demo: { type: 'http', url: urlB },
          onlyproj: { type: 'http', url: onlyUrl },
          rej: { type: 'http', url: rejUrl },
        },
      },
      null,
      2,
    ),
  );
  fs.mkdirSync(path.join(h.project, '.claude'));
  fs.writeFileSync(
    path.join(h.project, '.claude', 'settings.local.json'),
    JSON.stringify({ disabledMcpjsonServers: ['rej'] }),
  );
  const key = (name: string, url: string) => serverKey({ name, transport: 'http', url });
  const entry = (name: string, url: string, base: string, expiresAt: number) => ({
    serverName: name,
    serverUrl: url,
    accessToken: `at-${name}-${base.length}`,
    refreshToken: `rt-${name}-${base.length}`,
    expiresAt,
    scope: 'mcp',
    clientId: `client-${name}`,
    issuer: base,
    discoveryState: { authorizationServerUrl: base, oauthMetadataFound: true, authServerMetadataUrl: null },
  });
  const keys = {
    demoA: key('demo', urlA),
    demoB: key('demo', urlB),
    only: key('onlyproj', onlyUrl),
    rej: key('rej', rejUrl),
  };
  const store = {
    mcpOAuth: {
      [keys.demoA]: entry('demo', urlA, A.base, NOW + 3600_000),
      // the project servers' tokens are due (expired, refreshable): any refresh of them would go to B
      [keys.demoB]: entry('demo', urlB, B.base, NOW - 60_000),
      [keys.only]: entry('onlyproj', onlyUrl, B.base, NOW - 60_000),
      [keys.rej]: entry('rej', rejUrl, B.base, NOW - 60_000),
    },
  };
  fs.writeFileSync(path.join(h.claudeDir, '.credentials.json'), JSON.stringify(store, null, 2), { mode: 0o600 });
  fs.writeFileSync(
    path.join(h.claudeDir, 'mcp-needs-auth-cache.json'),
    JSON.stringify({ onlyproj: { timestamp: NOW - 1000 }, rej: { timestamp: NOW - 1000 } }),
  );
  const env = { ...h.env, MCP_AUTH_NOW: String(NOW), MCP_AUTH_HTTP_TIMEOUT: '3', MCP_AUTH_LOCK_TIMEOUT: '3' };
  const cli = (...args: string[]) => runCliAsync(args, { env, cwd: h.project });
  const close = async () => {
    await A.close();
    await B.close();
  };
  return { h, A, B, urlA, urlB, onlyUrl, keys, cli, close };
}

/** Runs `fn` on a fresh cliHome; closes its servers and removes its HOME afterwards. */
async function withCliHome(fn: (t: Awaited<ReturnType<typeof cliHome>>) => Promise<void>): Promise<void> {
  await withHome(async (h) => {
    const t = await cliHome(h);
    try {
      await fn(t);
    } finally {
      await t.close();
    }
  });
}

test('status --json: a pending .mcp.json `demo` does not shadow the user `demo` (URL A, its key); a pending-only server shows as not-approved; a rejected one is not listed', async () => {
  await withCliHome(async (t) => {
    const before = hashTree(t.h.home);
    const r = await t.cli('status', '--json');
    const rows = JSON.parse(r.stdout).servers as {
      name: string;
      scope: string;
      url: string;
      state: string;
      reason: string;
      expiresAt: string | null;
    }[];
    const by = Object.fromEntries(rows.map((x) => [x.name, x]));
    assert.deepEqual(Object.keys(by).sort(), ['demo', 'onlyproj']);
    assert.equal(by.demo.scope, 'user');
    assert.equal(by.demo.url, t.urlA);
    assert.equal(by.demo.state, 'signed-in', "computed from the key of URL A (its token is valid; B's is expired)");
    assert.equal(by.demo.expiresAt, new Date(NOW + 3600_000).toISOString());
    assert.equal(by.onlyproj.state, 'not-approved');
    assert.equal(by.onlyproj.reason, 'awaiting-approval');
    const human = await t.cli('status');
    assert.match(
      human.stdout,
      /onlyproj\s+project\s+not-approved\s+from \.mcp\.json, awaiting approval in Claude Code/,
    );
    const doctor = await t.cli('doctor', 'demo');
    assert.ok(doctor.stdout.includes(`credential entry "${t.keys.demoA}"`), doctor.stdout);
    assert.deepEqual(hashTree(t.h.home), before);
    assert.deepEqual(t.B.requests, []);
    assert.deepEqual(t.A.requests, []);
  });
});

test('refresh/login/logout/invalidate refuse a pending or rejected .mcp.json server (not-approved, exit 1): nothing written, no request to URL B', async () => {
  await withCliHome(async (t) => {
    const before = hashTree(t.h.home);
    for (const name of ['onlyproj', 'rej']) {
      for (const args of [
        ['refresh', name],
        ['refresh', '--force', name],
        ['login', '--no-open', '--timeout', '2', name],
        ['logout', name],
        ['invalidate', name],
      ]) {
        const r = await t.cli(...args);
        assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
        assert.match(
          r.stderr,
          new RegExp(
            `^mcp-auth: not-approved: "${name}" is from .*\\.mcp\\.json and ${name === 'rej' ? 'was rejected' : 'awaiting approval'}`,
            'm',
          ),
          args.join(' '),
        );
        assert.doesNotMatch(r.stderr, /Sign in to/, 'no authorization URL');
      }
    }
    assert.deepEqual(hashTree(t.h.home), before, 'no file written');
    // refresh of everything leaves the project servers alone too
    const all = await t.cli('refresh', '--all', '--json', '--force');
    const names = (JSON.parse(all.stdout).results as { name: string }[]).map((x) => x.name);
    assert.deepEqual(names, ['demo'], all.stdout + all.stderr);
    assert.deepEqual(t.B.requests, [], 'URL B was never contacted');
  });
});

test('refresh/login/logout of `demo` act on the user server (URL A, its key), never on the pending .mcp.json one (URL B)', async () => {
  await withCliHome(async (t) => {
    const r = await t.cli('refresh', 'demo', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      JSON.parse(r.stdout).results[0].result,
      'fresh',
      "A's token is valid (B's expired one would have been refreshed)",
    );
    // sign-in starts at A (discovery, registration), then times out waiting for the browser
    const login = await t.cli('login', '--no-open', '--timeout', '2', 'demo');
    assert.equal(login.code, 1, login.stderr);
    assert.match(login.stderr, /login-timeout/);
    assert.ok(login.stderr.includes(`Sign in to demo in your browser:\n${t.A.base}/authorize?`), login.stderr);
    assert.ok(t.A.requests.length > 0);
    const out = await t.cli('logout', '--no-revoke', 'demo');
    assert.equal(out.code, 0, out.stderr);
    const store = JSON.parse(fs.readFileSync(path.join(t.h.claudeDir, '.credentials.json'), 'utf8')).mcpOAuth;
    assert.equal(store[t.keys.demoA], undefined, "A's entry removed");
    assert.equal(store[t.keys.demoB].refreshToken, `rt-demo-${t.B.base.length}`, "B's entry untouched");
    assert.equal(store[t.keys.only].refreshToken, `rt-onlyproj-${t.B.base.length}`);
    assert.deepEqual(t.B.requests, [], 'URL B was never contacted');
  });
});
