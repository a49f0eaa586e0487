import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { probeServer, parseBearerChallenge, describeProbe, sseEndpoint } from '../../../../src/core/keeper/probe';
import { Logger } from '../../../../src/core/log';
import type { ServerConfig } from '../../../../src/core/config/types';

const TOKEN = 'probe-secret-token-0123456789';

interface Srv {
  url: string;
  seen: { method: string; auth?: string; team?: string; session?: string }[];
  close(): Promise<void>;
}

async function serve(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void,
): Promise<Srv> {
  const seen: Srv['seen'] = [];
  const srv = http.createServer((req, res) => {
    seen.push({
      method: req.method ?? '',
      auth: req.headers.authorization,
      team: req.headers['x-team'] as string | undefined,
      session: req.headers['mcp-session-id'] as string | undefined,
    });
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/mcp`,
    seen,
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

/** A real MCP server (SDK, stateful streamable HTTP) that wants the bearer token. */
async function mcpServer(): Promise<Srv> {
  const { McpServer } = await import('@modelcontextprotocol/sdk/server/mcp.js');
  const { StreamableHTTPServerTransport } = await import('@modelcontextprotocol/sdk/server/streamableHttp.js');
  const mcp = new McpServer({ name: 'probe-test', version: '1' });
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    enableJsonResponse: true,
  });
  await mcp.connect(transport);
  return serve((req, res, body) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
      res.end();
      return;
    }
    void transport.handleRequest(req, res, body ? JSON.parse(body) : undefined);
  });
}

/** A real MCP server (SDK) answering initialize with an event stream (enableJsonResponse off). */
async function streamingMcpServer(): Promise<Srv> {
  const { McpServer } = await import('@modelcontextprotocol/sdk/server/mcp.js');
  const { StreamableHTTPServerTransport } = await import('@modelcontextprotocol/sdk/server/streamableHttp.js');
  const mcp = new McpServer({ name: 'probe-test-stream', version: '1' });
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID() });
  await mcp.connect(transport);
  return serve((req, res, body) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
      res.end();
      return;
    }
    void transport.handleRequest(req, res, body ? JSON.parse(body) : undefined);
  });
}

/** A real MCP server over the older SSE transport (SDK SSEServerTransport): GET /mcp is the stream, POST /messages. */
async function sseMcpServer(): Promise<Srv & { posted: () => number }> {
  const { McpServer } = await import('@modelcontextprotocol/sdk/server/mcp.js');
  const { SSEServerTransport } = await import('@modelcontextprotocol/sdk/server/sse.js');
  const transports = new Map<string, InstanceType<typeof SSEServerTransport>>();
  let posted = 0;
  const srv = await serve((req, res, body) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer error="invalid_token", scope="mcp"' });
      res.end();
      return;
    }
    const u = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && u.pathname === '/mcp') {
      const t = new SSEServerTransport('/messages', res);
      transports.set(t.sessionId, t);
      void new McpServer({ name: 'probe-sse', version: '1' }).connect(t);
      return;
    }
    if (req.method === 'POST' && u.pathname === '/messages') {
      posted++;
      const t = transports.get(u.searchParams.get('sessionId') ?? '');
      if (!t) {
        res.writeHead(404);
        res.end();
        return;
      }
      void t.handlePostMessage(req, res, JSON.parse(body));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  return { ...srv, posted: () => posted };
}

const server = (url: string, extra: Partial<ServerConfig> = {}): ServerConfig => ({
  name: 'demo',
  scope: 'user',
  file: '/x',
  transport: 'http',
  url,
  ...extra,
});

test('2xx to initialize: accepted; the bearer token and the static headers were sent; the session it opened was closed (DELETE)', async () => {
  const s = await mcpServer();
  try {
    const r = await probeServer(
      server(s.url, { headers: { 'X-Team': 'blue', authorization: 'Bearer not-this-one' } }),
      TOKEN,
    );
    assert.equal(r.verdict, 'accepted', JSON.stringify(r));
    const init = s.seen.find((x) => x.method === 'POST');
    assert.equal(init?.auth, `Bearer ${TOKEN}`);
    assert.equal(init?.team, 'blue');
    const del = s.seen.find((x) => x.method === 'DELETE');
    assert.ok(del, `a DELETE closed the session: ${JSON.stringify(s.seen.map((x) => x.method))}`);
    assert.ok(del.session, 'the DELETE named the session');
  } finally {
    await s.close();
  }
});

test('401 with a challenge: rejected, with the error, scope and description parsed', async () => {
  const s = await serve((_q, res) => {
    res.writeHead(401, {
      'WWW-Authenticate':
        'Bearer resource_metadata="http://x/.well-known/oauth-protected-resource", error="invalid_token", error_description="the grant was \\"revoked\\"", scope="mcp"',
    });
    res.end('{}');
  });
  try {
    const r = await probeServer(server(s.url), TOKEN);
    assert.deepEqual(
      { ...r, at: 0, ms: 0 },
      {
        verdict: 'rejected',
        status: 401,
        challenge: true,
        error: 'invalid_token',
        scope: 'mcp',
        description: 'the grant was "revoked"',
        at: 0,
        ms: 0,
      },
    );
    assert.equal(describeProbe(r), 'the server answered 401 invalid_token (scope "mcp"): the grant was "revoked"');
  } finally {
    await s.close();
  }
});

test('403 insufficient_scope: rejected with the scope asked for', async () => {
  const s = await serve((_q, res) => {
    res.writeHead(403, { 'WWW-Authenticate': 'Bearer error="insufficient_scope", scope="mcp:write"' });
    res.end();
  });
  try {
    const r = await probeServer(server(s.url), TOKEN);
    assert.equal(r.verdict, 'rejected');
    assert.ok(r.verdict === 'rejected' && r.error === 'insufficient_scope' && r.scope === 'mcp:write' && r.challenge);
  } finally {
    await s.close();
  }
});

test('403 without an OAuth challenge: rejected, said so (a proxy or firewall, not sign-in)', async () => {
  const s = await serve((_q, res) => {
    res.writeHead(403, { 'content-type': 'text/html' });
    res.end('<h1>Forbidden</h1>');
  });
  try {
    const r = await probeServer(server(s.url), TOKEN);
    assert.ok(r.verdict === 'rejected' && r.status === 403 && !r.challenge, JSON.stringify(r));
    assert.match(describeProbe(r), /403 without an OAuth challenge/);
  } finally {
    await s.close();
  }
});

test('a server that never answers: unreachable (timeout), within the bound', async () => {
  const s = await serve(() => {
    /* never answers */
  });
  try {
    const t = Date.now();
    const r = await probeServer(server(s.url), TOKEN, { timeoutMs: 400 });
    assert.ok(r.verdict === 'unreachable' && r.code === 'timeout', JSON.stringify(r));
    assert.ok(Date.now() - t < 3000, `bounded: ${Date.now() - t} ms`);
  } finally {
    await s.close();
  }
});

test('nothing listening: unreachable (network); a 500: inconclusive', async () => {
  const s = await serve((_q, res) => {
    res.writeHead(500);
    res.end('boom');
  });
  const gone = await serve(() => {});
  const goneUrl = gone.url;
  await gone.close();
  try {
    const r1 = await probeServer(server(goneUrl), TOKEN, { timeoutMs: 2000 });
    assert.ok(r1.verdict === 'unreachable' && r1.code === 'network', JSON.stringify(r1));
    const r2 = await probeServer(server(s.url), TOKEN, { timeoutMs: 2000 });
    assert.ok(r2.verdict === 'inconclusive' && r2.status === 500, JSON.stringify(r2));
  } finally {
    await s.close();
  }
});

test('never stdio; the token never reaches the log', async () => {
  await assert.rejects(
    probeServer({ name: 's', scope: 'user', file: '/x', transport: 'stdio', command: 'x' }, TOKEN),
    /never probed/,
  );
  const lines: string[] = [];
  const logger = new Logger((_l, line) => lines.push(line));
  const s = await serve((_q, res) => {
    res.writeHead(401, { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="bad token ${TOKEN}"` });
    res.end();
  });
  try {
    const r = await probeServer(server(s.url), TOKEN, { logger });
    logger.info(`verdict: ${describeProbe(r)}`);
    assert.ok(lines.length > 0);
    for (const l of lines) assert.ok(!l.includes(TOKEN), l);
  } finally {
    await s.close();
  }
});

