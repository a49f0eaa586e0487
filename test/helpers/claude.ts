import { spawn } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLAUDE_BIN } from './home';

export interface ClaudeRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the real Claude Code CLI (never with the machine's HOME: env must come from cleanEnv). */
export function runClaude(
  args: string[],
  opts: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs?: number },
): Promise<ClaudeRun> {
  if (!opts.env.HOME || !opts.env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC)
    throw new Error('runClaude needs a throwaway HOME');
  return new Promise((resolve) => {
    const child = spawn(CLAUDE_BIN, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/**
 * A loopback MCP endpoint that always answers 401 with an RFC 9728 challenge, and the minimum of AS metadata
 * and dynamic registration for Claude Code to conclude "needs authentication".
 */
export async function start401Server(): Promise<{ base: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const srv = http.createServer((req, res) => {
    const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    const url = new URL(req.url ?? '/', base);
    requests.push(`${req.method} ${url.pathname}`);
    const json = (code: number, o: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(o));
    };
    if (url.pathname.startsWith('/.well-known/oauth-protected-resource')) {
      return json(200, {
        resource: base + url.pathname.replace('/.well-known/oauth-protected-resource', ''),
        authorization_servers: [base],
      });
    }
    if (url.pathname.startsWith('/.well-known/oauth-authorization-server')) {
      return json(200, {
        issuer: base,
        authorization_endpoint: `${base}/authorize`,
        token_endpoint: `${base}/token`,
        registration_endpoint: `${base}/register`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        grant_types_supported: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_methods_supported: ['none'],
      });
    }
    if (url.pathname === '/register') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => json(201, { ...JSON.parse(body || '{}'), client_id: `dcr-${requests.length}` }));
      return undefined;
    }
    req.resume();
    res.writeHead(401, {
      'WWW-Authenticate': `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource${url.pathname}"`,
      'content-type': 'application/json',
    });
    res.end('{"error":"invalid_token"}');
    return undefined;
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return {
    base,
    requests,
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

/**
 * A loopback MCP endpoint without auth (streamable HTTP, stateless) offering one tool, `whoami`, that answers
 * `label`. `requests` counts every HTTP request it saw, `toolCalls` the calls of `whoami`.
 */
export async function startPlainMcp(
  label: string,
): Promise<{ url: string; requests: string[]; toolCalls: number; close(): Promise<void> }> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { McpServer } =
    require('@modelcontextprotocol/sdk/server/mcp.js') as typeof import('@modelcontextprotocol/sdk/server/mcp.js');
  const { StreamableHTTPServerTransport } =
    require('@modelcontextprotocol/sdk/server/streamableHttp.js') as typeof import('@modelcontextprotocol/sdk/server/streamableHttp.js');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const state = { requests: [] as string[], toolCalls: 0 };
  const srv = http.createServer((req, res) => {
    state.requests.push(`${req.method} ${req.url}`);
    if (!(req.url ?? '').startsWith('/mcp')) {
      req.resume();
      res.writeHead(404);
      res.end();
      return;
    }
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      void (async () => {
        const mcp = new McpServer({ name: `plain-${label}`, version: '1.0.0' });
        mcp.registerTool('whoami', { description: 'Which endpoint answered' }, async () => {
          state.toolCalls++;
          return { content: [{ type: 'text' as const, text: `ENDPOINT-${label}` }] };
        });
        const transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: undefined,
          enableJsonResponse: true,
        });
        res.on('close', () => {
          void transport.close();
          void mcp.close();
        });
        await mcp.connect(transport);
        await transport.handleRequest(req, res, raw ? JSON.parse(raw) : undefined);
      })().catch((e) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(e));
      });
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/mcp`;
  return {
    url,
    get requests() {
      return state.requests;
    },
    get toolCalls() {
      return state.toolCalls;
    },
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

/**
 * A stand-in for the Anthropic Messages API (see claude-session-recipe.md): a scripted model that calls the first
 * offered `mcp__…` tool, then answers with the tool's result; `NO-MCP-TOOL` when none is offered. `toolsSeen`
 * holds the `tools[].name` of every streamed request.
 */
export async function startFakeMessagesApi(): Promise<{ base: string; toolsSeen: string[][]; close(): Promise<void> }> {
  const toolsSeen: string[][] = [];
  const srv = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method !== 'POST' || url.pathname !== '/v1/messages') {
        res.writeHead(url.pathname.endsWith('count_tokens') ? 200 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ input_tokens: 1 }));
        return;
      }
      let body: { stream?: boolean; tools?: { name: string }[]; messages?: { content: unknown }[]; model?: string } =
        {};
      try {
        body = JSON.parse(raw);
      } catch {
        /* keep empty */
      }
      const tools = (body.tools ?? []).map((t) => t.name);
      const last = body.messages?.[body.messages.length - 1];
      const parts = Array.isArray(last?.content) ? (last.content as { type: string; content?: unknown }[]) : [];
      const result = parts.find((p) => p.type === 'tool_result');
      const mcpTool = tools.find((n) => n.startsWith('mcp__'));
      const usage = { input_tokens: 1, output_tokens: 1 };
      const model = body.model ?? 'claude-test';
      let block: Record<string, unknown>;
      if (result) {
        const text = typeof result.content === 'string' ? result.content : JSON.stringify(result.content);
        block = { type: 'text', text: `TOOL-RESULT ${text}` };
      } else if (mcpTool && body.stream) {
        block = { type: 'tool_use', id: `toolu_${toolsSeen.length}`, name: mcpTool, input: {} };
      } else {
        block = { type: 'text', text: 'NO-MCP-TOOL' };
      }
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'msg_plain',
            type: 'message',
            role: 'assistant',
            model,
            content: [block.type === 'tool_use' ? { type: 'text', text: 'ok' } : block],
            stop_reason: 'end_turn',
            stop_sequence: null,
            usage,
          }),
        );
        return;
      }
      toolsSeen.push(tools);
      const ev = (type: string, data: Record<string, unknown>) =>
        res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      ev('message_start', {
        message: {
          id: `msg_${toolsSeen.length}`,
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage,
        },
      });
      if (block.type === 'tool_use') {
        ev('content_block_start', { index: 0, content_block: block });
        ev('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '{}' } });
      } else {
        ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
        ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: block.text } });
      }
      ev('content_block_stop', { index: 0 });
      ev('message_delta', {
        delta: { stop_reason: block.type === 'tool_use' ? 'tool_use' : 'end_turn', stop_sequence: null },
        usage,
      });
      ev('message_stop', {});
      res.end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return {
    base,
    toolsSeen,
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

/**
 * A real `claude -p` session (claude-session-recipe.md) against the stand-in Messages API: asks it to call the
 * whoami tool, and returns the run with the `mcp__…` tools the session was offered.
 */
export async function claudeSession(
  api: { base: string; toolsSeen: string[][] },
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<ClaudeRun & { offered: string[] }> {
  const n = api.toolsSeen.length;
  const s = await runClaude(['-p', 'call the whoami tool', '--allowedTools', 'mcp__demo__whoami'], {
    env: {
      ...env,
      ANTHROPIC_BASE_URL: api.base,
      ANTHROPIC_API_KEY: 'sk-ant-test-key',
      MCP_CONNECTION_NONBLOCKING: 'false',
      ENABLE_TOOL_SEARCH: 'false',
    },
    cwd,
  });
  const offered = [
    ...new Set(
      api.toolsSeen
        .slice(n)
        .flat()
        .filter((x) => x.startsWith('mcp__')),
    ),
  ];
  return { ...s, offered };
}

/**
 * A real long-lived SDK-style session: `claude -p --input-format stream-json --output-format stream-json`
 * (claude-session-recipe.md, claude-code-format.md "Running sessions") against the stand-in Messages API.
 * `control(request)` sends a control request and resolves with its control_response; `prompt(text)` sends a user
 * turn and resolves with the `result` message; `end()` closes stdin and waits for the exit.
 */
export interface StreamSession {
  pid: number;
  control(request: Record<string, unknown>): Promise<{ subtype: string; error?: string; response?: unknown }>;
  prompt(text: string): Promise<Record<string, unknown>>;
  end(): Promise<number>;
  stderr(): string;
}

export function streamSession(
  api: { base: string },
  env: NodeJS.ProcessEnv,
  cwd: string,
  allowedTools = 'mcp__demo__whoami',
): StreamSession {
  if (!env.HOME || !env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC)
    throw new Error('streamSession needs a throwaway HOME');
  const child = spawn(
    CLAUDE_BIN,
    [
      '-p',
      '--input-format',
      'stream-json',
      '--output-format',
      'stream-json',
      '--verbose',
      '--allowedTools',
      allowedTools,
    ],
    {
      env: {
        ...env,
        ANTHROPIC_BASE_URL: api.base,
        ANTHROPIC_API_KEY: 'sk-ant-test-key',
        MCP_CONNECTION_NONBLOCKING: 'false',
        ENABLE_TOOL_SEARCH: 'false',
      },
      cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const kill = setTimeout(() => child.kill('SIGKILL'), 120_000);
  let buf = '';
  let err = '';
  const waiting = new Map<string, (r: { subtype: string; error?: string; response?: unknown }) => void>();
  let onResult: ((m: Record<string, unknown>) => void) | undefined;
  child.stderr.on('data', (d) => (err += d));
  child.stdout.on('data', (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(l);
      } catch {
        continue;
      }
      if (m.type === 'control_response') {
        const r = m.response as { subtype: string; request_id: string; error?: string; response?: unknown };
        waiting.get(r.request_id)?.(r);
        waiting.delete(r.request_id);
      } else if (m.type === 'result') onResult?.(m);
    }
  });
  const exited = new Promise<number>((r) =>
    child.on('close', (code, sig) => {
      clearTimeout(kill);
      r(code ?? (sig ? 128 : -1));
    }),
  );
  let n = 0;
  return {
    pid: child.pid!,
    control: (request) =>
      new Promise((resolve) => {
        const id = `r${++n}`;
        waiting.set(id, resolve);
        child.stdin.write(JSON.stringify({ type: 'control_request', request_id: id, request }) + '\n');
      }),
    prompt: (text) =>
      new Promise((resolve) => {
        onResult = resolve;
        child.stdin.write(JSON.stringify({ type: 'user', message: { role: 'user', content: text } }) + '\n');
      }),
    end: () => {
      child.stdin.end();
      return exited;
    },
    stderr: () => err,
  };
}
