import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { requestedScope } from '../../../src/core/login';

const AS = 'http://127.0.0.1:1';

test('requestedScope: the discovered scope alone when nothing is stored', () => {
  assert.equal(requestedScope('mcp', undefined, AS), 'mcp');
  assert.equal(requestedScope(undefined, undefined, AS), undefined);
});

test('requestedScope, step-up: the union of discovered, stored and stepUpScope, in that order, no duplicates, offline_access kept', () => {
  assert.equal(
    requestedScope('mcp', { scope: 'mcp', stepUpScope: 'mcp mcp:admin offline_access', issuer: AS }, AS),
    'mcp mcp:admin offline_access',
  );
  assert.equal(requestedScope('mcp', { scope: 'mcp:read  mcp', issuer: `${AS}/` }, AS), 'mcp mcp:read');
  assert.equal(requestedScope(undefined, { stepUpScope: 'a b' }, AS), 'a b');
});

test('requestedScope: an entry of another authorization server contributes nothing', () => {
  assert.equal(
    requestedScope('mcp', { scope: 'other:x', stepUpScope: 'other:y', issuer: 'https://elsewhere' }, AS),
    'mcp',
  );
});
