import { McpAuthError, isMcpAuthError } from '../errors';
import type { DiscoveryState, TokenEntry } from '../store/types';
import type { ServerConfig } from '../config/types';
import {
  discoverAuthorizationServer,
  fetchMetadataUrl,
  requestOptions,
  toMcpAuthError,
  type AuthorizationServer,
} from './client';
import { assertSecureEndpoint, sameIssuer, type FetchLike } from './http';
import { cachedDiscovery, type MetadataCache } from './metadataCache';

export interface ResourceChallenge {
  resourceMetadataUrl?: string;
  scope?: string;
  status: number;
}

/** Ask the MCP server, unauthenticated, what it wants (RFC 9728 §5.1 challenge). */
export async function probeResource(
  serverUrl: string,
  http: FetchLike,
  headers: Record<string, string> = {},
): Promise<ResourceChallenge> {
  const url = assertSecureEndpoint(serverUrl, 'MCP server');
  let res: Response;
  try {
    res = await http(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcp-auth', version: '0' } },
      }),
    });
  } catch (e) {
    throw toMcpAuthError(e, `MCP server ${url.origin}`);
  }
  const out: ResourceChallenge = { status: res.status };
  if (res.status === 401) {
    // loaded on first use (core/mcpSdk.ts): the MCP SDK (and zod) would otherwise cost every CLI start ~20 ms
    const { extractWWWAuthenticateParams } = await import('../mcpSdk.js');
    const p = extractWWWAuthenticateParams(res);
    if (p.resourceMetadataUrl) out.resourceMetadataUrl = p.resourceMetadataUrl.href;
    if (p.scope) out.scope = p.scope;
  }
  return out;
}

export interface ProtectedResource {
  resource: string;
  authorization_servers?: string[];
  scopes_supported?: string[];
  [k: string]: unknown;
}

/** The resource a PRM document may name for `serverUrl`: the same origin, and a path that is a prefix of the server's. */
export function resourceAllowed(resource: string, serverUrl: string): boolean {
  try {
    const r = new URL(resource);
    const s = new URL(serverUrl);
    if (r.origin !== s.origin) return false;
    const rp = r.pathname.endsWith('/') ? r.pathname : `${r.pathname}/`;
    const sp = s.pathname.endsWith('/') ? s.pathname : `${s.pathname}/`;
    return sp.startsWith(rp);
  } catch {
    return false;
  }
}

/** RFC 9728: the URL from the challenge, else path-inserted well-known, else the root well-known. */
export async function fetchProtectedResource(
  serverUrl: string,
  challengeUrl: string | undefined,
  http: FetchLike,
): Promise<{ prm: ProtectedResource; url: string } | undefined> {
  const s = new URL(serverUrl);
  const candidates = challengeUrl
    ? [challengeUrl]
    : [
        `${s.origin}/.well-known/oauth-protected-resource${s.pathname === '/' ? '' : s.pathname.replace(/\/$/, '')}`,
        `${s.origin}/.well-known/oauth-protected-resource`,
      ];
  for (const c of [...new Set(candidates)]) {
    const url = assertSecureEndpoint(c, 'resource metadata');
    let res: Response;
    try {
      res = await http(url, { headers: { accept: 'application/json' } });
    } catch (e) {
      throw toMcpAuthError(e, `resource metadata ${url.origin}`);
    }
    if (res.status === 404 || res.status === 405) continue;
    if (res.status !== 200)
      throw new McpAuthError(
        res.status >= 500 ? 'server-error' : 'discovery-failed',
        `resource metadata ${url.href}: HTTP ${res.status}`,
      );
    let doc: unknown;
    try {
      doc = await res.json();
    } catch {
      throw new McpAuthError('bad-response', `resource metadata ${url.href} is not JSON`);
    }
    const prm = doc as ProtectedResource;
    if (!prm || typeof prm !== 'object' || typeof prm.resource !== 'string')
      throw new McpAuthError('bad-response', `resource metadata ${url.href} has no "resource"`);
    if (!resourceAllowed(prm.resource, serverUrl))
      throw new McpAuthError('discovery-failed', `resource metadata names ${prm.resource}, not this server`);
    if (
      prm.authorization_servers !== undefined &&
      (!Array.isArray(prm.authorization_servers) || prm.authorization_servers.some((x) => typeof x !== 'string'))
    ) {
      throw new McpAuthError(
        'bad-response',
        `resource metadata ${url.href}: "authorization_servers" is not a list of URLs`,
      );
    }
    return { prm, url: url.href };
  }
  return undefined;
}

export interface Discovered {
  as: AuthorizationServer;
  /** the resource indicator to send (RFC 8707) */
  resource: string;
  scope?: string;
  discoveryState: DiscoveryState;
}

/** The default endpoints made for servers with no metadata at all: not documents, never cached. */
const defaultsMade = new WeakSet<AuthorizationServer>();
export const isDefaultEndpoints = (as: AuthorizationServer): boolean => defaultsMade.has(as);

