import { test, before, after, afterEach } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { withHome, runCliAsync, hashTree, FIXTURES, type TempHome } from '../helpers/home';
import { serverKey } from '../../src/core/store/key';

/**
 * The bad-input corpus (test/fixtures/bad, plus the cases that must be made at run time): every case gives a
 * clear `mcp-auth: <code>:` line, a non-zero exit, changes no file (sha256 of the whole HOME), and ends
 * within a bound (no hang).
 */
const DIR = path.join(FIXTURES, 'bad');
const expected = JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8')) as Record<string, string>;
const URL0 = 'http://127.0.0.1:9/mcp';
const KEY = serverKey({ name: 'demo', transport: 'http', rawType: 'http', url: URL0 });
const goodConfig = JSON.stringify({ mcpServers: { demo: { type: 'http', url: URL0 } } });
const goodStore = JSON.stringify({
  mcpOAuth: {
    [KEY]: {
      serverName: 'demo',
      accessToken: 'at-good-123456',
      refreshToken: 'rt-good-123456',
      expiresAt: Date.now() + 3600_000,
      clientId: 'c',
    },
  },
});

function place(h: TempHome, target: string, content: Buffer | string): void {
  const where: Record<string, string> = {
    store: path.join(h.claudeDir, '.credentials.json'),
    config: path.join(h.home, '.claude.json'),
    mcp: path.join(h.project, '.mcp.json'),
    cache: path.join(h.claudeDir, 'mcp-needs-auth-cache.json'),
  };
  fs.writeFileSync(where[target], content, { mode: 0o600 });
}

function seed(h: TempHome): void {
  fs.writeFileSync(path.join(h.home, '.claude.json'), goodConfig);
  fs.writeFileSync(path.join(h.claudeDir, '.credentials.json'), goodStore, { mode: 0o600 });
}

