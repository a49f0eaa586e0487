import { test, before, after, beforeEach, afterEach } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { refreshGrant, makeHttp, type AuthorizationServer, type TokenSet } from '../../../../src/core/oauth/client';
import { MAX_BODY_BYTES } from '../../../../src/core/oauth/http';
import type { McpAuthError } from '../../../../src/core/errors';

/**
 * The answer of a token endpoint to grant_type=refresh_token, as refreshGrant/processTokenResponse read it,
 * against a real loopback server (no fake fetch). A 200 is final — the refresh token sent is spent — so an
 * odd 200 that still carries a token is a TokenSet with warnings; only a 200 with no token at all, or one
 * that is not JSON, is an error.
 */
type Answer = (req: http.IncomingMessage, res: http.ServerResponse) => void;
interface Seen {
  method: string;
  path: string;
  contentType: string;
  form: Record<string, string>;
}

let srv: http.Server;
let base = '';
let answer: Answer;
let seen: Seen[] = [];

before(async () => {
  srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        contentType: req.headers['content-type'] ?? '',
        form: Object.fromEntries(new URLSearchParams(body)),
      });
      if (req.method === 'POST' && req.url === '/token') return answer(req, res);
      res.writeHead(404);
      res.end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
});
after(async () => {
  srv.closeAllConnections();
  await new Promise((r) => srv.close(r));
});
beforeEach(() => {
  seen = [];
  answer = () => {
    throw new Error('no answer set');
  };
});
afterEach(() => {
  // one request per refresh, always to the token endpoint: no discovery, no retry, no stray request
  assert.deepEqual(
    seen.map((s) => `${s.method} ${s.path}`),
    ['POST /token'],
  );
});

const as = (): AuthorizationServer => ({ issuer: base, token_endpoint: `${base}/token` });
const refresh = (opts: { timeoutMs?: number } = {}) =>
  refreshGrant(
    as(),
    { clientId: 'client-1' },
    'rt-old-123456',
    'http://127.0.0.1:1/mcp',
    makeHttp({ timeoutMs: opts.timeoutMs ?? 5000 }),
  );
const json =
  (status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): Answer =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
const ok = (body: Record<string, unknown>) => json(200, body);
const conforming = {
  access_token: 'at-new-123456',
  token_type: 'Bearer',
  expires_in: 3600,
  refresh_token: 'rt-new-123456',
  scope: 'mcp',
};
const set = (s: Partial<TokenSet>): TokenSet => ({
  accessToken: 'at-new-123456',
  refreshToken: 'rt-new-123456',
  expiresIn: 3600,
  scope: undefined,
  warnings: [],
  ...s,
});

/** The McpAuthError refreshGrant rejects with: its code and details (the message is for people). */
async function failure(p: Promise<unknown>): Promise<{ code: string; details: McpAuthError['details'] }> {
  try {
    await p;
  } catch (e) {
    const m = e as McpAuthError;
    assert.equal(m.name, 'McpAuthError', String(e));
    return { code: m.code, details: m.details };
  }
  assert.fail('refreshGrant resolved');
}

test('refreshGrant: a conforming 200 → every field, no warning; the request is RFC 6749 §6 with the RFC 8707 resource', async () => {
  answer = ok(conforming);
  assert.deepEqual(await refresh(), set({ scope: 'mcp' }));
  assert.equal(seen[0].contentType, 'application/x-www-form-urlencoded;charset=UTF-8');
  assert.deepEqual(seen[0].form, {
    grant_type: 'refresh_token',
    refresh_token: 'rt-old-123456',
    resource: 'http://127.0.0.1:1/mcp',
    client_id: 'client-1',
  });
});

test('refreshGrant: a conforming 200 without refresh_token or expires_in (both optional) → undefined, no warning', async () => {
  answer = ok({ access_token: 'at-new-123456', token_type: 'bearer' });
  assert.deepEqual(await refresh(), set({ refreshToken: undefined, expiresIn: undefined }));
});

