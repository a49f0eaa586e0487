import { assertWritableStore } from './store/credman';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import * as oauth from 'oauth4webapi';
import { clearNeedsAuth } from './cache/needsAuthCache';
import type { ServerConfig } from './config/types';
import { McpAuthError, isMcpAuthError } from './errors';
import { acquireLock, type LockSpec } from './lock/lock';
import { nullLogger, rememberSecret, type Logger } from './log';
import {
  clientAuth,
  makeHttp,
  processTokenResponse,
  requestOptions,
  toMcpAuthError,
  type AuthorizationServer,
  type TokenSet,
} from './oauth/client';
import { discoverFromServer, sameIssuer, type Discovered } from './oauth/discovery';
import type { FetchLike } from './oauth/http';
import type { ClaudePaths } from './paths';
import type { StoreBackend } from './store/backend';
import { serverKey } from './store/key';
import type { TokenEntry } from './store/types';
import { persistGrantResult } from './store/write';
import { withSignalsHeld } from './signals';
import { isRemote } from './config/types';
import { missingScopes, scopeList } from './status';

/** How long a sign-in's code exchange and write may hold off a termination signal. */
const SIGN_IN_HOLD_MS = 35_000;

export interface LoginDeps {
  paths: ClaudePaths;
  store: StoreBackend;
  logger?: Logger;
  fetch?: FetchLike;
  now?: () => number;
  httpTimeoutMs?: number;
  allServers?: ServerConfig[];
  env?: NodeJS.ProcessEnv;
}

export interface LoginOptions {
  /** called with the authorization URL as soon as it is known (print it; open a browser) */
  onAuthorizationUrl: (url: string) => void | Promise<void>;
  /** whole sign-in, ms (default 5 min) */
  timeoutMs?: number;
  /** turns the loopback redirect into one the user's browser can reach (VS Code remote: asExternalUri) */
  externalRedirect?: (local: string) => Promise<string>;
  signal?: AbortSignal;
  /**
   * The address the browser ended on, pasted by the user (for a browser that cannot reach the loopback
   * callback: another machine, SSH). Whichever comes first, the callback or the paste, ends the wait.
   */
  pasted?: Promise<string>;
  /** forget the stored dynamically registered client and register anew (after an `invalid_client`) */
  newClient?: boolean;
  /** RFC 8628 device authorization instead of the browser redirect */
  device?: { onUserCode: (info: DeviceCode) => void | Promise<void> };
}

export interface DeviceCode {
  userCode: string;
  verificationUri: string;
  verificationUriComplete?: string;
  expiresInS: number;
}

export interface LoginOutcome {
  name: string;
  /** signed-in: we ran the browser flow; adopted: another process's sign-in finished while we waited */
  result: 'signed-in' | 'adopted';
  expiresAt?: number;
  registeredClient: boolean;
  clearedCacheEntries: string[];
}

/** Our own per-server lock that makes one interactive sign-in serve every process (not a Claude Code lock). */
export function loginLock(secureDir: string, key: string): LockSpec {
  return {
    target: path.join(secureDir, `mcp-auth-login-${key.replace(/[^a-zA-Z0-9]/g, '_')}`),
    stale: 60_000,
    update: 5_000,
  };
}

const usable = (e: TokenEntry | undefined, now: number) =>
  !!e && !!e.accessToken && (e.expiresAt === undefined || e.expiresAt > now);

function constantTimeEqual(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb) && a.length === b.length;
}