test('parseBearerChallenge: several challenges, unquoted values, none', () => {
  assert.deepEqual(parseBearerChallenge('Basic realm="x", Bearer error=invalid_token, scope="a b"'), {
    error: 'invalid_token',
    scope: 'a b',
  });
  assert.deepEqual(parseBearerChallenge('Bearer realm="r", error="insufficient_scope" , Basic realm="y"'), {
    realm: 'r',
    error: 'insufficient_scope',
  });
  assert.deepEqual(parseBearerChallenge('Bearer'), {});
  assert.equal(parseBearerChallenge('Basic realm="x"'), undefined);
  assert.equal(parseBearerChallenge(null), undefined);
});

test('2xx to initialize answered as an event stream: accepted, promptly; the session closed (DELETE)', async () => {
  const s = await streamingMcpServer();
  try {
    const t = Date.now();
    const r = await probeServer(server(s.url), TOKEN, { timeoutMs: 5000 });
    assert.equal(r.verdict, 'accepted', JSON.stringify(r));
    assert.ok(Date.now() - t < 4000, `did not wait for the stream to end: ${Date.now() - t} ms`);
    const del = s.seen.find((x) => x.method === 'DELETE');
    assert.ok(del?.session, JSON.stringify(s.seen));
  } finally {
    await s.close();
  }
});

