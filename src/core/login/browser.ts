import * as oauth from 'oauth4webapi';
import { McpAuthError } from '../errors';
import { rememberSecret } from '../log';
import {
  clientAuth,
  processTokenResponse,
  requestOptions,
  toMcpAuthError,
  type AuthorizationServer,
  type TokenSet,
} from '../oauth/client';
import type { Discovered } from '../oauth/discovery';
import type { FetchLike } from '../oauth/http';
import type { TokenEntry } from '../store/types';
import { withSignalsHeld } from '../signals';
import { chooseClient, clientOrRegister, requestedScope } from './client';
import { callbackPort, constantTimeEqual, startCallbackServer } from './loopback';
import { pastedParams } from './paste';
import { storeGrant } from './store';
import { SIGN_IN_HOLD_MS, type LoginOutcome, type SignIn } from './types';

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

/** The browser sign-in, step by step; the callback listener lives exactly as long as it. */
export async function browserSignIn(
  si: SignIn,
  d: Discovered,
  existing: TokenEntry | undefined,
  staticSecret: unknown,
  http: FetchLike,
): Promise<LoginOutcome> {
  const as = d.as;
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
      return storeGrant(si, as, d, scope, tokens, { clientId, clientSecret, entrySecret, registered, redirectUri });
    });
    cb.finish(true); // only now does the browser hear "You are signed in"; any failure before gets the failure page (close)
    return out;
  } finally {
    await cb.close();
  }
}
