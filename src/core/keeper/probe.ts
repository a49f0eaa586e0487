import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { ServerConfig } from '../config/types';
import { McpAuthError } from '../errors';
import { nullLogger, rememberSecret, type Logger } from '../log';
import { badPortText, type FetchLike } from '../oauth/http';

/**
 * One authenticated probe of an MCP server (design.md "Auto-unblock" (a)): MCP `initialize` over the server's
 * own transport (streamable HTTP, or SSE) with `Authorization: Bearer <stored access token>` and the
 * configured static headers. What the server answers decides:
 *   - 2xx to the initialize request → `accepted` (the session it opened is closed: DELETE, transport close);
 *   - 401/403 → `rejected`, with the `WWW-Authenticate` challenge's `error`, `scope` and description, or no
 *     challenge at all ("403 without an OAuth challenge": a proxy or firewall, not sign-in);
 *   - no answer in time, refused connection → `unreachable`;
 *   - any other answer (404, 5xx, not MCP) → `inconclusive`.
 * Only `accepted` lets a needs-auth entry be removed. Never stdio; bounded in time; the token is never logged.
 */
export type ProbeResult =
  | { verdict: 'accepted'; status: number; at: number; ms: number }
  | {
      verdict: 'rejected';
      status: number;
      challenge: boolean;
      error?: string;
      scope?: string;
      description?: string;
      at: number;
      ms: number;
    }
  | { verdict: 'unreachable'; code: 'timeout' | 'network'; message: string; at: number; ms: number }
  | { verdict: 'inconclusive'; status?: number; message: string; at: number; ms: number };

export interface ProbeOptions {
  fetch?: FetchLike;
  /** whole probe, ms (default 10 s) */
  timeoutMs?: number;
  now?: () => number;
  logger?: Logger;
}

export const PROBE_TIMEOUT_MS = 10_000;

/** RFC 9110 auth-params of the first `Bearer` challenge in a WWW-Authenticate value; undefined when none. */
export function parseBearerChallenge(header: string | null | undefined): Record<string, string> | undefined {
  if (!header) return undefined;
  const m = /(?:^|,)\s*Bearer(?:\s+|$)/i.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(,|$)/y;
  re.lastIndex = m.index + m[0].length;
  for (;;) {
    const p = re.exec(header);
    if (!p) break;
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
    // end of the header; else the next param, or (no `name=` next) the next challenge, where the sticky match stops
    if (p[4] === '') break;
  }
  return params;
}

interface Seen {
  status: number;
  method: string;
  challenge: string | null;
}