const odd: [string, Record<string, unknown>, TokenSet][] = [
  ['without token_type', { ...conforming, token_type: undefined }, set({ scope: 'mcp', warnings: ['no-token-type'] })],
  [
    'with an unknown token_type (mac)',
    { ...conforming, token_type: 'mac' },
    set({ scope: 'mcp', warnings: ['unknown-token-type'] }),
  ],
  [
    'with a token_type that is not a string',
    { ...conforming, token_type: 7 },
    set({ scope: 'mcp', warnings: ['unknown-token-type'] }),
  ],
  [
    'with expires_in 0',
    { ...conforming, expires_in: 0 },
    set({ scope: 'mcp', expiresIn: 0, warnings: ['expires-in-not-positive'] }),
  ],
  [
    'with a negative expires_in',
    { ...conforming, expires_in: -5 },
    set({ scope: 'mcp', expiresIn: 0, warnings: ['expires-in-not-positive'] }),
  ],
  [
    'with expires_in "soon"',
    { ...conforming, expires_in: 'soon' },
    set({ scope: 'mcp', expiresIn: 0, warnings: ['expires-in-invalid'] }),
  ],
  ['with expires_in "3600" (a numeric string)', { ...conforming, expires_in: '3600' }, set({ scope: 'mcp' })],
  [
    'with an id_token that does not parse',
    { ...conforming, id_token: 'not.a.jwt' },
    set({ scope: 'mcp', warnings: ['id-token-not-validated'] }),
  ],
  [
    'with a refresh_token but no access_token',
    { ...conforming, access_token: undefined },
    set({ accessToken: '', scope: 'mcp', warnings: ['no-access-token'] }),
  ],
  [
    'with an empty refresh_token',
    { ...conforming, refresh_token: '' },
    set({ refreshToken: undefined, scope: 'mcp', warnings: ['refresh-token-invalid'] }),
  ],
  ['with a scope that is not a string', { ...conforming, scope: ['mcp'] }, set({ warnings: ['scope-invalid'] })],
  [
    'without token_type, with expires_in -1 and an id_token',
    { access_token: 'at-new-123456', expires_in: -1, id_token: 'x' },
    set({
      refreshToken: undefined,
      expiresIn: 0,
      warnings: ['no-token-type', 'expires-in-not-positive', 'id-token-not-validated'],
    }),
  ],
];
for (const [name, body, want] of odd) {
  test(`refreshGrant: a 200 ${name} → stored anyway: ${JSON.stringify(want.warnings)}`, async () => {
    answer = ok(body);
    assert.deepEqual(await refresh(), want);
  });
}

test('refreshGrant: a 200 with neither access_token nor refresh_token → bad-response, details.status 200', async () => {
  answer = ok({ token_type: 'Bearer', expires_in: 60 });
  assert.deepEqual(await failure(refresh()), { code: 'bad-response', details: { status: 200 } });
});

test('refreshGrant: a 200 that is not JSON → bad-response, details.status 200', async () => {
  answer = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html>sign in</html>');
  };
  assert.deepEqual(await failure(refresh()), { code: 'bad-response', details: { status: 200 } });
});

test('refreshGrant: a 200 that is JSON but not an object → bad-response, details.status 200', async () => {
  answer = json(200, '["at-new-123456"]');
  assert.deepEqual(await failure(refresh()), { code: 'bad-response', details: { status: 200 } });
});

test('refreshGrant: 400 invalid_grant → invalid-grant, with the status and the OAuth error', async () => {
  answer = json(400, { error: 'invalid_grant', error_description: 'refresh token reused' });
  assert.deepEqual(await failure(refresh()), {
    code: 'invalid-grant',
    details: { status: 400, oauthError: 'invalid_grant' },
  });
});

test('refreshGrant: 400 invalid_client → bad-response (only invalid_grant means sign in again)', async () => {
  answer = json(400, { error: 'invalid_client' });
  assert.deepEqual(await failure(refresh()), {
    code: 'bad-response',
    details: { status: 400, oauthError: 'invalid_client' },
  });
});

test('refreshGrant: 503 with an OAuth error body → server-error carrying its error (oauth4webapi reads error bodies of 4xx only; we read it)', async () => {
  answer = json(503, { error: 'temporarily_unavailable' });
  assert.deepEqual(await failure(refresh()), {
    code: 'server-error',
    details: { status: 503, oauthError: 'temporarily_unavailable' },
  });
});

test('refreshGrant: 503 with an HTML body → server-error', async () => {
  answer = (_req, res) => {
    res.writeHead(503, { 'content-type': 'text/html' });
    res.end('<html>down</html>');
  };
  assert.deepEqual(await failure(refresh()), { code: 'server-error', details: { status: 503 } });
});

test('refreshGrant: a body over the size limit, declared in content-length → response-too-large', async () => {
  answer = json(200, { ...conforming, pad: 'x'.repeat(MAX_BODY_BYTES) });
  // the status line said 200: the caller must take the token as possibly spent (refresh.ts)
  assert.deepEqual(await failure(refresh()), { code: 'response-too-large', details: { status: 200 } });
});

test('refreshGrant: a body over the size limit, streamed without content-length → response-too-large', async () => {
  answer = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(`{"access_token":"at-new-123456","pad":"`);
    res.write('x'.repeat(MAX_BODY_BYTES));
    res.end('"}');
  };
  // the status line said 200: the caller must take the token as possibly spent (refresh.ts)
  assert.deepEqual(await failure(refresh()), { code: 'response-too-large', details: { status: 200 } });
});

test('refreshGrant: a token endpoint that never answers → timeout (makeHttp timeoutMs)', async () => {
  answer = () => {
    /* never answers */
  };
  const t = Date.now();
  assert.deepEqual(await failure(refresh({ timeoutMs: 300 })), { code: 'timeout', details: {} });
  assert.ok(Date.now() - t < 3000, `bounded (${Date.now() - t} ms)`);
});

test('refreshGrant: a 200 whose body never ends → timeout (makeHttp timeoutMs)', async () => {
  answer = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"access_token":');
  };
  assert.deepEqual(await failure(refresh({ timeoutMs: 300 })), { code: 'timeout', details: { status: 200 } });
});
