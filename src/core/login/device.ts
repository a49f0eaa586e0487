import * as oauth from 'oauth4webapi';
import { McpAuthError, isMcpAuthError } from '../errors';
import { rememberSecret } from '../log';
import { clientAuth, processTokenResponse, requestOptions, toMcpAuthError, type TokenSet } from '../oauth/client';
import type { Discovered } from '../oauth/discovery';
import type { FetchLike } from '../oauth/http';
import type { TokenEntry } from '../store/types';
import { withSignalsHeld } from '../signals';
import { chooseClient, clientOrRegister, requestedScope } from './client';
import { storeGrant } from './store';
import { SIGN_IN_HOLD_MS, type LoginOutcome, type SignIn } from './types';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * RFC 8628 device authorization: the user opens a URL on any device and types a code; we poll the token
 * endpoint at the interval the server asks (longer after `slow_down`) until it answers, the code expires or
 * the sign-in times out. A client registered here asks for the device grant too.
 */
export async function deviceSignIn(
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
      storeGrant(si, as, d, scope, tokens, { clientId, clientSecret, entrySecret, registered, redirectUri }),
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