export async function probeServer(
  server: ServerConfig,
  /** undefined: an unauthenticated probe (does a server nobody has contacted yet ask for a sign-in?) */
  accessToken: string | undefined,
  opts: ProbeOptions = {},
): Promise<ProbeResult> {
  if ((server.transport !== 'http' && server.transport !== 'sse') || !server.url) {
    throw new McpAuthError('not-remote', `${server.name} is not a remote server: it is never probed`);
  }
  if (accessToken !== undefined) rememberSecret(accessToken);
  const log = (opts.logger ?? nullLogger).child(`probe ${server.name}`);
  const now = opts.now ?? Date.now;
  const t0 = now();
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  const timeoutMs = opts.timeoutMs ?? PROBE_TIMEOUT_MS;
  const abort = new AbortController();
  const baseFetch: FetchLike = opts.fetch ?? ((i, init) => fetch(i, init));
  const seen: Seen[] = [];
  // every request of the transport goes through here: our deadline, and what each answer said
  const recording: FetchLike = async (input, init) => {
    const signal = init?.signal ? AbortSignal.any([init.signal, abort.signal]) : abort.signal;
    const res = await baseFetch(input, { ...init, signal });
    seen.push({
      status: res.status,
      method: (init?.method ?? 'GET').toUpperCase(),
      challenge: res.headers.get('www-authenticate'),
    });
    return res;
  };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(server.headers ?? {})) if (k.toLowerCase() !== 'authorization') headers[k] = v;
  if (accessToken !== undefined) headers.Authorization = `Bearer ${accessToken}`;
  const url = new URL(server.url);
  // the MCP SDK client is loaded on the first probe, not when the CLI or the extension starts
  const { Client, SSEClientTransport, StreamableHTTPClientTransport } = await import('../mcpSdk.js');
  const transport: Transport =
    server.transport === 'sse'
      ? new SSEClientTransport(url, { requestInit: { headers }, fetch: recording })
      : new StreamableHTTPClientTransport(url, {
          requestInit: { headers },
          fetch: recording,
          reconnectionOptions: {
            maxRetries: 0,
            initialReconnectionDelay: 1000,
            maxReconnectionDelay: 1000,
            reconnectionDelayGrowFactor: 1,
          },
        });
  const client = new Client({ name: 'mcp-auth-probe', version: '1' }, { capabilities: {} });
  client.onerror = () => {
    /* reported through the verdict */
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      abort.abort();
      resolve('timeout');
    }, timeoutMs);
  });
  let failure: unknown;
  let outcome: 'connected' | 'failed' | 'timeout';
  try {
    outcome = await Promise.race([
      client.connect(transport, { timeout: timeoutMs }).then(
        () => 'connected' as const,
        (e) => {
          failure = e;
          return 'failed' as const;
        },
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
  // close whatever the probe opened: the session (DELETE) and the transport; never longer than 2 s
  const closing = (async () => {
    if (outcome === 'connected' && transport instanceof StreamableHTTPClientTransport && transport.sessionId) {
      await transport.terminateSession().catch(() => {});
    }
    await client.close().catch(() => {});
  })();
  await Promise.race([closing, new Promise((r) => setTimeout(r, 2000).unref())]);
  abort.abort();

  const rejected = seen.find((s) => s.status === 401 || s.status === 403);
  let result: ProbeResult;
  if (rejected) {
    const c = parseBearerChallenge(rejected.challenge);
    result = {
      verdict: 'rejected',
      status: rejected.status,
      challenge: c !== undefined,
      error: c?.error,
      scope: c?.scope,
      description: c?.error_description,
      at: t0,
      ms: ms(),
    };
  } else if (seen.some((s) => s.method === 'POST' && s.status >= 200 && s.status < 300) || outcome === 'connected') {
    const ok = seen.find((s) => s.status >= 200 && s.status < 300);
    result = { verdict: 'accepted', status: ok?.status ?? 200, at: t0, ms: ms() };
  } else if (outcome === 'timeout') {
    result = {
      verdict: 'unreachable',
      code: 'timeout',
      message: `no answer within ${Math.round(timeoutMs / 1000)} s`,
      at: t0,
      ms: ms(),
    };
  } else if (seen.length === 0) {
    result = { verdict: 'unreachable', code: 'network', message: describe(failure, server.url), at: t0, ms: ms() };
  } else {
    const last = seen[seen.length - 1];
    result = {
      verdict: 'inconclusive',
      status: last.status,
      message: `the server answered HTTP ${last.status}${failure ? `: ${describe(failure)}` : ''}`,
      at: t0,
      ms: ms(),
    };
  }
  log.debug(`verdict ${describeProbe(result)}`);
  return result;
}

function describe(e: unknown, url?: string): string {
  if (!e) return 'no answer';
  const bad = url ? badPortText(e, url) : undefined;
  if (bad) return bad;
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  return `${err.message ?? String(e)}${cause ? ` (${cause})` : ''}`.slice(0, 300);
}

/** Words for a verdict (for logs and the CLI): "accepted (HTTP 200)", "401 invalid_token", "403 without an OAuth challenge". */
export function describeProbe(r: ProbeResult): string {
  switch (r.verdict) {
    case 'accepted':
      return `the server accepted the stored token (HTTP ${r.status})`;
    case 'rejected':
      if (!r.challenge) return `${r.status} without an OAuth challenge (a proxy or firewall, not sign-in)`;
      return `the server answered ${r.status}${r.error ? ` ${r.error}` : ''}${r.scope ? ` (scope "${r.scope}")` : ''}${r.description ? `: ${r.description}` : ''}`;
    case 'unreachable':
      return `the server is unreachable (${r.code}: ${r.message})`;
    case 'inconclusive':
      return `the probe was inconclusive (${r.message})`;
  }
}
