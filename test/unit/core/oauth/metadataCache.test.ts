import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  METADATA_TTL_MS,
  cachedDiscovery,
  forgetDiscovery,
  rememberDiscovery,
} from '../../../../src/core/oauth/metadataCache';
import { makeHttp } from '../../../../src/core/oauth/client';
import { refreshServer } from '../../../../src/core/refresh';
import { resolvePaths } from '../../../../src/core/paths';
import { FileStore } from '../../../../src/core/store/backend';
import { serverKey } from '../../../../src/core/store/key';
import type { ServerConfig } from '../../../../src/core/config/types';
import { withHome, type TempHome } from '../../../helpers/home';

/** A loopback authorization server that answers RFC 8414 metadata and counts the requests. */
async function withAs(fn: (issuer: string, count: () => number, dir: string) => Promise<void>): Promise<void> {
  let n = 0;
  const server = http.createServer((_req, res) => {
    n++;
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ issuer, token_endpoint: `${issuer}/token`, authorization_endpoint: `${issuer}/auth` }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-meta-'));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, () => n, dir);
  } finally {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const fetcher = makeHttp({});

test('metadata cache: a second lookup within the TTL asks the server nothing; after the TTL, or once forgotten, it asks again', async () => {
  await withAs(async (issuer, count, dir) => {
    let now = 1_000_000;
    const c = { dir, now: () => now };
    const a = await cachedDiscovery(issuer, fetcher, c);
    assert.equal(a.token_endpoint, `${issuer}/token`);
    const first = count();
    assert.ok(first >= 1);
    assert.equal(fs.existsSync(path.join(dir, 'mcp-auth-metadata.json')), false, 'kept only after a token request');
    await rememberDiscovery(issuer, a, c);
    const b = await cachedDiscovery(issuer, fetcher, c);
    assert.equal(b.token_endpoint, `${issuer}/token`);
    assert.equal(count(), first, 'answered from the cache');
    assert.equal(fs.statSync(path.join(dir, 'mcp-auth-metadata.json')).mode & 0o777, 0o600);

    now += METADATA_TTL_MS - 1;
    await cachedDiscovery(issuer, fetcher, c);
    assert.equal(count(), first, 'still answered from the cache just before the TTL');
    now += 1; // the TTL
    const again = await cachedDiscovery(issuer, fetcher, c);
    assert.equal(count(), first * 2, 'asked again after the TTL');
    await rememberDiscovery(issuer, again, c);

    await forgetDiscovery(issuer, c);
    assert.equal(fs.existsSync(path.join(dir, 'mcp-auth-metadata.json')), false, 'nothing left: no file');
    await cachedDiscovery(issuer, fetcher, c);
    assert.equal(count(), first * 3, 'asked again once forgotten');
  });
});

test('metadata cache: a broken file, or a cached document with an insecure token endpoint, is never used', async () => {
  await withAs(async (issuer, count, dir) => {
    const c = { dir, now: () => 5_000_000 };
    const file = path.join(dir, 'mcp-auth-metadata.json');
    fs.writeFileSync(file, '{not json');
    assert.equal((await cachedDiscovery(issuer, fetcher, c)).issuer, issuer);
    const asked = count();
    assert.ok(asked >= 1, 'a broken cache is a miss');
    await rememberDiscovery(issuer, await cachedDiscovery(issuer, fetcher, c), c);
    const cached = JSON.parse(fs.readFileSync(file, 'utf8'));
    cached[issuer].metadata.token_endpoint = 'http://evil.example.com/token';
    fs.writeFileSync(file, JSON.stringify(cached));
    await assert.rejects(cachedDiscovery(issuer, fetcher, c), (e: { code?: string }) => e.code === 'insecure-endpoint');
    assert.equal(count(), asked * 2, 'asked once more to fill the cache, then never for the bad copy');
  });
});

test('metadata cache: a cached document whose issuer is not the URL it is kept under is not used (RFC 8414 as discovery checks it)', async () => {
  await withAs(async (issuer, count, dir) => {
    const c = { dir, now: () => 7_000_000 };
    const other = 'http://127.0.0.1:9/elsewhere';
    // what another server's metadata, cached under this URL, would look like
    const doc = { issuer: other, token_endpoint: `${other}/token`, authorization_endpoint: `${other}/auth` };
    await rememberDiscovery(issuer, doc, c);
    assert.equal(
      fs.existsSync(path.join(dir, 'mcp-auth-metadata.json')),
      false,
      'never kept under a URL it does not name',
    );
    // a file with such a copy (an older version wrote it, or someone else): not used
    fs.writeFileSync(
      path.join(dir, 'mcp-auth-metadata.json'),
      JSON.stringify({ [issuer]: { at: 7_000_000, metadata: doc } }),
    );
    const got = await cachedDiscovery(issuer, fetcher, c);
    assert.equal(got.issuer, issuer, 'discovered again');
    assert.equal(got.token_endpoint, `${issuer}/token`);
    assert.ok(count() >= 1, 'the server was asked');
  });
});

/** A loopback server on which `handle` answers; the test gets its origin. */
async function withServer(
  handle: (req: http.IncomingMessage, res: http.ServerResponse, origin: string) => void,
  fn: (origin: string) => Promise<void>,
): Promise<void> {
  let origin = '';
  const server = http.createServer((req, res) => handle(req, res, origin));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await fn(origin);
  } finally {
    server.close();
  }
}

const ROTATED = JSON.stringify({
  access_token: 'at-new',
  refresh_token: 'rt-new',
  token_type: 'Bearer',
  expires_in: 3600,
});

/** A home whose store holds one due entry of server `m` at `url`, signed in with `issuer`'s AS. */
function dueEntry(h: TempHome, url: string, issuer: string, rt: string, oauth?: ServerConfig['oauth']) {
  const cfg = {
    name: 'm',
    scope: 'user',
    transport: 'http',
    url,
    headers: {},
    ...(oauth ? { oauth } : {}),
  } as ServerConfig;
  const key = serverKey(cfg);
  const file = path.join(h.claudeDir, '.credentials.json');
  const entry = {
    serverName: 'm',
    serverUrl: url,
    accessToken: 'at-old',
    refreshToken: rt,
    expiresAt: Date.now() - 1000,
    clientId: 'c',
    issuer,
    discoveryState: { authorizationServerUrl: issuer },
  };
  fs.writeFileSync(file, JSON.stringify({ mcpOAuth: { [key]: entry } }), { mode: 0o600 });
  const paths = resolvePaths({ env: h.env, home: h.home, platform: 'linux' });
  const deps = { paths, store: new FileStore(file), lockTimeoutMs: 5000 };
  const cacheFile = path.join(paths.secureDir, 'mcp-auth-metadata.json');
  return {
    cfg,
    deps,
    cacheFile,
    stored: () => JSON.parse(fs.readFileSync(file, 'utf8')).mcpOAuth[key],
    cached: (): Record<string, unknown> =>
      fs.existsSync(cacheFile) ? JSON.parse(fs.readFileSync(cacheFile, 'utf8')) : {},
  };
}

const MCP_URL = 'https://mcp.example.com/mcp';

test('metadata cache: a refresh whose metadata came from the config metadata URL keeps nothing under the entry AS URL', async () => {
  let posts = 0;
  await withServer(
    (req, res, issuer) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.method === 'POST') {
        posts++;
        res.end(ROTATED);
      } else if (req.url === '/custom-metadata')
        // the config's document: a token endpoint discovery from the AS URL would not give
        res.end(JSON.stringify({ issuer, token_endpoint: `${issuer}/custom-token` }));
      else res.end(JSON.stringify({ issuer, token_endpoint: `${issuer}/token` }));
    },
    async (issuer) => {
      await withHome(async (h) => {
        const d = dueEntry(h, MCP_URL, issuer, 'rt-old-metadata-url', {
          authServerMetadataUrl: `${issuer}/custom-metadata`,
        });
        const out = await refreshServer(d.cfg, d.deps);
        assert.equal(out.result, 'refreshed', out.message);
        assert.equal(posts, 1);
        assert.equal(d.cached()[issuer], undefined, 'the config document was kept under the AS URL');
      });
    },
  );
});