/** The browser sign-in (authorization code + PKCE S256 + state + resource), stored in Claude Code's format. */
export async function login(server: ServerConfig, deps: LoginDeps, opts: LoginOptions): Promise<LoginOutcome> {
  const log = (deps.logger ?? nullLogger).child(`login ${server.name}`);
  const now = deps.now ?? Date.now;
  if (!isRemote(server)) throw new McpAuthError('not-remote', `${server.name} is not a remote server`);
  if (server.problem) throw new McpAuthError(server.problem.code, server.problem.message);
  assertWritableStore(deps.store);
  const key = serverKey(server);
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const started = now();

  // One sign-in per server across processes: wait for anyone else's, then reuse what it stored.
  const lock = await acquireLock(loginLock(deps.paths.secureDir, key), {
    timeoutMs,
    logger: log,
    onWait: () => log.info('another sign-in for this server is in progress; waiting for it'),
  });
  try {
    const snap = await deps.store.read();
    const existing = snap.data.mcpOAuth?.[key];
    const storeWritten = snap.mtimeMs ?? 0;
    if (usable(existing, now()) && storeWritten >= started) {
      const cleared = await clearCache(server, deps);
      return {
        name: server.name,
        result: 'adopted',
        expiresAt: existing!.expiresAt,
        registeredClient: false,
        clearedCacheEntries: cleared,
      };
    }
    return await interactive(
      { server, deps, opts, log, now, key, started, timeoutMs },
      existing,
      snap.data.mcpOAuthClientConfig?.[key]?.clientSecret,
    );
  } finally {
    await lock.release();
  }
}

/** What one sign-in carries from step to step. */
interface SignIn {
  server: ServerConfig;
  deps: LoginDeps;
  opts: LoginOptions;
  log: Logger;
  now: () => number;
  key: string;
  started: number;
  timeoutMs: number;
}

interface ChosenClient {
  clientId?: string;
  clientSecret?: string;
  /**
   * The secret to keep in the mcpOAuth entry: that of the stored registration reused, never the static
   * client's (it lives in mcpOAuthClientConfig), never the one of a client no longer in use.
   */
  entrySecret?: string;
  redirectUri?: string;
}

/**
 * Step 1, choose the client: the stored one (same issuer), else the configured static id, else none yet
 * (registered once the redirect URI is known). A static client's secret lives in mcpOAuthClientConfig,
 * never in the mcpOAuth entry: whenever the client in use is the configured static one, that is where its
 * secret comes from.
 */
function chooseClient(
  si: SignIn,
  as: AuthorizationServer,
  existing: TokenEntry | undefined,
  staticSecret: unknown,
  scope: string | undefined,
): ChosenClient {
  const secretOf = (id: string, stored: string | undefined) =>
    id === si.server.oauth?.clientId && typeof staticSecret === 'string' ? staticSecret : stored;
  if (existing?.clientId && (!existing.issuer || sameIssuer(existing.issuer, as.issuer))) {
    if (existing.clientId !== si.server.oauth?.clientId && si.opts.newClient) {
      si.log.info('forgetting the stored client registration (asked for a new one)');
      return {};
    }
    if (existing.clientId !== si.server.oauth?.clientId && widens(scope, existing)) {
      // step-up with a dynamically registered client: it may have been registered for the narrower scope (an AS
      // may hold a client to the `scope` it registered with, as oidc-provider does): register one for the union
      si.log.info('registering a new client for the wider scope (step-up)');
      return {};
    }
    si.log.info('reusing the stored client');
    const clientSecret = secretOf(existing.clientId, existing.clientSecret);
    return {
      clientId: existing.clientId,
      clientSecret,
      entrySecret: clientSecret === existing.clientSecret ? existing.clientSecret : undefined,
      redirectUri: existing.redirectUri,
    };
  }
  if (si.server.oauth?.clientId)
    return { clientId: si.server.oauth.clientId, clientSecret: secretOf(si.server.oauth.clientId, undefined) };
  return {};
}

/**
 * The scope to ask for: what the server advertises (config, challenge or metadata), and — when an entry of the
 * same authorization server is stored — its granted `scope` and the `stepUpScope` Claude Code recorded after a
 * 403 insufficient_scope (MCP authorization spec 2025-11-25, step-up: ask for the union, so that signing in for
 * the new scopes does not lose the old ones). Space-separated, in that order, no duplicates; `offline_access`
 * is kept when any part has it.
 */
export function requestedScope(
  discovered: string | undefined,
  existing: TokenEntry | undefined,
  issuer: string,
): string | undefined {
  const sameAs = existing && (!existing.issuer || sameIssuer(existing.issuer, issuer));
  const parts = [discovered, ...(sameAs ? [existing.scope, existing.stepUpScope] : [])];
  const all = scopeList(parts.join(' '));
  return all.length ? all.join(' ') : undefined;
}