async function expectRefused(
  h: TempHome,
  args: string[],
  code: string,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<void> {
  const before = hashTree(h.home);
  const r = await runCliAsync(args, { env: { ...h.env, ...extraEnv }, cwd: h.project });
  assert.notEqual(r.code, 0, `${args.join(' ')}: exit 0\n${r.stdout}`);
  assert.ok(
    r.stderr.split('\n').some((l) => l.startsWith(`mcp-auth: ${code}: `)),
    `${args.join(' ')}: expected "mcp-auth: ${code}: …", got:\n${r.stderr}`,
  );
  assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
  assert.ok(r.ms < 20_000, `bounded time (${r.ms} ms)`);
  const after = hashTree(h.home);
  // A 200 that carried nothing usable spends the refresh token sent: mcp-auth then marks it spent in its own
  // notes file (never Claude Code's files), so that no mcp-auth process sends it again.
  const notes = path.join('.claude', 'mcp-auth-notes.json');
  if (after[notes] && !before[notes]) {
    assert.match(fs.readFileSync(path.join(h.home, notes), 'utf8'), /"spent"/);
    delete after[notes];
  }
  assert.deepEqual(after, before, `${args.join(' ')} changed a file`);
}

for (const [file, code] of Object.entries(expected)) {
  const target = file.split('--')[0];
  test(`bad input ${file} → ${code}`, async () => {
    await withHome(async (h) => {
      seed(h);
      // latin1 round-trips every byte (BOM and NUL included) while __KEY__ becomes the demo server's real key
      place(
        h,
        target,
        Buffer.from(fs.readFileSync(path.join(DIR, file)).toString('latin1').split('__KEY__').join(KEY), 'latin1'),
      );
      await expectRefused(h, ['status'], code);
      await expectRefused(h, ['doctor', '--json'], code);
      if (target === 'store') await expectRefused(h, ['refresh', 'demo', '--force'], code);
      // a cache that is not a JSON object is never rewritten; one with a malformed entry may still be cleaned by name
      if (target === 'cache' && /truncated|empty|top-array/.test(file))
        await expectRefused(h, ['invalidate', 'demo'], code);
    });
  });
}

const big = (n: number) => Buffer.alloc(n, 0x20);
for (const [target, code] of [
  ['store', 'store-read'],
  ['config', 'config-read'],
  ['cache', 'cache-read'],
] as const) {
  test(`bad input: a 50 MB ${target} file → ${code}, quickly`, async () => {
    await withHome(async (h) => {
      seed(h);
      const buf = big(50 * 1024 * 1024);
      buf.write('{"a":1}', 0);
      place(h, target, buf);
      await expectRefused(h, ['status'], code);
    });
  });
}

test('bad input: the store is a directory → store-read', async () => {
  await withHome(async (h) => {
    fs.writeFileSync(path.join(h.home, '.claude.json'), goodConfig);
    fs.mkdirSync(path.join(h.claudeDir, '.credentials.json'));
    await expectRefused(h, ['status'], 'store-read');
    await expectRefused(h, ['refresh', 'demo'], 'store-read');
  });
});

test('bad input: a symlinked store pointing elsewhere → store-read, the target untouched', async () => {
  await withHome(async (h) => {
    seed(h);
    const elsewhere = path.join(h.home, 'elsewhere.json');
    fs.renameSync(path.join(h.claudeDir, '.credentials.json'), elsewhere);
    fs.symlinkSync(elsewhere, path.join(h.claudeDir, '.credentials.json'));
    await expectRefused(h, ['status'], 'store-read');
    await expectRefused(h, ['refresh', 'demo', '--force'], 'store-read');
    await expectRefused(h, ['logout', 'demo', '--no-revoke'], 'store-read');
  });
});

test('bad input: a read-only config dir → refresh fails with a code and changes nothing (as non-root)', async () => {
  await withHome(async (h) => {
    try {
      seed(h);
      fs.chmodSync(h.claudeDir, 0o500);
      if (process.getuid?.() === 0) {
        // root writes through mode bits: then the command must at least leave a valid store behind
        const r = await runCliAsync(['refresh', 'demo', '--force'], { env: h.env, cwd: h.project });
        assert.notEqual(r.code, 0); // 127.0.0.1:9 answers nothing: network error, nothing written
        assert.match(r.stderr, /^mcp-auth: (network|discovery-failed|timeout): /m);
        JSON.parse(fs.readFileSync(path.join(h.claudeDir, '.credentials.json'), 'utf8'));
      } else {
        await expectRefused(h, ['refresh', 'demo', '--force'], 'store-write');
      }
    } finally {
      fs.chmodSync(h.claudeDir, 0o700);
    }
  });
});

// ---- hostile authorization servers during a refresh ---------------------------------------------------

type Mode = {
  meta?: (base: string) => unknown;
  metaRaw?: (res: http.ServerResponse) => void;
  token?: (res: http.ServerResponse) => void;
};
let mode: Mode = {};
let srv: http.Server;
let base = '';
before(async () => {
  srv = http.createServer((req, res) => {
    req.resume();
    const p = new URL(req.url ?? '/', base).pathname;
    if (p === '/.well-known/oauth-authorization-server') {
      if (mode.metaRaw) return mode.metaRaw(res);
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify(
          mode.meta
            ? mode.meta(base)
            : { issuer: base, token_endpoint: `${base}/token`, authorization_endpoint: `${base}/authorize` },
        ),
      );
    }
    if (p === '/token' && mode.token) return mode.token(res);
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
});
after(async () => {
  srv.closeAllConnections();
  await new Promise((r) => srv.close(r));
});
afterEach(() => {
  mode = {};
});

function hostileHome(h: TempHome): void {
  fs.writeFileSync(path.join(h.home, '.claude.json'), goodConfig);
  fs.writeFileSync(
    path.join(h.claudeDir, '.credentials.json'),
    JSON.stringify({
      mcpOAuth: {
        [KEY]: {
          serverName: 'demo',
          serverUrl: URL0,
          accessToken: 'at-old-123456',
          refreshToken: 'rt-old-123456',
          expiresAt: Date.now() - 1000,
          clientId: 'c',
          issuer: base,
          discoveryState: { authorizationServerUrl: base },
        },
      },
    }),
    { mode: 0o600 },
  );
}
const tokenJson = (body: unknown) => (res: http.ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const hostile: [string, Mode, string][] = [
  [
    'metadata with the wrong issuer',
    { meta: () => ({ issuer: 'https://evil.example', token_endpoint: `${base}/token` }) },
    'issuer-mismatch',
  ],
  [
    'metadata with a plain-http token endpoint elsewhere',
    { meta: (b) => ({ issuer: b, token_endpoint: 'http://tokens.example.com/token' }) },
    'insecure-endpoint',
  ],
  [
    '10 MB metadata',
    {
      metaRaw: (res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"issuer":"x","pad":"${'x'.repeat(10 * 1024 * 1024)}"}`);
      },
    },
    'response-too-large',
  ],
  [
    'slow-loris metadata (one byte a second)',
    {
      metaRaw: (res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const t = setInterval(() => {
          if (!res.write(' ')) clearInterval(t);
        }, 1000);
        res.on('close', () => clearInterval(t));
      },
    },
    'timeout',
  ],
  [
    'token response that is not JSON',
    {
      token: (res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>login</html>');
      },
    },
    'bad-response',
  ],
  [
    '10 MB token response',
    {
      token: (res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"access_token":"${'x'.repeat(10 * 1024 * 1024)}"}`);
      },
    },
    'response-too-large',
  ],
  [
    'token response without access_token',
    { token: tokenJson({ token_type: 'Bearer', expires_in: 60 }) },
    'bad-response',
  ],
  [
    'token endpoint that hangs',
    {
      token: () => {
        /* never answers */
      },
    },
    'timeout',
  ],
];
for (const [name, m, code] of hostile) {
  test(`hostile AS during refresh: ${name} → ${code}, nothing written`, { timeout: 30_000 }, async () => {
    mode = m;
    await withHome(hostileHome, async (h) => {
      await expectRefused(h, ['refresh', 'demo'], code, { MCP_AUTH_HTTP_TIMEOUT: '2' });
    });
  });
}

/**
 * A 200 answer is final: the refresh token sent is spent once the server answers 200, so whatever else is
 * odd in it, what it carries is stored (the old refresh token kept when no new one came) and the oddity is a
 * warning. Rejecting it would leave the spent token in the store for the next refresh to replay.
 */
const odd: [string, Record<string, unknown>, string, { at: string; rt: string; expires: 'now' | 'later' | 'zero' }][] =
  [
    [
      'a negative expires_in',
      { access_token: 'a-new-123456', refresh_token: 'r-new-123456', token_type: 'Bearer', expires_in: -5 },
      'expires-in-not-positive',
      { at: 'a-new-123456', rt: 'r-new-123456', expires: 'now' },
    ],
    [
      'a non-numeric expires_in',
      { access_token: 'a-new-123456', refresh_token: 'r-new-123456', token_type: 'Bearer', expires_in: 'soon' },
      'expires-in-invalid',
      { at: 'a-new-123456', rt: 'r-new-123456', expires: 'now' },
    ],
    [
      'token_type mac',
      { access_token: 'a-new-123456', refresh_token: 'r-new-123456', token_type: 'mac', expires_in: 60 },
      'unknown-token-type',
      { at: 'a-new-123456', rt: 'r-new-123456', expires: 'later' },
    ],
    [
      'no token_type and no new refresh token',
      { access_token: 'a-new-123456', expires_in: 60 },
      'no-token-type',
      { at: 'a-new-123456', rt: 'rt-old-123456', expires: 'later' },
    ],
    [
      'an id_token that does not parse',
      {
        access_token: 'a-new-123456',
        refresh_token: 'r-new-123456',
        token_type: 'Bearer',
        expires_in: 60,
        id_token: 'not.a.jwt',
      },
      'id-token-not-validated',
      { at: 'a-new-123456', rt: 'r-new-123456', expires: 'later' },
    ],
    [
      'a refresh token but no access token',
      { refresh_token: 'r-new-123456', token_type: 'Bearer', expires_in: 60 },
      'no-access-token',
      { at: '', rt: 'r-new-123456', expires: 'zero' },
    ],
  ];
for (const [name, body, warning, want] of odd) {
  test(
    `odd 200 during refresh: ${name} → stored anyway with warning ${warning} (the refresh token sent is spent)`,
    { timeout: 30_000 },
    async () => {
      mode = { token: tokenJson(body) };
      await withHome(hostileHome, async (h) => {
        const t0 = Date.now();
        const r = await runCliAsync(['refresh', 'demo', '--json'], {
          env: { ...h.env, MCP_AUTH_HTTP_TIMEOUT: '2' },
          cwd: h.project,
        });
        assert.equal(r.code, 0, r.stderr);
        const out = JSON.parse(r.stdout).results[0];
        assert.equal(out.result, 'refreshed');
        assert.deepEqual(out.warnings, [warning]);
        assert.match(r.stderr, new RegExp(`warning: demo: .*${warning}`));
        assert.ok(!r.stderr.includes('a-new-123456') && !r.stderr.includes('r-new-123456'), 'no token in the output');
        const e = JSON.parse(fs.readFileSync(path.join(h.claudeDir, '.credentials.json'), 'utf8')).mcpOAuth[KEY];
        assert.equal(e.accessToken, want.at);
        assert.equal(e.refreshToken, want.rt);
        if (want.expires === 'now') assert.ok(e.expiresAt >= t0 && e.expiresAt <= Date.now(), 'stored as expiring now');
        if (want.expires === 'later') assert.ok(e.expiresAt > Date.now() + 50_000);
        if (want.expires === 'zero') assert.equal(e.expiresAt, 0);
        // and doctor says so afterwards
        const d = await runCliAsync(['doctor', 'demo'], { env: h.env, cwd: h.project });
        assert.match(d.stdout, new RegExp(`last token answer .* was odd: ${warning}`));
      });
    },
  );
}

test('token response without expires_in is accepted (RFC 6749 makes it optional): stored without expiresAt, as Claude Code stores it', async () => {
  mode = { token: tokenJson({ access_token: 'a-new-123456', refresh_token: 'r-new-123456', token_type: 'Bearer' }) };
  await withHome(hostileHome, async (h) => {
    const r = await runCliAsync(['refresh', 'demo'], { env: h.env, cwd: h.project });
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(fs.readFileSync(path.join(h.claudeDir, '.credentials.json'), 'utf8')).mcpOAuth[KEY];
    assert.equal(e.accessToken, 'a-new-123456');
    assert.equal(e.expiresAt, undefined);
  });
});
