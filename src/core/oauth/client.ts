import * as oauth from 'oauth4webapi';
import { McpAuthError, isMcpAuthError, type ErrorCode } from '../errors';
import { rememberSecret } from '../log';
import { assertSecureEndpoint, boundedFetch, isLoopbackHost, type FetchLike, type HttpOptions } from './http';

export type AuthorizationServer = oauth.AuthorizationServer;

/** Options every oauth4webapi call gets: our bounded fetch, and http allowed only for loopback. */
export function requestOptions(
  http: FetchLike,
  url: string | URL,
): { [oauth.customFetch]: FetchLike; [oauth.allowInsecureRequests]: boolean } {
  const u = new URL(url);
  return {
    [oauth.customFetch]: http,
    [oauth.allowInsecureRequests]: u.protocol === 'http:' && isLoopbackHost(u.hostname),
  };
}

/** Map anything oauth4webapi or fetch throws to one of our codes. */
export function toMcpAuthError(e: unknown, what: string): McpAuthError {
  if (isMcpAuthError(e)) return e;
  if (e instanceof oauth.ResponseBodyError) {
    const code: ErrorCode =
      e.error === 'invalid_grant' ? 'invalid-grant' : e.status >= 500 ? 'server-error' : 'bad-response';
    return new McpAuthError(
      code,
      `${what}: ${e.status} ${e.error}${e.error_description ? ` (${e.error_description})` : ''}`,
      { status: e.status, oauthError: e.error },
    );
  }
  const err = e as { code?: string; message?: string; cause?: unknown };
  if (err?.code === oauth.RESPONSE_IS_NOT_CONFORM) {
    const status = (err.cause as Response | undefined)?.status;
    return new McpAuthError(
      status && status >= 500 ? 'server-error' : 'bad-response',
      `${what}: unexpected HTTP ${status ?? 'status'}`,
      { status },
    );
  }
  if (
    err?.code === oauth.JSON_ATTRIBUTE_COMPARISON &&
    (err.cause as { attribute?: unknown } | undefined)?.attribute === 'issuer'
  ) {
    return new McpAuthError('issuer-mismatch', `${what}: the metadata's "issuer" does not match the expected issuer`);
  }
  if (typeof err?.code === 'string' && err.code.startsWith('OAUTH_')) {
    return new McpAuthError('bad-response', `${what}: ${err.message ?? err.code}`);
  }
  if (err instanceof TypeError || (err as Error)?.name === 'UnsupportedOperationError') {
    return new McpAuthError('bad-response', `${what}: ${err.message}`);
  }
  return new McpAuthError('internal', `${what}: ${err?.message ?? String(e)}`);
}

/**
 * RFC 8414 metadata (path-inserted well-known), then OpenID Connect discovery, for an issuer. The document's
 * `issuer` must equal the expected issuer exactly (oauth4webapi checks it).
 */
export async function discoverAuthorizationServer(issuer: string, http: FetchLike): Promise<AuthorizationServer> {
  const url = assertSecureEndpoint(issuer, 'authorization server');
  let last: unknown;
  for (const algorithm of ['oauth2', 'oidc'] as const) {
    try {
      const res = await oauth.discoveryRequest(url, { algorithm, ...requestOptions(http, url) });
      if (res.status === 404) {
        last = new McpAuthError(
          'discovery-failed',
          `no ${algorithm === 'oauth2' ? 'RFC 8414' : 'OpenID'} metadata at ${url.origin}`,
        );
        continue;
      }
      return checkEndpoints(await oauth.processDiscoveryResponse(url, res));
    } catch (e) {
      const m = toMcpAuthError(e, `metadata of ${url.origin}`);
      if (
        ['issuer-mismatch', 'insecure-endpoint', 'timeout', 'response-too-large', 'redirect-loop', 'network'].includes(
          m.code,
        )
      )
        throw m;
      last = m;
    }
  }
  throw isMcpAuthError(last)
    ? new McpAuthError('discovery-failed', last.message)
    : new McpAuthError('discovery-failed', `no authorization server metadata for ${issuer}`);
}

/** Metadata from an explicit URL (config `oauth.authServerMetadataUrl`), issuer checked against `expectedIssuer` when known. */
export async function fetchMetadataUrl(
  metadataUrl: string,
  expectedIssuer: string | undefined,
  http: FetchLike,
): Promise<AuthorizationServer> {
  const url = assertSecureEndpoint(metadataUrl, 'metadata URL');
  let res: Response;
  try {
    res = await http(url, { headers: { accept: 'application/json' } });
  } catch (e) {
    throw toMcpAuthError(e, `metadata ${url.href}`);
  }
  if (res.status !== 200) throw new McpAuthError('discovery-failed', `metadata ${url.href}: HTTP ${res.status}`);
  let doc: unknown;
  try {
    doc = await res.json();
  } catch {
    throw new McpAuthError('bad-response', `metadata ${url.href} is not JSON`);
  }
  if (!doc || typeof doc !== 'object' || typeof (doc as { issuer?: unknown }).issuer !== 'string') {
    throw new McpAuthError('bad-response', `metadata ${url.href} has no "issuer"`);
  }
  const as = doc as AuthorizationServer;
  if (expectedIssuer && as.issuer !== expectedIssuer)
    throw new McpAuthError('issuer-mismatch', `metadata ${url.href}: issuer ${as.issuer} is not ${expectedIssuer}`);
  return checkEndpoints(as);
}