/** A sign-in for more than the stored token has: a step-up is pending, or the scope asked for is wider than the stored one. */
function widens(scope: string | undefined, existing: TokenEntry): boolean {
  if (!existing.stepUpScope && typeof existing.scope !== 'string') return false; // nothing known of what it has (a stub)
  return missingScopes(scope, existing.scope).length > 0;
}

/** The loopback port: MCP_OAUTH_CALLBACK_PORT, else the config's callbackPort, else the stored redirect's, else any. */
function callbackPort(si: SignIn, redirectUri: string | undefined): number {
  const envPort = Number(si.deps.env?.MCP_OAUTH_CALLBACK_PORT ?? '');
  if (Number.isInteger(envPort) && envPort > 0) return envPort;
  return si.server.oauth?.callbackPort ?? (redirectUri ? Number(new URL(redirectUri).port) || 0 : 0);
}

/** Step 2, the authorization request: PKCE S256, state, RFC 8707 resource, the scope the server asked for. */
async function authorizationRequest(
  as: AuthorizationServer,
  d: Discovered,
  scope: string | undefined,
  clientId: string,
  redirectUri: string,
): Promise<{ url: URL; verifier: string; state: string }> {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  rememberSecret(verifier);
  const url = new URL(as.authorization_endpoint!);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', clientId);
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', state);
  url.searchParams.set('resource', d.resource);
  if (scope) url.searchParams.set('scope', scope);
  return { url, verifier, state };
}

/** Step 3, the callback: our state (checked again), RFC 9207 `iss`, an error answer, the code. */
function checkCallback(
  as: AuthorizationServer,
  client: oauth.Client,
  params: URLSearchParams,
  state: string,
): URLSearchParams {
  // the listener hands over only the callback with our state; checked again here all the same
  if (!constantTimeEqual(params.get('state') ?? '', state))
    throw new McpAuthError('state-mismatch', 'the sign-in callback carried a wrong "state" (not the request we made)');
  const iss = params.get('iss');
  if ((iss !== null && iss !== as.issuer) || (iss === null && as.authorization_response_iss_parameter_supported)) {
    throw new McpAuthError('issuer-mismatch', 'the callback "iss" does not match the authorization server (RFC 9207)');
  }
  try {
    return oauth.validateAuthResponse(as, client, params, oauth.skipStateCheck);
  } catch (e) {
    if (e instanceof oauth.AuthorizationResponseError)
      throw new McpAuthError('authorization-denied', `the authorization server refused: ${e.error}`);
    throw toMcpAuthError(e, 'sign-in callback');
  }
}

/** Step 4, the code exchange. A 200 is taken whatever else is odd in it (the code is spent): see processTokenResponse. */
async function exchange(
  si: SignIn,
  as: AuthorizationServer,
  client: oauth.Client,
  clientSecret: string | undefined,
  checked: URLSearchParams,
  redirectUri: string,
  verifier: string,
  resource: string,
  http: FetchLike,
): Promise<TokenSet> {
  let res: Response;
  try {
    res = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      clientAuth(as, { clientId: client.client_id, clientSecret }),
      checked,
      redirectUri,
      verifier,
      {
        additionalParameters: { resource },
        ...requestOptions(http, as.token_endpoint!),
      },
    );
  } catch (e) {
    throw toMcpAuthError(e, 'token endpoint');
  }
  const tokens = await processTokenResponse(res, (r) => oauth.processAuthorizationCodeResponse(as, client, r));
  for (const w of tokens.warnings) si.log.warn(`the token response was odd (${w}); stored anyway`);
  return tokens;
}

/**
 * Step 5, store in Claude Code's shape: the whole entry, the stub's tokenlessRejectedAt dropped, unknown fields
 * kept. `scope` is what was asked for: the granted scope when the answer names none (RFC 6749 §5.1). Claude
 * Code's `stepUpScope` goes once the granted scope covers it (else it stays: the server still wants more).
 * Then this server's needs-auth entries go.
 */
