import * as oauth from 'oauth4webapi';
import type { ServerConfig } from './config/types';
import { McpAuthError } from './errors';
import { nullLogger, rememberSecret, type Logger } from './log';
import { clientAuth, makeHttp, requestOptions, toMcpAuthError } from './oauth/client';
import { authServerForEntry } from './oauth/discovery';
import type { FetchLike } from './oauth/http';
import type { ClaudePaths } from './paths';
import type { StoreBackend } from './store/backend';
import { serverKey } from './store/key';
import { updateEntry } from './store/write';

export interface LogoutOutcome {
  name: string;
  removed: boolean;
  /** tokens the AS confirmed revoked */
  revoked: ('refresh_token' | 'access_token')[];
  revokeError?: McpAuthError;
}

/** RFC 7009 revocation when the AS advertises it, then removal of this server's entry only. */
export async function logout(
  server: ServerConfig,
  deps: { paths: ClaudePaths; store: StoreBackend; logger?: Logger; fetch?: FetchLike; httpTimeoutMs?: number },
  opts: { revoke?: boolean } = {},
): Promise<LogoutOutcome> {
  const log = (deps.logger ?? nullLogger).child(`logout ${server.name}`);
  const key = serverKey(server);
  const snap = await deps.store.read();
  const entry = snap.data.mcpOAuth?.[key];
  if (!entry) return { name: server.name, removed: false, revoked: [] };
  const out: LogoutOutcome = { name: server.name, removed: false, revoked: [] };
  if (opts.revoke !== false && (entry.refreshToken || entry.accessToken)) {
    try {
      const http = makeHttp({ fetch: deps.fetch, timeoutMs: deps.httpTimeoutMs });
      const as = await authServerForEntry(server, entry, http);
      if (!as.revocation_endpoint) {
        log.info('the authorization server advertises no revocation endpoint; removing the tokens locally only');
      } else {
        const clientId = entry.clientId ?? server.oauth?.clientId;
        if (!clientId) throw new McpAuthError('no-credentials', 'no client id to revoke with');
        const secret = entry.clientSecret ?? snap.data.mcpOAuthClientConfig?.[key]?.clientSecret;
        const auth = clientAuth(as, { clientId, clientSecret: typeof secret === 'string' ? secret : undefined });
        for (const [token, hint] of [[entry.refreshToken, 'refresh_token'], [entry.accessToken, 'access_token']] as const) {
          if (!token) continue;
          rememberSecret(token);
          const res = await oauth.revocationRequest(as, { client_id: clientId }, auth, token, {
            additionalParameters: { token_type_hint: hint }, ...requestOptions(http, as.revocation_endpoint),
          });
          try {
            await oauth.processRevocationResponse(res);
            out.revoked.push(hint);
          } catch (e) {
            // RFC 7009 §2.2.1: an AS may not revoke some token types (e.g. self-contained JWT access tokens,
            // which die with their grant once the refresh token is revoked). Not a failure.
            if (e instanceof oauth.ResponseBodyError && e.error === 'unsupported_token_type' && hint === 'access_token') continue;
            throw e;
          }
        }
      }
    } catch (e) {
      out.revokeError = toMcpAuthError(e, 'revocation');
      log.warn('revocation failed; the tokens are removed locally anyway', out.revokeError);
    }
  }
  const r = await updateEntry(deps.store, deps.paths, key, (cur) => (cur ? undefined : null), { logger: log });
  out.removed = r.written;
  return out;
}