test('SSE transport: the stream, its endpoint event, initialize POSTed there → accepted; a token it rejects → rejected on the stream', async () => {
  const s = await sseMcpServer();
  try {
    const r = await probeServer(server(s.url, { transport: 'sse', headers: { 'X-Team': 'red' } }), TOKEN, {
      timeoutMs: 5000,
    });
    assert.equal(r.verdict, 'accepted', JSON.stringify(r));
    assert.equal(s.posted(), 1, 'initialize went to the endpoint the stream named');
    assert.ok(s.seen.every((x) => x.auth === `Bearer ${TOKEN}` && x.team === 'red'));
    const bad = await probeServer(server(s.url, { transport: 'sse' }), 'another-token-0123456789', { timeoutMs: 5000 });
    assert.ok(bad.verdict === 'rejected' && bad.status === 401 && bad.error === 'invalid_token', JSON.stringify(bad));
    assert.equal(s.posted(), 1, 'no POST after a rejected stream');
  } finally {
    await s.close();
  }
});

test('a redirect is not followed with the bearer token on it: inconclusive', async () => {
  const s = await serve((_q, res) => {
    res.writeHead(307, { location: 'http://127.0.0.1:9/elsewhere' });
    res.end();
  });
  try {
    const r = await probeServer(server(s.url), TOKEN, { timeoutMs: 2000 });
    assert.ok(r.verdict === 'inconclusive' && r.status === 307, JSON.stringify(r));
    assert.equal(s.seen.length, 1);
  } finally {
    await s.close();
  }
});

test('sseEndpoint: the first complete endpoint event, CRLF or LF, comments and other events skipped', () => {
  assert.equal(sseEndpoint(': hi\n\nevent: endpoint\ndata: /messages?sessionId=1\n\n'), '/messages?sessionId=1');
  assert.equal(sseEndpoint('event: endpoint\r\ndata: /m\r\n\r\n'), '/m');
  assert.equal(sseEndpoint('event: message\ndata: x\n\nevent: endpoint\ndata: /y'), undefined, 'not complete yet');
});