async function store(
  si: SignIn,
  as: AuthorizationServer,
  d: Discovered,
  scope: string | undefined,
  tokens: TokenSet,
  client: Required<Pick<ChosenClient, 'clientId'>> & ChosenClient & { registered: boolean; redirectUri: string },
): Promise<LoginOutcome> {
  const expiresAt = tokens.expiresIn !== undefined ? si.now() + Math.round(tokens.expiresIn * 1000) : undefined;
  await persistGrantResult(
    si.deps.store,
    si.deps.paths,
    si.key,
    (cur) => {
      const next: TokenEntry = {
        ...(cur ?? {}),
        serverName: si.server.name,
        serverUrl: si.server.url,
        accessToken: tokens.accessToken,
        ...(tokens.refreshToken ? { refreshToken: tokens.refreshToken } : {}),
        ...(expiresAt !== undefined ? { expiresAt } : {}),
        ...((tokens.scope ?? scope) ? { scope: tokens.scope ?? scope } : {}),
        clientId: client.clientId,
        issuer: as.issuer,
        redirectUri: client.redirectUri,
        discoveryState: { ...(cur?.discoveryState ?? {}), ...d.discoveryState },
      };
      if (!tokens.refreshToken) delete next.refreshToken;
      if (expiresAt === undefined) delete next.expiresAt;
      // the secret of the client these tokens were issued to, or none: never a previous client's (after a
      // re-registration or a switch to the static client, every refresh would send it and get invalid_client)
      if (client.entrySecret) next.clientSecret = client.entrySecret;
      else delete next.clientSecret;
      if (next.discoveryState) delete next.discoveryState.tokenlessRejectedAt;
      if (typeof next.stepUpScope === 'string' && missingScopes(next.stepUpScope, next.scope).length === 0)
        delete next.stepUpScope;
      return next;
    },
    { logger: si.log },
  );
  const cleared = await clearCache(si.server, si.deps);
  return {
    name: si.server.name,
    result: 'signed-in',
    expiresAt,
    registeredClient: client.registered,
    clearedCacheEntries: cleared,
  };
}

/** The interactive sign-in, step by step; the callback listener lives exactly as long as it. */
async function interactive(si: SignIn, existing: TokenEntry | undefined, staticSecret: unknown): Promise<LoginOutcome> {
  const http = makeHttp({ fetch: si.deps.fetch, timeoutMs: si.deps.httpTimeoutMs });
  const d: Discovered = await discoverFromServer(si.server, http);
  const as = d.as;
  if (si.opts.device) return deviceSignIn(si, d, existing, staticSecret, http);
  if (!as.authorization_endpoint || !as.token_endpoint)
    throw new McpAuthError(
      'discovery-failed',
      'the authorization server metadata lacks authorization or token endpoint',
    );
  if (as.code_challenge_methods_supported && !as.code_challenge_methods_supported.includes('S256')) {
    throw new McpAuthError('discovery-failed', 'the authorization server does not support PKCE S256');
  }
  const scope = requestedScope(d.scope, existing, as.issuer);
  const chosen = chooseClient(si, as, existing, staticSecret, scope);
  if (scope !== d.scope) si.log.info(`asking for scope "${scope}" (the stored and step-up scopes included)`);
  // the loopback listener, on 127.0.0.1 only
  const cb = await startCallbackServer(callbackPort(si, chosen.redirectUri), si.log);
  try {
    const local =
      chosen.redirectUri && Number(new URL(chosen.redirectUri).port) === cb.port
        ? chosen.redirectUri
        : `http://localhost:${cb.port}/callback`;
    const redirectUri = si.opts.externalRedirect ? await si.opts.externalRedirect(local) : local;
    const { clientId, clientSecret, entrySecret, registered } = await clientOrRegister(
      si,
      as,
      chosen,
      redirectUri,
      scope,
      http,
    );
    const client: oauth.Client = { client_id: clientId };
    const req = await authorizationRequest(as, d, scope, clientId, redirectUri);
    cb.expectState(req.state);
    await si.opts.onAuthorizationUrl(req.url.href);
    const waitMs = Math.max(1, si.timeoutMs - (si.now() - si.started));
    const params = await (si.opts.pasted
      ? Promise.race([cb.waitForCallback(waitMs, si.opts.signal), si.opts.pasted.then(pastedParams)])
      : cb.waitForCallback(waitMs, si.opts.signal));
    const checked = checkCallback(as, client, params, req.state);
    // the code is single-use: from its exchange until the grant is stored, a Ctrl-C waits (core/signals.ts)
    const out = await withSignalsHeld(`sign-in ${si.server.name}`, SIGN_IN_HOLD_MS, async () => {
      const tokens = await exchange(si, as, client, clientSecret, checked, redirectUri, req.verifier, d.resource, http);
      return store(si, as, d, scope, tokens, { clientId, clientSecret, entrySecret, registered, redirectUri });
    });
    cb.finish(true); // only now does the browser hear "You are signed in"; any failure before gets the failure page (close)
    return out;
  } finally {
    await cb.close();
  }
}

