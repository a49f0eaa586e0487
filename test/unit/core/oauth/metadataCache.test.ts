import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { cachedDiscovery, forgetDiscovery, rememberDiscovery } from '../../../../src/core/oauth/metadataCache';
import { makeHttp } from '../../../../src/core/oauth/client';

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

    now += 10 * 60_000; // the TTL
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
