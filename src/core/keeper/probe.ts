import * as http from 'node:http';
import * as https from 'node:https';
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

/** The MCP `initialize` request the probe sends: the first request of any MCP session. */
const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcp-auth-probe', version: '1' } },
});

/** How much of an SSE stream the probe reads while looking for the `endpoint` event. */
const SSE_READ_MAX = 64 * 1024;

type Answer = { status: number; challenge: string | null } | { failure: 'timeout' | 'network'; error: unknown };

/** What the probe needs of an HTTP exchange. */
interface ProbeResponse {
  status: number;
  header(name: string): string | null;
  /** the body, chunk by chunk */
  chunks(): AsyncIterable<Uint8Array>;
  /** drop the rest of the body and the connection's stream */
  close(): void;
}
type ProbeRequest = (
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
) => Promise<ProbeResponse>;

/**
 * The default: node:http / node:https. Not the global fetch: in Node 20 its first use loads undici, about 15-20
 * MB resident for the life of `watch` (issue 22). No redirect is followed.
 */
const nodeRequest: ProbeRequest = (url, init) =>
  new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, { method: init.method, headers: init.headers, signal: init.signal }, (res) => {
      resolve({
        status: res.statusCode ?? 0,
        header: (name) => {
          const v = res.headers[name.toLowerCase()];
          return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
        },
        chunks: () => res,
        close: () => res.destroy(),
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });

/** An injected fetch (tests, hosts with their own), seen through the same narrow interface. */
function fetchRequest(f: FetchLike): ProbeRequest {
  return async (url, init) => {
    const res = await f(url, { ...init, redirect: 'manual' });
    return {
      status: res.status,
      header: (name) => res.headers.get(name),
      chunks: () => (res.body ?? []) as unknown as AsyncIterable<Uint8Array>,
      close: () => void res.body?.cancel().catch(() => {}),
    };
  };
}

/**
 * The probe speaks just enough MCP by hand (no SDK, no schema library: issue 22, `watch` went from 48 to 86 MB
 * after probing 10 servers with the SDK client): streamable HTTP is one POST of `initialize`; the older SSE
 * transport is a GET of the event stream, its `endpoint` event, and the same POST there. Redirects are not
 * followed (a bearer token is on the request).
 */
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
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const send: ProbeRequest = opts.fetch ? fetchRequest(opts.fetch) : nodeRequest;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(server.headers ?? {})) if (k.toLowerCase() !== 'authorization') headers[k] = v;
  if (accessToken !== undefined) headers.Authorization = `Bearer ${accessToken}`;
  const request = (url: URL, init: { method: string; headers: Record<string, string>; body?: string }) =>
    send(url, { ...init, signal: abort.signal });
  const failed = (e: unknown): Answer => ({ failure: abort.signal.aborted ? 'timeout' : 'network', error: e });
  const post = async (url: URL): Promise<{ answer: Answer; res?: ProbeResponse }> => {
    try {
      const res = await request(url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: INITIALIZE,
      });
      return { answer: { status: res.status, challenge: res.header('www-authenticate') }, res };
    } catch (e) {
      return { answer: failed(e) };
    }
  };

  let answer: Answer;
  let inconclusive: string | undefined;
  const toClose: Promise<unknown>[] = [];
  try {
    const url = new URL(server.url);
    if (server.transport === 'http') {
      const { answer: a, res } = await post(url);
      answer = a;
      // an answer to initialize may be a JSON body or an event stream; we need neither
      res?.close();
      const session = res?.header('mcp-session-id');
      if (res && res.status >= 200 && res.status < 300 && session) {
        // close the session it opened
        toClose.push(
          send(url, {
            method: 'DELETE',
            headers: { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' },
            signal: AbortSignal.timeout(2000),
          }).then(
            (r) => r.close(),
            () => {},
          ),
        );
      }
    } else {
      answer = await probeSse(url, headers, request, post, failed, (m) => (inconclusive = m));
    }
  } finally {
    clearTimeout(timer);
  }
  // whatever the probe opened is closed before it returns; never longer than 2 s
  await Promise.race([Promise.allSettled(toClose), new Promise((r) => setTimeout(r, 2000).unref())]);
  abort.abort();

  let result: ProbeResult;
  if ('failure' in answer) {
    result =
      answer.failure === 'timeout'
        ? {
            verdict: 'unreachable',
            code: 'timeout',
            message: `no answer within ${Math.round(timeoutMs / 1000)} s`,
            at: t0,
            ms: ms(),
          }
        : { verdict: 'unreachable', code: 'network', message: describe(answer.error, server.url), at: t0, ms: ms() };
  } else if (answer.status === 401 || answer.status === 403) {
    const c = parseBearerChallenge(answer.challenge);
    result = {
      verdict: 'rejected',
      status: answer.status,
      challenge: c !== undefined,
      error: c?.error,
      scope: c?.scope,
      description: c?.error_description,
      at: t0,
      ms: ms(),
    };
  } else if (answer.status >= 200 && answer.status < 300 && !inconclusive) {
    result = { verdict: 'accepted', status: answer.status, at: t0, ms: ms() };
  } else {
    result = {
      verdict: 'inconclusive',
      status: answer.status,
      message: `the server answered HTTP ${answer.status}${inconclusive ? `: ${inconclusive}` : ''}`,
      at: t0,
      ms: ms(),
    };
  }
  log.debug(`verdict ${describeProbe(result)}`);
  return result;
}