/** The chosen client, or a new one registered dynamically (RFC 7591) when there is none. */
async function clientOrRegister(
  si: SignIn,
  as: AuthorizationServer,
  chosen: ChosenClient,
  redirectUri: string,
  scope: string | undefined,
  http: FetchLike,
  extraGrants: string[] = [],
): Promise<{ clientId: string; clientSecret?: string; entrySecret?: string; registered: boolean }> {
  if (chosen.clientId) {
    rememberSecret(chosen.clientSecret);
    return {
      clientId: chosen.clientId,
      clientSecret: chosen.clientSecret,
      entrySecret: chosen.entrySecret,
      registered: false,
    };
  }
  if (!as.registration_endpoint) {
    throw new McpAuthError(
      'registration-failed',
      'no client id configured and the authorization server offers no dynamic registration',
    );
  }
  const reg = await register(as, redirectUri, scope, http, extraGrants);
  const clientSecret = typeof reg.client_secret === 'string' ? reg.client_secret : undefined;
  rememberSecret(clientSecret);
  si.log.info(`registered a client (RFC 7591)${extraGrants.length ? ` with ${extraGrants.join(', ')}` : ''}`);
  return { clientId: reg.client_id, clientSecret, entrySecret: clientSecret, registered: true };
}

/** The query of a pasted address (`http://localhost:PORT/callback?code=…&state=…`); checked like a callback. */
function pastedParams(text: string): URLSearchParams {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new McpAuthError(
      'bad-callback',
      'what was pasted is not an address (paste the whole address your browser ended on)',
    );
  }
  if (!url.searchParams.has('code') && !url.searchParams.has('error'))
    throw new McpAuthError('bad-callback', 'the pasted address carries no authorization code');
  return url.searchParams;
}

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * RFC 8628 device authorization: the user opens a URL on any device and types a code; we poll the token
 * endpoint at the interval the server asks (longer after `slow_down`) until it answers, the code expires or
 * the sign-in times out. A client registered here asks for the device grant too.
 */
async function deviceSignIn(
  si: SignIn,
  d: Discovered,
  existing: TokenEntry | undefined,
  staticSecret: unknown,
  http: FetchLike,
): Promise<LoginOutcome> {
  const as = d.as;
  if (!as.device_authorization_endpoint || !as.token_endpoint)
    throw new McpAuthError('device-unsupported', 'the authorization server offers no device authorization (RFC 8628)');
  const scope = requestedScope(d.scope, existing, as.issuer);
  const chosen = chooseClient(si, as, existing, staticSecret, scope);
  // a client registered here gets a loopback redirect too, so that a later browser sign-in can use it
  const redirectUri = chosen.redirectUri ?? 'http://localhost/callback';
  const { clientId, clientSecret, entrySecret, registered } = await clientOrRegister(
    si,
    as,
    chosen,
    redirectUri,
    scope,
    http,
    [DEVICE_GRANT],
  );
  const client: oauth.Client = { client_id: clientId };
  const auth = clientAuth(as, { clientId, clientSecret });
  let da: oauth.DeviceAuthorizationResponse;
  try {
    const res = await oauth.deviceAuthorizationRequest(
      as,
      client,
      auth,
      { resource: d.resource, ...(scope ? { scope } : {}) },
      requestOptions(http, as.device_authorization_endpoint),
    );
    da = await oauth.processDeviceAuthorizationResponse(as, client, res);
  } catch (e) {
    throw toMcpAuthError(e, 'device authorization');
  }
  rememberSecret(da.device_code);
  await si.opts.device!.onUserCode({
    userCode: da.user_code,
    verificationUri: da.verification_uri,
    verificationUriComplete: da.verification_uri_complete,
    expiresInS: da.expires_in,
  });
  const deadline = Math.min(si.started + si.timeoutMs, si.now() + da.expires_in * 1000);
  let intervalMs = Math.max(1, da.interval ?? 5) * 1000;
  for (;;) {
    await sleepUnless(intervalMs, si.opts.signal);
    if (si.now() > deadline)
      throw new McpAuthError('login-timeout', 'the device code expired before the sign-in was approved');
    let res: Response;
    try {
      res = await oauth.deviceCodeGrantRequest(as, client, auth, da.device_code, {
        additionalParameters: { resource: d.resource },
        ...requestOptions(http, as.token_endpoint),
      });
    } catch (e) {
      throw toMcpAuthError(e, 'token endpoint');
    }
    let tokens: TokenSet;
    try {
      tokens = await processTokenResponse(res, (r) => oauth.processDeviceCodeResponse(as, client, r));
    } catch (e) {
      const err = isMcpAuthError(e) ? e.details.oauthError : undefined;
      if (err === 'authorization_pending') continue;
      if (err === 'slow_down') {
        intervalMs += 5000;
        continue;
      }
      if (err === 'expired_token')
        throw new McpAuthError('login-timeout', 'the device code expired before the sign-in was approved');
      if (err === 'access_denied')
        throw new McpAuthError('authorization-denied', 'the sign-in was refused on the device page');
      throw e;
    }
    for (const w of tokens.warnings) si.log.warn(`the token response was odd (${w}); stored anyway`);
    return withSignalsHeld(`sign-in ${si.server.name}`, SIGN_IN_HOLD_MS, () =>
      store(si, as, d, scope, tokens, { clientId, clientSecret, entrySecret, registered, redirectUri }),
    );
  }
}

