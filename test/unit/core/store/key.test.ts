import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { serverKey } from '../../../../src/core/store/key';
import { refreshLockName } from '../../../../src/core/lock/lock';

test('serverKey: the key seen written by Claude Code 2.1.328 for a plain http server', () => {
  // seen in a throwaway HOME: `claude mcp add --transport http alpha http://127.0.0.1:8799/mcp` + `claude mcp list`
  assert.equal(
    serverKey({ name: 'alpha', transport: 'http', rawType: 'http', url: 'http://127.0.0.1:8799/mcp' }),
    'alpha|2386ba2022d67171',
  );
});

test('serverKey: streamable-http hashes as http; headers default to {} and keep their order', () => {
  const a = serverKey({ name: 'x', transport: 'http', rawType: 'streamable-http', url: 'https://h/mcp' });
  const b = serverKey({ name: 'x', transport: 'http', rawType: 'http', url: 'https://h/mcp', headers: {} });
  assert.equal(a, b);
  const h1 = serverKey({ name: 'x', transport: 'http', url: 'https://h/mcp', headers: { A: '1', B: '2' } });
  const h2 = serverKey({ name: 'x', transport: 'http', url: 'https://h/mcp', headers: { B: '2', A: '1' } });
  assert.notEqual(h1, h2);
  assert.match(h1, /^x\|[0-9a-f]{16}$/);
});

test('refreshLockName: every non-alphanumeric character becomes _', () => {
  assert.equal(refreshLockName('demo|c52143f84584caf9'), 'mcp-refresh-demo_c52143f84584caf9.lock');
  assert.equal(refreshLockName('plugin:p:my-srv|0123'), 'mcp-refresh-plugin_p_my_srv_0123.lock');
});
