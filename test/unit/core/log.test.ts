import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  redact,
  rememberSecret,
  forgetSecret,
  rememberedSecrets,
  MAX_REMEMBERED_SECRETS,
  MAX_RETIRED_SECRETS,
  Logger,
} from '../../../src/core/log';

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

test('redact: the remembered secrets are bounded (a long-running keeper sees a new token every rotation); the recent ones stay hidden', () => {
  const early = 'early-secret-value-0001';
  rememberSecret(early);
  for (let i = 0; i < 10_000; i++) rememberSecret(`rotating-secret-${i}-abcdef`);
  const n = rememberedSecrets();
  assert.ok(n.live <= MAX_REMEMBERED_SECRETS, JSON.stringify(n));
  assert.ok(n.retired <= MAX_RETIRED_SECRETS, JSON.stringify(n));
  assert.equal(redact('x rotating-secret-9999-abcdef y'), 'x [REDACTED] y');
  assert.equal(redact(`x rotating-secret-${10_000 - MAX_REMEMBERED_SECRETS}-abcdef y`), 'x [REDACTED] y');
  // the least recently remembered is no longer scanned for; the patterns still cover where tokens are written
  assert.equal(redact(`x ${early} y`), `x ${early} y`);
  assert.equal(redact(`refresh_token=${early}`), 'refresh_token=[REDACTED]');
  assert.equal(redact(`{"accessToken":"${early}"}`), '{"accessToken":"[REDACTED]"}');
  // remembered again: most recent again
  rememberSecret(early);
  for (let i = 0; i < MAX_REMEMBERED_SECRETS - 1; i++) rememberSecret(`more-secret-${i}-abcdef`);
  assert.equal(redact(`x ${early} y`), 'x [REDACTED] y');
});

test('redact: a secret rotated away (forgetSecret) stays hidden among the last few retired, then is dropped', () => {
  const spent = 'spent-refresh-token-0001';
  rememberSecret(spent);
  const live0 = rememberedSecrets().live;
  forgetSecret(spent);
  assert.equal(rememberedSecrets().live, live0 - 1, 'no longer live');
  assert.equal(redact(`the AS said: ${spent} is invalid`), 'the AS said: [REDACTED] is invalid', 'still hidden');
  for (let i = 0; i < MAX_RETIRED_SECRETS; i++) {
    rememberSecret(`later-rt-${i}-abcdef`);
    forgetSecret(`later-rt-${i}-abcdef`);
  }
  assert.equal(redact(`x ${spent} y`), `x ${spent} y`, 'dropped after MAX_RETIRED_SECRETS later rotations');
  assert.ok(rememberedSecrets().retired <= MAX_RETIRED_SECRETS);
  forgetSecret('never-remembered-value');
  assert.ok(rememberedSecrets().retired <= MAX_RETIRED_SECRETS);
});
