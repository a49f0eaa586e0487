import * as oauth from 'oauth4webapi';
import { McpAuthError } from '../errors';
import { rememberSecret } from '../log';
import { clientAuth, requestOptions, type AuthorizationServer, type ClientCredentials } from './client';
import type { FetchLike } from './http';

export type TokenHint = 'refresh_token' | 'access_token';

/**
 * RFC 7009 revocation of some tokens, refresh token first (revoking it ends the grant at most servers).
 * Returns the hints the server confirmed. An `unsupported_token_type` answer for an access token is not a
 * failure (RFC 7009 §2.2.1: self-contained JWT access tokens die with their grant). Throws on anything else.
 */
export async function revokeTokens(
  as: AuthorizationServer,
  creds: ClientCredentials,
  tokens: { refreshToken?: string; accessToken?: string },
  http: FetchLike,
): Promise<TokenHint[]> {
  if (!as.revocation_endpoint)
    throw new McpAuthError('bad-response', 'the authorization server advertises no revocation endpoint');
  const auth = clientAuth(as, creds);
  const done: TokenHint[] = [];
  for (const [token, hint] of [
    [tokens.refreshToken, 'refresh_token'],
    [tokens.accessToken, 'access_token'],
  ] as const) {
    if (!token) continue;
    rememberSecret(token);
    const res = await oauth.revocationRequest(as, { client_id: creds.clientId }, auth, token, {
      additionalParameters: { token_type_hint: hint },
      ...requestOptions(http, as.revocation_endpoint),
    });
    try {
      await oauth.processRevocationResponse(res);
      done.push(hint);
    } catch (e) {
      if (e instanceof oauth.ResponseBodyError && e.error === 'unsupported_token_type' && hint === 'access_token')
        continue;
      throw e;
    }
  }
  return done;
}
