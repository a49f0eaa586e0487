/**
 * claude.ai connectors with a real Claude Code, offline (claudeai-connectors-recipe.md): an HTTPS proxy of ours on
 * 127.0.0.1 (its own CA, trusted through NODE_EXTRA_CA_CERTS, reached through HTTPS_PROXY) that answers for
 * api.anthropic.com and mcp-proxy.anthropic.com: the connector list, the connector itself (a real MCP SDK server, or
 * a 401 "the connector's sign-in on claude.ai lapsed"), and the Messages API (forwarded to the scripted stand-in of
 * claude.ts). Every token is fake; nothing leaves the machine.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { runClaude, startFakeMessagesApi, type ClaudeRun } from './claude';

export const CONNECTOR_ID = 'mcpsrv_01Demo';
export const CONNECTOR_NAME = 'claude.ai Demo';
export const CONNECTOR_TOOL = 'mcp__claude_ai_Demo__whoami';
export const ORG_UUID = '22222222-2222-4222-8222-222222222222';

/** A CA and a leaf for api.anthropic.com and mcp-proxy.anthropic.com, made with openssl in `dir`. */
function makeCerts(dir: string): { ca: string; key: Buffer; cert: Buffer } {
  const f = (n: string) => path.join(dir, n);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=test-ca',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '2',
  ]);
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=api.anthropic.com',
    '-keyout',
    f('leaf.key'),
    '-out',
    f('leaf.csr'),
  ]);
  fs.writeFileSync(
    f('leaf.ext'),
    'subjectAltName=DNS:api.anthropic.com,DNS:mcp-proxy.anthropic.com\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  run([
    'x509',
    '-req',
    '-in',
    f('leaf.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('leaf.pem'),
    '-days',
    '2',
    '-extfile',
    f('leaf.ext'),
  ]);
  return { ca: f('ca.pem'), key: fs.readFileSync(f('leaf.key')), cert: fs.readFileSync(f('leaf.pem')) };
}

export interface ClaudeAiStandIn {
  /** env for a real `claude` that reaches this stand-in (add it to a cleanEnv) */
  env: NodeJS.ProcessEnv;
  /** `ok`: the connector answers MCP; `needs-auth`: 401 with X-Mcp-Error-Code (its sign-in on claude.ai lapsed) */
  mode: 'ok' | 'needs-auth';
  /** requests to the connector endpoint (POST /v1/mcp/<id>) */
  connectorRequests: number;
  /** the Authorization headers the stand-in saw (to prove nobody but Claude Code sent the claude.ai token) */
  authorizations: string[];
  toolsSeen: string[][];
  close(): Promise<void>;
}

