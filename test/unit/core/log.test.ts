import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { redact, rememberSecret, Logger } from '../../../src/core/log';

test('redact: JSON fields, form bodies, bearer headers, JWTs, remembered secrets', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
  const s = redact(
    `{"accessToken":"abc\\"def","refreshToken":"r1","keep":"ok"} grant_type=refresh_token&refresh_token=zzz&client_id=c Authorization: Bearer tok_123456 ${jwt}`,
  );
  assert.ok(!s.includes('abc') && !s.includes('zzz') && !s.includes('tok_123456') && !s.includes(jwt), s);
  assert.ok(s.includes('"keep":"ok"') && s.includes('client_id=c'));
  rememberSecret('plain-secret-value');
  assert.equal(redact('x plain-secret-value y'), 'x [REDACTED] y');
});

test('Logger: every line goes through redact', () => {
  const lines: string[] = [];
  const log = new Logger((_l, line) => lines.push(line), 'core');
  log.info('token refresh_token=secret-rt-1');
  log.error('failed', new Error('Bearer abcdefghijk rejected'));
  assert.deepEqual(lines, ['[core] token refresh_token=[REDACTED]', '[core] failed: Bearer [REDACTED] rejected']);
});