test('metadata cache: a token endpoint that moved while a copy was cached refuses with invalid_grant: not a sign-out, the copy is dropped, the next refresh uses the new one', async () => {
  const posts: string[] = [];
  await withServer(
    (req, res, issuer) => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'POST') {
        posts.push(req.url ?? '');
        if (req.url === '/old-token') {
          // an old deployment that does not know the grant
          res.writeHead(400);
          return void res.end(JSON.stringify({ error: 'invalid_grant' }));
        }
        res.writeHead(200);
        return void res.end(ROTATED);
      }
      res.writeHead(200);
      res.end(JSON.stringify({ issuer, token_endpoint: `${issuer}/token` }));
    },
    async (issuer) => {
      await withHome(async (h) => {
        const d = dueEntry(h, MCP_URL, issuer, 'rt-old-moved-endpoint');
        // a copy from two hours ago, when the endpoint was /old-token
        fs.writeFileSync(
          d.cacheFile,
          JSON.stringify({
            [issuer]: { at: Date.now() - 2 * 3_600_000, metadata: { issuer, token_endpoint: `${issuer}/old-token` } },
          }),
          { mode: 0o600 },
        );
        const first = await refreshServer(d.cfg, d.deps);
        assert.equal(first.code, 'endpoint-moved', first.message);
        assert.deepEqual(posts, ['/old-token']);
        assert.equal(d.stored().refreshToken, 'rt-old-moved-endpoint', 'not signed out');
        assert.equal(d.stored().accessToken, 'at-old');
        assert.equal(d.cached()[issuer], undefined, 'the stale copy was dropped');

        const second = await refreshServer(d.cfg, d.deps);
        assert.equal(second.result, 'refreshed', second.message);
        assert.deepEqual(posts, ['/old-token', '/token']);
        assert.equal(d.stored().refreshToken, 'rt-new');
      });
    },
  );
});

