import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cacheNamesFor, removeCacheEntries, readCache } from '../../../../src/core/cache/needsAuthCache';
import type { ServerConfig } from '../../../../src/core/config/types';
import { withHome } from '../../../helpers/home';

const http = (name: string, url: string, headers?: Record<string, string>): ServerConfig =>
  ({ name, transport: 'http', rawType: 'http', url, headers, scope: 'user', file: 'f' }) as ServerConfig;

test('cacheNamesFor: the names whose credential key is the same, not every name that shares the URL', () => {
  const a = http('a', 'https://mcp.test/x');
  const teamed = http('teamed', 'https://mcp.test/x', { 'X-Team': 'blue' });
  const other = http('other', 'https://mcp.test/y');
  assert.deepEqual([...cacheNamesFor(a, [a, teamed, other])], ['a']);
  // the same name defined twice with the same URL and headers (e.g. user and local scope) has one key
  const a2 = { ...http('a', 'https://mcp.test/x'), scope: 'local' } as ServerConfig;
  assert.deepEqual([...cacheNamesFor(a, [a, a2, teamed])], ['a']);
});

test('removeCacheEntries: removes only the named keys, keeps unknown fields and mode, writes nothing when absent', async () => {
  await withHome(async (h) => {
    const f = path.join(h.claudeDir, 'mcp-needs-auth-cache.json');
    fs.writeFileSync(
      f,
      JSON.stringify({ a: { timestamp: 1 }, b: { timestamp: 2, ttlMs: 5, id: 'x', lapsedCcrSignInKey: 'k' } }),
      { mode: 0o644 },
    );
    fs.chmodSync(f, 0o644);
    const r = await removeCacheEntries(f, (n) => n === 'a');
    assert.deepEqual(r, { removed: ['a'], written: true });
    assert.deepEqual(JSON.parse(fs.readFileSync(f, 'utf8')), {
      b: { timestamp: 2, ttlMs: 5, id: 'x', lapsedCcrSignInKey: 'k' },
    });
    assert.equal(fs.statSync(f).mode & 0o777, 0o644);
    const before = fs.statSync(f).mtimeMs;
    assert.deepEqual(await removeCacheEntries(f, (n) => n === 'zzz'), { removed: [], written: false });
    assert.equal(fs.statSync(f).mtimeMs, before);
    const snap = await readCache(f);
    assert.equal(snap.entries.b.ttlMs, 5);
  });
});

test('removeCacheEntries: a cache over one 64 KB read (read in several chunks into one buffer) keeps every other entry byte for byte', async () => {
  await withHome(async (h) => {
    const f = path.join(h.claudeDir, 'mcp-needs-auth-cache.json');
    const big: Record<string, unknown> = {};
    // about 200 KB, with multi-byte characters that straddle the chunk boundaries
    for (let i = 0; i < 2500; i++) big[`server-${i}-ü€😀`] = { timestamp: i, note: 'ä'.repeat(i % 37) };
    fs.writeFileSync(f, JSON.stringify(big));
    assert.ok(fs.statSync(f).size > 3 * 64 * 1024);
    const r = await removeCacheEntries(f, (n) => n === 'server-7-ü€😀');
    assert.deepEqual(r, { removed: ['server-7-ü€😀'], written: true });
    const left = JSON.parse(fs.readFileSync(f, 'utf8'));
    delete big['server-7-ü€😀'];
    assert.deepEqual(left, big);
    // a second pass reads the rewritten file through the same buffer
    assert.deepEqual((await removeCacheEntries(f, (n) => n === 'server-8-ü€😀')).removed, ['server-8-ü€😀']);
    assert.equal(Object.keys(JSON.parse(fs.readFileSync(f, 'utf8'))).length, 2498);
  });
});
