import { clearNeedsAuth } from '../cache/needsAuthCache';
import type { ServerConfig } from '../config/types';
import { nullLogger } from '../log';
import type { AuthorizationServer, TokenSet } from '../oauth/client';
import { discoveryUrlOf, isDefaultEndpoints, type Discovered } from '../oauth/discovery';
import { rememberDiscovery } from '../oauth/metadataCache';
import type { TokenEntry } from '../store/types';
import { persistGrantResult } from '../store/write';
import { missingScopes } from '../status';
import type { LoginDeps, LoginOutcome, SignIn, UsedClient } from './types';

export const usable = (e: TokenEntry | undefined, now: number) =>
  !!e && !!e.accessToken && (e.expiresAt === undefined || e.expiresAt > now);

/**
 * Step 5, store in Claude Code's shape: the whole entry, the stub's tokenlessRejectedAt dropped, unknown fields
 * kept. `scope` is what was asked for: the granted scope when the answer names none (RFC 6749 §5.1). Claude
 * Code's `stepUpScope` goes once the granted scope covers it (else it stays: the server still wants more).
 * Then this server's needs-auth entries go.
 */
export async function storeGrant(
  si: SignIn,
  as: AuthorizationServer,
  d: Discovered,
  scope: string | undefined,
  tokens: TokenSet,
  client: UsedClient & { redirectUri: string },
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
      // a metadata document stored earlier (Claude Code keeps one there) is not what this sign-in discovered:
      // a refresh prefers it, so an old copy would send the new tokens to an endpoint that may have moved
      if (next.discoveryState && !('authorizationServerMetadata' in d.discoveryState))
        delete next.discoveryState.authorizationServerMetadata;
      if (typeof next.stepUpScope === 'string' && missingScopes(next.stepUpScope, next.scope).length === 0)
        delete next.stepUpScope;
      return next;
    },
    { logger: si.log },
  );
  // the token endpoint answered: its metadata serves the first refresh of every process (oauth/metadataCache.ts)
  // (not the default endpoints of a server with no metadata at all: a document only)
  if (!isDefaultEndpoints(as))
    await rememberDiscovery(discoveryUrlOf(si.server, { discoveryState: d.discoveryState } as TokenEntry), as, {
      dir: si.deps.paths.secureDir,
      now: si.now,
    });
  const cleared = await clearCache(si.server, si.deps);
  return {
    name: si.server.name,
    result: 'signed-in',
    expiresAt,
    registeredClient: client.registered,
    clearedCacheEntries: cleared,
  };
}

/** After storing a token: this server's needs-auth entries go (the one clearing rule, needsAuthCache.ts). */
export async function clearCache(server: ServerConfig, deps: LoginDeps): Promise<string[]> {
  try {
    return await clearNeedsAuth(server, deps, true);
  } catch (e) {
    (deps.logger ?? nullLogger).warn('could not clear the needs-auth cache', e);
    return [];
  }
}