test('a server signed in on the default endpoints (no metadata anywhere) refreshes on them, and they are never cached', async () => {
  const posts: string[] = [];
  await withServer(
    (req, res) => {
      if (req.method === 'POST') {
        posts.push(req.url ?? '');
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(ROTATED);
      }
      res.writeHead(404);
      res.end();
    },
    async (origin) => {
      await withHome(async (h) => {
        const d = dueEntry(h, `${origin}/mcp`, origin, 'rt-defaults');
        const out = await refreshServer(d.cfg, d.deps);
        assert.equal(out.result, 'refreshed', out.message);
        assert.deepEqual(posts, ['/token']);
        assert.equal(fs.existsSync(d.cacheFile), false, 'not a document');
      });
    },
  );
});

test('a metadata document that names another token endpoint each time: endpoint-moved once per refresh token, then the sign-out it is', async () => {
  let gets = 0;
  const posts: string[] = [];
  await withServer(
    (req, res, origin) => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'POST') {
        posts.push(req.url ?? '');
        res.writeHead(400);
        return void res.end(JSON.stringify({ error: 'invalid_grant' }));
      }
      res.writeHead(200);
      res.end(JSON.stringify({ issuer: origin, token_endpoint: `${origin}/token-${++gets}` }));
    },
    async (issuer) => {
      await withHome(async (h) => {
        const d = dueEntry(h, MCP_URL, issuer, 'rt-flapping');
        const first = await refreshServer(d.cfg, d.deps);
        assert.equal(first.code, 'endpoint-moved', first.message);
        const second = await refreshServer(d.cfg, d.deps);
        assert.equal(second.code, 'invalid-grant', second.message);
        assert.equal(posts.length, 2);
        assert.equal(d.stored().refreshToken, undefined, 'signed out');
      });
    },
  );
});