function sleepUnless(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new McpAuthError('cancelled', 'sign-in cancelled'));
      return;
    }
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new McpAuthError('cancelled', 'sign-in cancelled'));
      },
      { once: true },
    );
  });
}

/** After storing a token: this server's needs-auth entries go (the one clearing rule, needsAuthCache.ts). */
async function clearCache(server: ServerConfig, deps: LoginDeps): Promise<string[]> {
  try {
    return await clearNeedsAuth(server, deps, true);
  } catch (e) {
    (deps.logger ?? nullLogger).warn('could not clear the needs-auth cache', e);
    return [];
  }
}

async function register(
  as: AuthorizationServer,
  redirectUri: string,
  scope: string | undefined,
  httpFetch: FetchLike,
  extraGrants: string[] = [],
): Promise<oauth.OmitSymbolProperties<oauth.Client>> {
  try {
    const res = await oauth.dynamicClientRegistrationRequest(
      as,
      {
        client_name: 'Claude Code (mcp-auth)',
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code', 'refresh_token', ...extraGrants],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
        ...(scope ? { scope } : {}),
      } as Partial<oauth.OmitSymbolProperties<oauth.Client>>,
      requestOptions(httpFetch, as.registration_endpoint!),
    );
    return await oauth.processDynamicClientRegistrationResponse(res);
  } catch (e) {
    const m = toMcpAuthError(e, 'client registration');
    throw isMcpAuthError(m) && m.code !== 'timeout' && m.code !== 'network' && m.code !== 'insecure-endpoint'
      ? new McpAuthError('registration-failed', m.message)
      : m;
  }
}

const page = (title: string, h1: string, p: string) => `<!doctype html><meta charset="utf-8"><title>${title}</title>
<body style="font-family:system-ui,sans-serif;margin:4em auto;max-width:32em;text-align:center">
<h1>${h1}</h1><p>${p}</p></body>`;
const DONE_PAGE = page(
  'Signed in',
  'You are signed in',
  'MCP Auth Status stored the token where Claude Code reads it. You can close this tab.',
);
const FAIL_PAGE = page(
  'Sign-in failed',
  'Sign-in did not complete',
  'Go back to your terminal or VS Code for details. You can close this tab.',
);
/** for a request that is not the redirect of the sign-in in progress: says nothing about what was expected */
const BAD_PAGE = page('Not recognised', 'This link is not part of a sign-in in progress', 'You can close this tab.');
const SLOW_PAGE = page(
  'Still finishing',
  'Sign-in is still finishing',
  'Go back to your terminal or VS Code to see whether it completed. You can close this tab.',
);