function checkEndpoints(as: AuthorizationServer): AuthorizationServer {
  for (const k of [
    'token_endpoint',
    'revocation_endpoint',
    'registration_endpoint',
    'authorization_endpoint',
    'device_authorization_endpoint',
  ] as const) {
    const v = as[k];
    if (v !== undefined) {
      if (typeof v !== 'string') throw new McpAuthError('bad-response', `metadata "${k}" is not a string`);
      assertSecureEndpoint(v, k.replace(/_/g, ' '));
    }
  }
  return as;
}

export interface ClientCredentials {
  clientId: string;
  clientSecret?: string;
}

/** Client authentication as the MCP SDK chooses it: basic when supported and we have a secret, else post, else none. */
export function clientAuth(as: AuthorizationServer, creds: ClientCredentials): oauth.ClientAuth {
  if (!creds.clientSecret) return oauth.None();
  rememberSecret(creds.clientSecret);
  const methods = as.token_endpoint_auth_methods_supported;
  if (!methods || methods.includes('client_secret_basic')) return oauth.ClientSecretBasic(creds.clientSecret);
  if (methods.includes('client_secret_post')) return oauth.ClientSecretPost(creds.clientSecret);
  return oauth.None();
}

/** Something odd in a 200 token response that we stored anyway (the refresh token sent is spent by then). */
export type TokenWarning =
  | 'no-token-type'
  | 'unknown-token-type'
  | 'expires-in-not-positive'
  | 'expires-in-invalid'
  | 'id-token-not-validated'
  | 'no-access-token'
  | 'scope-invalid'
  | 'refresh-token-invalid';

export interface TokenSet {
  /** '' when a 200 answer carried a refresh token but no access token (stored as expired, refreshable) */
  accessToken: string;
  refreshToken?: string;
  /** seconds, as sent; 0 when the server sent a value ≤ 0 (stored as expiring now) */
  expiresIn?: number;
  scope?: string;
  /** what was odd in the answer; empty for a conforming one */
  warnings: TokenWarning[];
}

/** POST grant_type=refresh_token (RFC 6749 §6) with RFC 8707 `resource`. */
export async function refreshGrant(
  as: AuthorizationServer,
  creds: ClientCredentials,
  refreshToken: string,
  resource: string | undefined,
  http: FetchLike,
): Promise<TokenSet> {
  if (!as.token_endpoint) throw new McpAuthError('bad-response', 'the authorization server has no token endpoint');
  rememberSecret(refreshToken);
  const client: oauth.Client = { client_id: creds.clientId };
  let res: Response;
  try {
    res = await oauth.refreshTokenGrantRequest(as, client, clientAuth(as, creds), refreshToken, {
      additionalParameters: resource ? { resource } : undefined,
      ...requestOptions(http, as.token_endpoint),
    });
  } catch (e) {
    throw toMcpAuthError(e, 'token endpoint');
  }
  return processTokenResponse(res, (r) => oauth.processRefreshTokenResponse(as, client, r));
}

/**
 * Validate a token endpoint response with oauth4webapi; when a **200** answer fails that validation, take
 * it anyway as long as it carries a token. Once the authorization server has answered 200, the refresh
 * token (or code) we sent is spent: rejecting the answer would keep the spent token in the store, and the
 * next refresh — ours or Claude Code's — would replay it and get the whole grant revoked. So whatever is
 * odd (no or an unknown `token_type`, `expires_in` ≤ 0, an `id_token` that does not parse) becomes a
 * warning, and only an answer with neither an access token nor a refresh token is an error.
 */
export async function processTokenResponse(
  res: Response,
  validate: (r: Response) => Promise<oauth.TokenEndpointResponse>,
): Promise<TokenSet> {
  const copy = res.status === 200 ? res.clone() : undefined;
  const failure = res.status >= 500 ? res.clone() : undefined;
  try {
    return toTokenSet(await validate(res));
  } catch (e) {
    if (!copy && e instanceof oauth.WWWAuthenticateChallengeError) throw await challengeError(e, 'token endpoint');
    if (failure) throw await serverError(toMcpAuthError(e, 'token endpoint'), failure);
    if (!copy || e instanceof oauth.ResponseBodyError) throw toMcpAuthError(e, 'token endpoint');
    let body: unknown;
    try {
      body = await copy.json();
    } catch {
      throw new McpAuthError('bad-response', 'token endpoint: a 200 answer that is not JSON', { status: 200 });
    }
    return lenientTokenSet(body);
  }
}

