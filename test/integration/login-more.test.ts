import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { withHome, runCliAsync, hashTree, type TempHome } from '../helpers/home';
import { configured, cliLogin, browse, entryOf, callWhoami, readStore, writeStore } from '../helpers/oauth';
import { useStack } from '../helpers/stack';
import { runClaude } from '../helpers/claude';
import { serverKey } from '../../src/core/store/key';

const stack = useStack();

test('after our login, the real Claude Code connects with the token we stored', { timeout: 120_000 }, async () => {
  await withHome(configured({ demo: { type: 'http', url: stack.mcpUrl } }), async (h) => {
    assert.equal((await cliLogin(h, 'demo', ['--timeout', '30'])).code, 0);
    const rejected = stack.counters.mcpRejected;
    const list = await runClaude(['mcp', 'list'], { env: h.env, cwd: h.project });
    assert.match(list.stdout, /demo: .* Connected/, list.stdout + list.stderr);
    assert.equal(
      stack.counters.mcpRejected,
      rejected,
      'Claude Code sent a token the MCP server accepted, on the first try',
    );
    assert.equal(stack.counters.registrations >= 1, true);
  });
});

test(
  'two logins for one server at once → one authorization URL, one code exchange, both exit 0',
  { timeout: 60_000 },
  async () => {
    await withHome(configured({ demo: { type: 'http', url: stack.mcpUrl } }), async (h) => {
      const codes0 = stack.counters.tokenRequests.authorization_code ?? 0;
      const urls: string[] = [];
      const onUrl = async (u: string) => {
        urls.push(u);
        await new Promise((r) => setTimeout(r, 500));
        await browse(u);
      };
      const [a, b] = await Promise.all([
        cliLogin(h, 'demo', ['--timeout', '30'], { onUrl }),
        cliLogin(h, 'demo', ['--timeout', '30'], { onUrl }),
      ]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      assert.equal(urls.length, 1, 'only one process asked for the browser');
      assert.equal((stack.counters.tokenRequests.authorization_code ?? 0) - codes0, 1);
      assert.match(a.stdout + b.stdout, /signed in by another process/);
    });
  },
);

test(
  'logout: RFC 7009 revocation, the refresh token stops working, other entries intact',
  { timeout: 60_000 },
  async () => {
    await withHome(configured({ demo: { type: 'http', url: stack.mcpUrl } }), async (h) => {
      assert.equal((await cliLogin(h, 'demo', ['--timeout', '30'])).code, 0);
      const s = readStore(h);
      s.mcpOAuth['keep|0000000000000000'] = { serverName: 'keep', accessToken: 'k-at', refreshToken: 'k-rt' };
      s.claudeAiOauth = { accessToken: 'sk-ant-keep' };
      writeStore(h, s);
      const { entry } = entryOf(h, 'demo');
      const revs = stack.counters.revocations;
      const r = await runCliAsync(['logout', 'demo'], { env: h.env, cwd: h.project });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /demo: signed out \(revoked refresh token/);
      assert.ok(stack.counters.revocations >= revs + 1);
      const after = readStore(h);
      assert.deepEqual(Object.keys(after.mcpOAuth), ['keep|0000000000000000']);
      assert.deepEqual(after.claudeAiOauth, { accessToken: 'sk-ant-keep' });
      const res = await fetch(`${stack.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: entry.refreshToken,
          client_id: entry.clientId,
        }),
      });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant');
      await assert.rejects(callWhoami(stack.mcpUrl, entry.accessToken));
    });
  },
);

test(
  'invalidate on the seed scenario (valid token + fresh needs-auth entry) → blocked becomes signed-in; nothing else changes',
  { timeout: 60_000 },
  async () => {
    await withHome(
      configured({ demo: { type: 'http', url: stack.mcpUrl }, twin: { type: 'http', url: stack.mcpUrl } }),
      async (h) => {
        assert.equal((await cliLogin(h, 'demo', ['--timeout', '30'])).code, 0);
        const cacheFile = path.join(h.claudeDir, 'mcp-needs-auth-cache.json');
        const other = { timestamp: Date.now() - 5000, ttlMs: 90000, id: 'x', lapsedCcrSignInKey: 'k' };
        fs.writeFileSync(cacheFile, JSON.stringify({ demo: { timestamp: Date.now() - 1000 }, unrelated: other }));
        let st = JSON.parse((await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project })).stdout);
        assert.equal(st.servers.find((s: { name: string }) => s.name === 'demo').state, 'blocked');
        const store = fs.readFileSync(path.join(h.claudeDir, '.credentials.json'), 'utf8');
        const r = await runCliAsync(['invalidate', 'demo'], { env: h.env, cwd: h.project });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /removed needs-auth entries: demo/);
        assert.deepEqual(JSON.parse(fs.readFileSync(cacheFile, 'utf8')), { unrelated: other });
        assert.equal(fs.readFileSync(path.join(h.claudeDir, '.credentials.json'), 'utf8'), store);
        st = JSON.parse((await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project })).stdout);
        assert.equal(st.servers.find((s: { name: string }) => s.name === 'demo').state, 'signed-in');
        const all = await runCliAsync(['invalidate', '--all'], { env: h.env, cwd: h.project });
        assert.match(all.stdout, /removed needs-auth entries: unrelated/);
        const bad = await runCliAsync(['invalidate'], { env: h.env, cwd: h.project });
        assert.equal(bad.code, 2);
      },
    );
  },
);

// ---- hostile input -----------------------------------------------------------------------------------

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, base: string) => void;
async function hostile(routes: Record<string, Handler>): Promise<{ base: string; close(): Promise<void> }> {
  const srv = http.createServer((req, res) => {
    const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    const p = new URL(req.url ?? '/', base).pathname;
    const h = routes[p];
    req.resume();
    if (h) return h(req, res, base);
    if (p === '/mcp') {
      res.writeHead(401, {
        'WWW-Authenticate': `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`,
      });
      return res.end();
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}
const json = (res: http.ServerResponse, o: unknown) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(o));
};
const asMeta = (issuer: string, extra: Record<string, unknown> = {}) => ({
  issuer,
  authorization_endpoint: `${issuer}/authorize`,
  token_endpoint: `${issuer}/token`,
  registration_endpoint: `${issuer}/register`,
  response_types_supported: ['code'],
  code_challenge_methods_supported: ['S256'],
  ...extra,
});

async function expectRefused(h: TempHome, code: string, extra: Parameters<typeof cliLogin>[3] = {}, timeoutS = 20) {
  const before = hashTree(h.home);
  const r = await cliLogin(h, 'evil', ['--timeout', String(timeoutS)], { browse: false, ...extra });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`^mcp-auth: ${code}: `, 'm'), r.stderr);
  assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
  assert.deepEqual(hashTree(h.home), before, 'no file written');
  return r;
}

test('hostile: PRM names an AS on another origin whose metadata issuer mismatches → issuer-mismatch', async () => {
  const evilAs = await hostile({
    '/.well-known/oauth-authorization-server': (_q, res, base) => json(res, asMeta(`${base}/somebody-else`)),
  });
  const mcp = await hostile({
    '/.well-known/oauth-protected-resource/mcp': (_q, res, base) =>
      json(res, { resource: `${base}/mcp`, authorization_servers: [evilAs.base] }),
  });
  try {
    await withHome(configured({ evil: { type: 'http', url: `${mcp.base}/mcp` } }), (h) =>
      expectRefused(h, 'issuer-mismatch'),
    );
  } finally {
    await mcp.close();
    await evilAs.close();
  }
});

test('hostile: token endpoint over plain http to a non-loopback host → insecure-endpoint', async () => {
  const srv = await hostile({
    '/.well-known/oauth-protected-resource/mcp': (_q, res, base) =>
      json(res, { resource: `${base}/mcp`, authorization_servers: [base] }),
    '/.well-known/oauth-authorization-server': (_q, res, base) =>
      json(res, asMeta(base, { token_endpoint: 'http://tokens.example.com/token' })),
  });
  try {
    await withHome(configured({ evil: { type: 'http', url: `${srv.base}/mcp` } }), (h) =>
      expectRefused(h, 'insecure-endpoint'),
    );
  } finally {
    await srv.close();
  }
});

test('hostile: a redirect loop in discovery → redirect-loop', async () => {
  const srv = await hostile({
    '/.well-known/oauth-protected-resource/mcp': (_q, res) => {
      res.writeHead(302, { location: '/.well-known/oauth-protected-resource/mcp' });
      res.end();
    },
  });
  try {
    await withHome(configured({ evil: { type: 'http', url: `${srv.base}/mcp` } }), (h) =>
      expectRefused(h, 'redirect-loop'),
    );
  } finally {
    await srv.close();
  }
});

test('hostile: a response body over 1 MiB → response-too-large', async () => {
  const srv = await hostile({
    '/.well-known/oauth-protected-resource/mcp': (_q, res, base) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ resource: `${base}/mcp`, authorization_servers: [base], pad: 'x'.repeat(2 * 1024 * 1024) }),
      );
    },
  });
  try {
    await withHome(configured({ evil: { type: 'http', url: `${srv.base}/mcp` } }), (h) =>
      expectRefused(h, 'response-too-large'),
    );
  } finally {
    await srv.close();
  }
});

/** Follow the real AS to the callback, tamper with the callback's query, deliver it. */
function tamper(change: (q: URLSearchParams) => void, statuses: number[] = []) {
  return async (u: string) => {
    const stop = await browse(u, { stopAt: (x) => x.pathname === '/callback' });
    const cb = new URL(stop.url);
    change(cb.searchParams);
    await fetch(cb)
      .then((r) => {
        statuses.push(r.status);
        return r.text();
      })
      .catch(() => '');
  };
}

test('hostile: a callback with a wrong state is answered 400 and ignored; with no real one the sign-in times out', async () => {
  const statuses: number[] = [];
  await withHome(configured({ evil: { type: 'http', url: stack.mcpUrl } }), async (h) => {
    await expectRefused(h, 'login-timeout', { onUrl: tamper((q) => q.set('state', 'forged-state'), statuses) }, 3);
    assert.deepEqual(statuses, [400]);
  });
});

test('hostile: an iss that is not the authorization server (RFC 9207) → issuer-mismatch', async () => {
  await withHome(configured({ evil: { type: 'http', url: stack.mcpUrl } }), (h) =>
    expectRefused(h, 'issuer-mismatch', { onUrl: tamper((q) => q.set('iss', 'https://attacker.example')) }),
  );
});

test('hostile: a token response without access_token → bad-response', async () => {
  stack.mode.tokenBody = JSON.stringify({ token_type: 'bearer', expires_in: 3600 });
  try {
    await withHome(configured({ evil: { type: 'http', url: stack.mcpUrl } }), (h) =>
      expectRefused(h, 'bad-response', { browse: true }),
    );
  } finally {
    stack.mode.tokenBody = null;
  }
});

test(
  'a static confidential client (oauth.clientId in the config, secret in mcpOAuthClientConfig): sign-in and refresh use it, no registration',
  { timeout: 60_000 },
  async () => {
    const url = stack.mcpUrl;
    await withHome(
      configured({ conf: { type: 'http', url, oauth: { clientId: 'mcp-auth-confidential' } } }),
      async (h) => {
        const key = serverKey({ name: 'conf', transport: 'http', rawType: 'http', url });
        writeStore(h, { mcpOAuthClientConfig: { [key]: { clientSecret: 'confidential-secret-for-tests' } } });
        const regs = stack.counters.registrations;
        const r = await cliLogin(h, 'conf', ['--timeout', '30']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(stack.counters.registrations, regs, 'no dynamic registration');
        const { entry } = entryOf(h, 'conf');
        assert.equal(entry.clientId, 'mcp-auth-confidential');
        assert.equal(entry.clientSecret, undefined, 'the static secret stays in mcpOAuthClientConfig');
        assert.equal(readStore(h).mcpOAuthClientConfig[key].clientSecret, 'confidential-secret-for-tests');
        const s = readStore(h);
        s.mcpOAuth[key].expiresAt = Date.now() - 1000;
        writeStore(h, s);
        const ref = await runCliAsync(['refresh', 'conf', '--json'], { env: h.env, cwd: h.project });
        assert.equal(ref.code, 0, ref.stderr);
        assert.equal(JSON.parse(ref.stdout).results[0].result, 'refreshed');
        assert.ok(
          !ref.stderr.includes('confidential-secret-for-tests') && !r.stderr.includes('confidential-secret-for-tests'),
        );
      },
    );
  },
);
