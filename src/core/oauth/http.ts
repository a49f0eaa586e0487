import { McpAuthError } from '../errors';

/** A fetch we can inject in tests (pointed at a loopback server) and bound in time and size. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface HttpOptions {
  fetch?: FetchLike;
  /** per request, ms */
  timeoutMs?: number;
  /** largest body we read, bytes */
  maxBodyBytes?: number;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
export const MAX_BODY_BYTES = 1024 * 1024;

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Only https, or http to this machine's loopback (RFC 8252 §8.3). Anything else: insecure-endpoint. */
export function assertSecureEndpoint(url: string | URL, what: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new McpAuthError('bad-response', `${what} is not a URL`);
  }
  if (u.protocol === 'https:') return u;
  if (u.protocol === 'http:' && isLoopbackHost(u.hostname)) return u;
  throw new McpAuthError(
    'insecure-endpoint',
    `${what} ${u.origin} is not https (plain http is allowed only on loopback)`,
  );
}

/**
 * fetch with a timeout on the whole exchange (headers and body), no automatic redirects, and a body size
 * limit. Returns a Response whose body is already buffered, so oauth4webapi's processors can read it.
 */
/** Errors that prove the request never left this machine: nothing reached the server, nothing was spent. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_INVALID_URL',
]);

function neverSent(e: unknown): boolean {
  for (let c: unknown = e, i = 0; c && i < 5; c = (c as { cause?: unknown }).cause, i++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_SENT.has(code)) return true;
    const errs = (c as { errors?: unknown[] }).errors; // AggregateError (happy eyeballs): all attempts refused
    if (Array.isArray(errs) && errs.length && errs.every((x) => neverSent(x))) return true;
  }
  return false;
}

export function boundedFetch(opts: HttpOptions = {}): FetchLike {
  const once = boundedFetchOnce(opts);
  const maxHops = 5;
  // GET and HEAD follow up to 5 redirects (each hop checked for https/loopback); a loop is refused.
  return async (input, init = {}) => {
    const method = (init.method ?? 'GET').toUpperCase();
    let url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const seen = new Set<string>();
    for (let hop = 0; ; hop++) {
      const res = await once(hop === 0 ? input : url, init);
      if (
        (method !== 'GET' && method !== 'HEAD') ||
        res.status < 300 ||
        res.status > 399 ||
        !res.headers.get('location')
      )
        return res;
      seen.add(url);
      const next = new URL(res.headers.get('location')!, url).href;
      if (seen.has(next) || hop + 1 >= maxHops) {
        throw new McpAuthError(
          'redirect-loop',
          `too many redirects from ${new URL(url).origin} (${seen.has(next) ? 'loop' : `${maxHops} hops`})`,
        );
      }
      url = next;
    }
  };
}

function boundedFetchOnce(opts: HttpOptions): FetchLike {
  const base = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const max = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  return async (input, init = {}) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    try {
      assertSecureEndpoint(url, 'endpoint');
    } catch (e) {
      if (e instanceof McpAuthError) throw new McpAuthError(e.code, e.message, { ...e.details, notSent: true });
      throw e;
    }
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    const outer = init.signal;
    const onAbort = () => ac.abort();
    outer?.addEventListener('abort', onAbort);
    try {
      let res: Response;
      try {
        res = await base(input, { ...init, redirect: 'manual', signal: ac.signal });
      } catch (e) {
        if (ac.signal.aborted)
          throw new McpAuthError(
            'timeout',
            `no answer from ${new URL(url).origin} within ${Math.round(timeoutMs / 1000)} s`,
            {},
            { cause: e },
          );
        throw new McpAuthError(
          'network',
          `cannot reach ${new URL(url).origin} (${badPortText(e, url) ?? ((e as Error)?.cause ? String(((e as Error).cause as Error).message ?? '') : (e as Error).message)})`,
          neverSent(e) ? { notSent: true } : {},
          { cause: e },
        );
      }
      const declared = Number(res.headers.get('content-length') ?? '0');
      const status = res.status;
      if (declared > max) {
        await res.body?.cancel().catch(() => {});
        throw new McpAuthError('response-too-large', `${new URL(url).origin} sent ${declared} bytes (limit ${max})`, {
          status,
        });
      }
      const chunks: Uint8Array[] = [];
      let size = 0;
      try {
        if (res.body) {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            size += chunk.byteLength;
            if (size > max) {
              ac.abort();
              throw new McpAuthError('response-too-large', `${new URL(url).origin} sent more than ${max} bytes`, {
                status,
              });
            }
            chunks.push(chunk);
          }
        }
      } catch (e) {
        if (e instanceof McpAuthError) throw e;
        if (ac.signal.aborted)
          throw new McpAuthError(
            'timeout',
            `${new URL(url).origin} did not finish its answer within ${Math.round(timeoutMs / 1000)} s`,
            { status },
            { cause: e },
          );
        throw new McpAuthError(
          'network',
          `connection to ${new URL(url).origin} failed while reading`,
          { status },
          { cause: e },
        );
      }
      const body = Buffer.concat(chunks);
      const out = new Response(res.status === 204 || res.status === 304 ? null : body, {
        status: res.status,
        statusText: res.statusText,
        headers: res.headers,
      });
      Object.defineProperty(out, 'url', { value: res.url || url });
      return out;
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    }
  };
}

/**
 * Node's fetch (undici) refuses the Fetch standard's "bad ports" (9 discard, 25 smtp, 6000 X11, …) with a bare
 * `bad port`: say which port and why. Undefined for any other failure.
 */
export function badPortText(e: unknown, url: string): string | undefined {
  const msg = (x: unknown) => (typeof x === 'object' && x !== null ? (x as { message?: unknown }).message : undefined);
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++, cur = (cur as { cause?: unknown }).cause) {
    if (msg(cur) === 'bad port') {
      let port = '';
      try {
        const u = new URL(url);
        port = u.port || (u.protocol === 'https:' ? '443' : '80');
      } catch {
        /* keep it unnamed */
      }
      return `port ${port} is on the Fetch standard's list of blocked ports, which Node's fetch refuses to connect to; serve the MCP server on another port`;
    }
  }
  return undefined;
}

/** Issuers compare exactly, except for the trailing slash an origin-only URL gets when parsed. */
export function sameIssuer(a: string, b: string): boolean {
  return a === b || a.replace(/\/$/, '') === b.replace(/\/$/, '');
}