/**
 * A 5xx answer: oauth4webapi reads the error body of 4xx answers only. The OAuth `error` of a JSON body is kept
 * (`details.oauthError`): `temporarily_unavailable` is the authorization server saying it did not handle the
 * request; without it, a 5xx may come after the server rotated the token (a gateway's 502/504, a crash after
 * the commit), and the caller counts the refresh token as possibly spent.
 */
async function serverError(err: McpAuthError, res: Response): Promise<McpAuthError> {
  if (err.details.oauthError !== undefined) return err;
  try {
    const body = (await res.json()) as { error?: unknown };
    if (typeof body?.error === 'string' && /^[\x20-\x7e]{1,64}$/.test(body.error))
      return new McpAuthError(err.code, err.message, { ...err.details, oauthError: body.error });
  } catch {
    /* not JSON */
  }
  return err;
}

/**
 * An error answer that came with a `WWW-Authenticate` challenge (RFC 6749 §5.2: a 401 `invalid_client` to a
 * client that authenticated with HTTP Basic): oauth4webapi stops at the header, so the OAuth error is taken
 * from the challenge's `error` parameter or the JSON body, and mapped like any other error answer (so that
 * `invalid_client` is known as such, not as an odd answer).
 */
async function challengeError(e: oauth.WWWAuthenticateChallengeError, what: string): Promise<McpAuthError> {
  let error = e.cause.find((c) => typeof c.parameters.error === 'string')?.parameters.error;
  let description: string | undefined;
  if (!error) {
    try {
      const body = (await e.response.json()) as { error?: unknown; error_description?: unknown };
      if (typeof body?.error === 'string') error = body.error;
      if (typeof body?.error_description === 'string') description = body.error_description;
    } catch {
      /* no JSON body */
    }
  }
  if (!error) return toMcpAuthError(e, what);
  const code: ErrorCode =
    error === 'invalid_grant' ? 'invalid-grant' : e.status >= 500 ? 'server-error' : 'bad-response';
  return new McpAuthError(code, `${what}: ${e.status} ${error}${description ? ` (${description})` : ''}`, {
    status: e.status,
    oauthError: error,
  });
}

function lenientTokenSet(body: unknown): TokenSet {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new McpAuthError('bad-response', 'token endpoint: a 200 answer that is not a JSON object', { status: 200 });
  const b = body as Record<string, unknown>;
  const warnings: TokenWarning[] = [];
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
  const accessToken = str(b.access_token);
  const refreshToken = str(b.refresh_token);
  if (b.refresh_token !== undefined && !refreshToken) warnings.push('refresh-token-invalid');
  if (!accessToken && !refreshToken)
    throw new McpAuthError('bad-response', 'token endpoint: a 200 answer without access_token', { status: 200 });
  if (!accessToken) warnings.push('no-access-token');
  rememberSecret(accessToken);
  rememberSecret(refreshToken);
  if (b.token_type === undefined) warnings.push('no-token-type');
  else if (typeof b.token_type !== 'string' || !['bearer', 'dpop'].includes(b.token_type.toLowerCase()))
    warnings.push('unknown-token-type');
  let expiresIn: number | undefined;
  if (b.expires_in !== undefined) {
    const n = typeof b.expires_in === 'string' && b.expires_in.trim() !== '' ? Number(b.expires_in) : b.expires_in;
    if (typeof n !== 'number' || !Number.isFinite(n)) {
      warnings.push('expires-in-invalid');
      expiresIn = 0;
    } else if (n <= 0) {
      warnings.push('expires-in-not-positive');
      expiresIn = 0;
    } else expiresIn = n;
  }
  if (b.id_token !== undefined) warnings.push('id-token-not-validated');
  let scope: string | undefined;
  if (b.scope !== undefined) {
    if (typeof b.scope === 'string') scope = b.scope;
    else warnings.push('scope-invalid');
  }
  return { accessToken: accessToken ?? '', refreshToken, expiresIn, scope, warnings };
}

export function toTokenSet(r: oauth.TokenEndpointResponse): TokenSet {
  if (typeof r.access_token !== 'string' || r.access_token.length === 0)
    throw new McpAuthError('bad-response', 'token response without access_token');
  rememberSecret(r.access_token);
  rememberSecret(r.refresh_token);
  const warnings: TokenWarning[] = [];
  let expiresIn = r.expires_in;
  if (expiresIn !== undefined && (!Number.isFinite(expiresIn) || expiresIn <= 0)) {
    warnings.push(Number.isFinite(expiresIn) ? 'expires-in-not-positive' : 'expires-in-invalid');
    expiresIn = 0;
  }
  return { accessToken: r.access_token, refreshToken: r.refresh_token, expiresIn, scope: r.scope, warnings };
}

export function makeHttp(opts: HttpOptions = {}): FetchLike {
  return boundedFetch(opts);
}
