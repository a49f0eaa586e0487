import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { isRefreshDue, noteIssued, refreshDueAt } from '../../../src/core/timing';

const jwt = (claims: Record<string, unknown>) =>
  `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
const W = 300_000;

test('a long-lived token is due when 300 s remain, as Claude Code refreshes it', () => {
  const iat = 1_000_000;
  const e = { accessToken: jwt({ iat, exp: iat + 3600 }), expiresAt: (iat + 3600) * 1000 };
  assert.equal(refreshDueAt(e, W), e.expiresAt - W);
});

test('a token that lives no longer than the window is due at half its lifetime, not from birth', () => {
  const iat = 1_000_000;
  const e = { accessToken: jwt({ iat, exp: iat + 300 }), expiresAt: (iat + 300) * 1000 };
  assert.equal(refreshDueAt(e, W), e.expiresAt - 150_000);
  assert.equal(isRefreshDue(e, iat * 1000 + 1000, W), false, 'just issued: not due');
  assert.equal(isRefreshDue(e, iat * 1000 + 151_000, W), true);
});

test('never again within 30 s of issuance (a 40-s token is due at 30 s, a 10-s token only once expired)', () => {
  const iat = 1_000_000;
  const forty = { accessToken: jwt({ iat, exp: iat + 40 }), expiresAt: (iat + 40) * 1000 };
  assert.equal(refreshDueAt(forty, W), iat * 1000 + 30_000);
  const ten = { accessToken: jwt({ iat, exp: iat + 10 }), expiresAt: (iat + 10) * 1000 };
  assert.equal(refreshDueAt(ten, W), ten.expiresAt);
  assert.equal(isRefreshDue(ten, ten.expiresAt + 1, W), true, 'expired is always due');
});

test('opaque tokens: the window alone, unless this process stored the token and knows its lifetime', () => {
  const e = { accessToken: 'opaque-token-1', expiresAt: 2_000_000 };
  assert.equal(refreshDueAt(e, W), 2_000_000 - W);
  noteIssued('opaque-token-2', 1_880_000, 2_000_000); // a 120-s token
  assert.equal(refreshDueAt({ accessToken: 'opaque-token-2', expiresAt: 2_000_000 }, W), 1_880_000 + 60_000);
});

test('no access token: due at once; no expiry: never', () => {
  assert.equal(refreshDueAt({ accessToken: '', expiresAt: 5 }, W), 0);
  assert.equal(refreshDueAt({ accessToken: 'x' }, W), undefined);
});

test('a JWT whose exp disagrees with the stored expiresAt says nothing about it: the stored time and the window rule', () => {
  const iat = 1_000_000;
  const e = { accessToken: jwt({ iat, exp: iat + 3600 }), expiresAt: iat * 1000 + 60_000 };
  assert.equal(refreshDueAt(e, W), e.expiresAt - W);
});

test('what this process stored stops counting once the stored expiresAt is changed by someone else', () => {
  noteIssued('opaque-token-3', 1_000_000, 4_600_000);
  assert.equal(refreshDueAt({ accessToken: 'opaque-token-3', expiresAt: 4_600_000 }, W), 4_600_000 - W);
  assert.equal(refreshDueAt({ accessToken: 'opaque-token-3', expiresAt: 1_060_000 }, W), 1_060_000 - W);
});