/**
 * The SSE transport: GET the event stream (a 401/403 here is the answer), read up to its `endpoint` event,
 * POST initialize to that endpoint (same origin only, as the MCP SDK requires), then drop the stream.
 */
async function probeSse(
  url: URL,
  headers: Record<string, string>,
  request: (url: URL, init: { method: string; headers: Record<string, string> }) => Promise<ProbeResponse>,
  post: (url: URL) => Promise<{ answer: Answer; res?: ProbeResponse }>,
  failed: (e: unknown) => Answer,
  setInconclusive: (why: string) => void,
): Promise<Answer> {
  let res: ProbeResponse;
  try {
    res = await request(url, { method: 'GET', headers: { ...headers, accept: 'text/event-stream' } });
  } catch (e) {
    return failed(e);
  }
  const stream: Answer = { status: res.status, challenge: res.header('www-authenticate') };
  try {
    if (res.status < 200 || res.status >= 300) return stream;
    let text = '';
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.chunks()) {
        text += decoder.decode(chunk, { stream: true });
        const endpoint = sseEndpoint(text);
        if (endpoint !== undefined) {
          let target: URL;
          try {
            target = new URL(endpoint, url);
          } catch {
            setInconclusive('the endpoint event is not a URL');
            return stream;
          }
          if (target.origin !== url.origin) {
            setInconclusive('the endpoint event names another origin');
            return stream;
          }
          const { answer, res: r } = await post(target);
          r?.close();
          return answer;
        }
        if (text.length > SSE_READ_MAX) {
          setInconclusive('no endpoint event in the first 64 KB of the event stream');
          return stream;
        }
      }
    } catch (e) {
      return failed(e);
    }
    setInconclusive('the event stream ended without an endpoint event');
    return stream;
  } finally {
    res.close();
  }
}

/** The data of the first complete `endpoint` event in SSE text, if any. */
export function sseEndpoint(text: string): string | undefined {
  for (const block of text.replace(/\r\n?/g, '\n').split('\n\n').slice(0, -1)) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      const m = /^([^:]*)(?::\s?(.*))?$/.exec(line);
      if (!m || m[1] === '') continue;
      if (m[1] === 'event') event = m[2] ?? '';
      else if (m[1] === 'data') data.push(m[2] ?? '');
    }
    if (event === 'endpoint' && data.length) return data.join('\n');
  }
  return undefined;
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
