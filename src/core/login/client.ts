import * as oauth from 'oauth4webapi';
import { McpAuthError, isMcpAuthError } from '../errors';
import { rememberSecret } from '../log';
import { requestOptions, toMcpAuthError, type AuthorizationServer } from '../oauth/client';
import { sameIssuer } from '../oauth/discovery';
import type { FetchLike } from '../oauth/http';
import type { TokenEntry } from '../store/types';
import { missingScopes, scopeList } from '../status';
import type { ChosenClient, SignIn, UsedClient } from './types';

/**
 * Step 1, choose the client: the stored one (same issuer), else the configured static id, else none yet
 * (registered once the redirect URI is known). A static client's secret lives in mcpOAuthClientConfig,
 * never in the mcpOAuth entry: whenever the client in use is the configured static one, that is where its
 * secret comes from.
 */
export function chooseClient(
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

/** The chosen client, or a new one registered dynamically (RFC 7591) when there is none. */
export async function clientOrRegister(
  si: SignIn,
  as: AuthorizationServer,
  chosen: ChosenClient,
  redirectUri: string,
  scope: string | undefined,
  http: FetchLike,
  extraGrants: string[] = [],
): Promise<UsedClient> {
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