/** The longest the browser's request for the redirect is held open while the code is exchanged and stored. */
const HOLD_MAX_MS = 120_000;

interface CallbackServer {
  port: number;
  /** only a callback carrying this state ends the wait; any other request to /callback gets a 400 */
  expectState(state: string): void;
  waitForCallback(timeoutMs: number, signal?: AbortSignal): Promise<URLSearchParams>;
  /** answer the held redirect request: the success page only once the token is stored */
  finish(ok: boolean): void;
  /** answers a still-held request with the failure page, then stops listening */
  close(): Promise<void>;
}

/**
 * The listener on 127.0.0.1 for the redirect; closed as soon as the sign-in ends. Requests to /callback
 * without this sign-in's `state` (forged, stale, another tab's, or an `error` with no or a wrong state) are
 * answered 400 and ignored: they cannot end the sign-in. The matching request is held open until finish().
 */
async function startCallbackServer(port: number, log: Logger): Promise<CallbackServer> {
  let waitTimer: NodeJS.Timeout | undefined;
  let resolveParams!: (p: URLSearchParams) => void;
  const got = new Promise<URLSearchParams>((r) => (resolveParams = r));
  let expected: string | undefined;
  let matched = false;
  let ignored = 0;
  let held: { res: http.ServerResponse; timer: NodeJS.Timeout; flushed: Promise<void> } | undefined;

  const answer = (res: http.ServerResponse, status: number, body: string): Promise<void> =>
    new Promise((resolve) => {
      if (res.writableEnded || res.destroyed) return resolve();
      res.on('close', () => resolve());
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(body, () => resolve());
    });
  const answerHeld = (status: number, body: string) => {
    if (!held) return;
    clearTimeout(held.timer);
    const { res } = held;
    held = { ...held, flushed: answer(res, status, body) };
  };

  const srv = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback' || matched) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const state = url.searchParams.get('state');
    if (expected === undefined || state === null || !constantTimeEqual(state, expected)) {
      // never say why: no hint about the expected value to whoever is probing
      if (ignored++ === 0)
        log.warn('ignored a request to the sign-in callback that is not the redirect of this sign-in; still waiting');
      else log.debug('ignored another request to the sign-in callback');
      void answer(res, 400, BAD_PAGE);
      return;
    }
    matched = true;
    // held until the token is stored (finish) or the sign-in ends (close); bounded in any case
    const timer = setTimeout(() => answerHeld(202, SLOW_PAGE), HOLD_MAX_MS);
    timer.unref();
    held = { res, timer, flushed: Promise.resolve() };
    resolveParams(url.searchParams);
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', (e) =>
      reject(
        new McpAuthError(
          'internal',
          `cannot listen on 127.0.0.1:${port} for the sign-in callback (${(e as NodeJS.ErrnoException).code})`,
        ),
      ),
    );
    srv.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (srv.address() as AddressInfo).port;
  log.debug(`callback listener on 127.0.0.1:${actual}`);
  return {
    port: actual,
    expectState(state) {
      expected = state;
    },
    async waitForCallback(timeoutMs, signal) {
      const timeout = new Promise<never>((_, reject) => {
        waitTimer = setTimeout(
          () =>
            reject(new McpAuthError('login-timeout', `no sign-in completed within ${Math.round(timeoutMs / 1000)} s`)),
          timeoutMs,
        );
        signal?.addEventListener('abort', () => reject(new McpAuthError('cancelled', 'sign-in cancelled')));
      });
      try {
        return await Promise.race([got, timeout]);
      } finally {
        clearTimeout(waitTimer);
      }
    },
    finish(ok) {
      answerHeld(ok ? 200 : 400, ok ? DONE_PAGE : FAIL_PAGE);
    },
    async close() {
      // the wait may have lost a race (a pasted address): its timer must not keep the process alive
      clearTimeout(waitTimer);
      if (held && !held.res.writableEnded) answerHeld(400, FAIL_PAGE);
      if (held) {
        // let the last page reach the browser, but not for long
        let t: NodeJS.Timeout | undefined;
        await Promise.race([
          held.flushed,
          new Promise<void>((r) => {
            t = setTimeout(r, 2_000);
          }),
        ]);
        clearTimeout(t);
      }
      await new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      });
    },
  };
}
