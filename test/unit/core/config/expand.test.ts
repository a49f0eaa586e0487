import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { expandVars } from '../../../../src/core/config/expand';

test('expandVars: ${VAR}, ${VAR:-default}, missing stays literal', () => {
  const missing = new Set<string>();
  assert.equal(expandVars('a ${X} ${Y:-dflt} ${Z}', { X: 'x' }, missing), 'a x dflt ${Z}');
  assert.deepEqual([...missing], ['Z']);
  assert.equal(expandVars('${X:-d}', { X: '' }), '');
});