export async function startClaudeAiStandIn(dir: string): Promise<ClaudeAiStandIn> {
  fs.mkdirSync(dir, { recursive: true });
  const certs = makeCerts(dir);
  const api = await startFakeMessagesApi();
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { McpServer } =
    require('@modelcontextprotocol/sdk/server/mcp.js') as typeof import('@modelcontextprotocol/sdk/server/mcp.js');
  const { StreamableHTTPServerTransport } =
    require('@modelcontextprotocol/sdk/server/streamableHttp.js') as typeof import('@modelcontextprotocol/sdk/server/streamableHttp.js');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const state = {
    mode: 'ok' as 'ok' | 'needs-auth',
    connectorRequests: 0,
    authorizations: [] as string[],
  };
  const json = (res: http.ServerResponse, code: number, o: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(code, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(o));
  };
  const tlsServer = https.createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
    const url = new URL(req.url ?? '/', `https://${req.headers.host ?? 'x'}`);
    if (req.headers.authorization) state.authorizations.push(String(req.headers.authorization));
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      if (url.pathname === '/v1/mcp_servers') {
        return json(res, 200, {
          data: [
            {
              id: CONNECTOR_ID,
              display_name: 'Demo',
              url: 'https://demo.example/mcp',
              created_at: '2025-01-01T00:00:00Z',
              tools: [],
            },
          ],
          next_page: null,
        });
      }
      if (url.pathname === `/v1/mcp/${CONNECTOR_ID}`) {
        state.connectorRequests++;
        if (state.mode === 'needs-auth')
          return json(res, 401, { error: 'unauthorized' }, { 'X-Mcp-Error-Code': 'mcp_oauth_token_refresh_failed' });
        let body: unknown;
        try {
          body = raw ? JSON.parse(raw) : undefined;
        } catch {
          return json(res, 400, {});
        }
        const msg = body as { method?: string; id?: unknown } | undefined;
        if (msg?.method === 'server/discover')
          return json(res, 200, { jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'Method not found' } });
        void (async () => {
          const mcp = new McpServer({ name: 'connector-demo', version: '1.0.0' });
          mcp.registerTool('whoami', { description: 'Which endpoint answered' }, async () => ({
            content: [{ type: 'text' as const, text: 'ENDPOINT-CONNECTOR' }],
          }));
          const transport = new StreamableHTTPServerTransport({
            sessionIdGenerator: undefined,
            enableJsonResponse: true,
          });
          res.on('close', () => {
            void transport.close();
            void mcp.close();
          });
          await mcp.connect(transport);
          await transport.handleRequest(req, res, body);
        })().catch((e) => {
          if (!res.headersSent) res.writeHead(500);
          res.end(String(e));
        });
        return undefined;
      }
      if (url.pathname.startsWith('/v1/messages')) {
        // forward to the scripted model (claude.ts), which records the tools each request offered
        const fwd = http.request(
          `${api.base}${url.pathname}${url.search}`,
          { method: req.method, headers: { 'content-type': 'application/json' } },
          (r) => {
            res.writeHead(r.statusCode ?? 502, r.headers);
            r.pipe(res);
          },
        );
        fwd.on('error', () => json(res, 502, {}));
        fwd.end(raw);
        return undefined;
      }
      return json(res, 404, { type: 'error', error: { type: 'not_found_error', message: 'not here' } });
    });
  });
  const proxy = http.createServer((_req, res) => json(res, 404, {}));
  proxy.on('connect', (req, socket, head) => {
    const host = String(req.url ?? '').split(':')[0];
    if (host !== 'api.anthropic.com' && host !== 'mcp-proxy.anthropic.com') {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) socket.unshift(head);
    tlsServer.emit('connection', socket);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const port = (proxy.address() as AddressInfo).port;
  return {
    env: {
      HTTPS_PROXY: `http://127.0.0.1:${port}`,
      https_proxy: `http://127.0.0.1:${port}`,
      NO_PROXY: '',
      no_proxy: '',
      NODE_EXTRA_CA_CERTS: certs.ca,
      MCP_CONNECTION_NONBLOCKING: 'false',
      ENABLE_TOOL_SEARCH: 'false',
    },
    get mode() {
      return state.mode;
    },
    set mode(m) {
      state.mode = m;
    },
    get connectorRequests() {
      return state.connectorRequests;
    },
    get authorizations() {
      return state.authorizations;
    },
    toolsSeen: api.toolsSeen,
    close: async () => {
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
      tlsServer.closeAllConnections();
      await new Promise<void>((r) => tlsServer.close(() => r()));
      await api.close();
    },
  };
}

/** The fake claude.ai login and account a connector session needs (recipe step 3), in a throwaway HOME. */
export function writeClaudeAiLogin(home: string, claudeDir: string): string {
  const creds = {
    claudeAiOauth: {
      accessToken: 'sk-ant-oat01-FAKE-test-only',
      refreshToken: 'sk-ant-ort01-FAKE-test-only',
      expiresAt: Date.now() + 30 * 86_400_000,
      scopes: ['user:inference', 'user:profile', 'user:sessions:claude_code', 'user:mcp_servers'],
      subscriptionType: 'max',
    },
  };
  const file = path.join(claudeDir, '.credentials.json');
  fs.writeFileSync(file, JSON.stringify(creds), { mode: 0o600 });
  fs.writeFileSync(
    path.join(home, '.claude.json'),
    JSON.stringify({
      hasCompletedOnboarding: true,
      oauthAccount: {
        accountUuid: '11111111-1111-4111-8111-111111111111',
        organizationUuid: ORG_UUID,
        emailAddress: 't@example.com',
      },
    }),
  );
  return file;
}

/** A real `claude -p` session asked to call the connector's tool; returns the run and the mcp__ tools it was offered. */
export async function connectorSession(
  s: ClaudeAiStandIn,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<ClaudeRun & { offered: string[] }> {
  const n = s.toolsSeen.length;
  const r = await runClaude(['-p', 'call the whoami tool', '--allowedTools', CONNECTOR_TOOL], {
    env: { ...env, ...s.env },
    cwd,
  });
  const offered = [
    ...new Set(
      s.toolsSeen
        .slice(n)
        .flat()
        .filter((x) => x.startsWith('mcp__')),
    ),
  ];
  return { ...r, offered };
}
