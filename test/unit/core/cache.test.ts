import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { cacheNamesFor } from '../../../src/core/cache/cache';
import type { ServerConfig } from '../../../src/core/config/types';

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