/** No metadata anywhere: the default endpoints of the 2025-03-26 spec, at the MCP server's origin. */
function defaultEndpoints(serverUrl: string): AuthorizationServer {
  const o = new URL(serverUrl).origin;
  const as: AuthorizationServer = {
    issuer: o,
    authorization_endpoint: `${o}/authorize`,
    token_endpoint: `${o}/token`,
    registration_endpoint: `${o}/register`,
  };
  defaultsMade.add(as);
  return as;
}

/** Full discovery from the MCP server itself: challenge → PRM → AS metadata (MCP authorization spec). */
export async function discoverFromServer(server: ServerConfig, http: FetchLike): Promise<Discovered> {
  if (!server.url) throw new McpAuthError('not-remote', `${server.name} is not a remote server`);
  if (server.oauth?.authServerMetadataUrl) {
    const as = await fetchMetadataUrl(server.oauth.authServerMetadataUrl, undefined, http);
    return {
      as,
      resource: server.url,
      scope: server.oauth.scopes,
      discoveryState: {
        authorizationServerUrl: as.issuer,
        oauthMetadataFound: true,
        authServerMetadataUrl: server.oauth.authServerMetadataUrl,
      },
    };
  }
  const challenge = await probeResource(server.url, http, server.headers);
  const found = await fetchProtectedResource(server.url, challenge.resourceMetadataUrl, http);
  let issuer: string;
  if (found?.prm.authorization_servers?.length) issuer = found.prm.authorization_servers[0];
  else issuer = new URL(server.url).origin; // no PRM: the MCP server's origin is the AS (2025-03-26 fallback)
  let as: AuthorizationServer;
  try {
    as = await discoverAuthorizationServer(issuer, http);
  } catch (e) {
    if (!found && isMcpAuthError(e) && e.code === 'discovery-failed') as = defaultEndpoints(server.url);
    else throw e;
  }
  const scope = server.oauth?.scopes ?? challenge.scope ?? found?.prm.scopes_supported?.join(' ');
  return {
    as,
    resource: found?.prm.resource ?? server.url,
    scope,
    discoveryState: {
      authorizationServerUrl: issuer,
      oauthMetadataFound: true,
      authServerMetadataUrl: null,
      ...(found ? { resourceMetadataUrl: found.url } : {}),
    },
  };
}

const storedMetadata = (entry: TokenEntry): AuthorizationServer | undefined => {
  const stored = entry.discoveryState?.authorizationServerMetadata as AuthorizationServer | undefined;
  return stored && typeof stored.issuer === 'string' && typeof stored.token_endpoint === 'string' ? stored : undefined;
};

/**
 * The authorization-server URL whose RFC 8414 discovery authServerForEntry uses for this entry (the shared
 * metadata cache's key), or undefined when the metadata comes from elsewhere (stored in the entry, the config's
 * metadata URL, discovery from the MCP server): only a document discovered from that URL may be cached under it.
 */
export function discoveryUrlOf(server: ServerConfig, entry: TokenEntry): string | undefined {
  if (storedMetadata(entry) || server.oauth?.authServerMetadataUrl) return undefined;
  const u = entry.discoveryState?.authorizationServerUrl;
  return typeof u === 'string' ? u : undefined;
}

/** The AS for a stored entry: stored metadata, then the config's metadata URL, then the stored AS URL, then full discovery. */
export async function authServerForEntry(
  server: ServerConfig,
  entry: TokenEntry,
  http: FetchLike,
  cache?: MetadataCache,
): Promise<AuthorizationServer> {
  const ds = entry.discoveryState ?? {};
  const stored = storedMetadata(entry);
  let as: AuthorizationServer;
  if (stored) {
    assertSecureEndpoint(stored.token_endpoint as string, 'token endpoint');
    as = stored;
  } else if (server.oauth?.authServerMetadataUrl) {
    as = await fetchMetadataUrl(server.oauth.authServerMetadataUrl, entry.issuer, http);
  } else if (typeof ds.authorizationServerUrl === 'string') {
    const url = ds.authorizationServerUrl;
    try {
      as = cache ? await cachedDiscovery(url, http, cache) : await discoverAuthorizationServer(url, http);
    } catch (e) {
      // signed in on the default endpoints (no resource metadata, the AS at the server's origin, no document
      // there): the same endpoints again, as discoverFromServer chose them at sign-in
      if (
        isMcpAuthError(e) &&
        e.code === 'discovery-failed' &&
        !ds.resourceMetadataUrl &&
        server.url &&
        sameIssuer(url, new URL(server.url).origin)
      )
        as = defaultEndpoints(server.url);
      else throw e;
    }
  } else {
    as = (await discoverFromServer(server, http)).as;
  }
  if (entry.issuer && !sameIssuer(entry.issuer, as.issuer)) {
    throw new McpAuthError(
      'issuer-mismatch',
      `the stored issuer ${entry.issuer} is not the authorization server's ${as.issuer}`,
    );
  }
  return as;
}

export { requestOptions, sameIssuer };
