import { assertWritableStore } from './store/credman';
import type { ServerConfig } from './config/types';
import { McpAuthError } from './errors';
import { acquireLock, refreshLock } from './lock/lock';
import { nullLogger, type Logger } from './log';
import { makeHttp, toMcpAuthError } from './oauth/client';
import { authServerForEntry } from './oauth/discovery';
import type { FetchLike } from './oauth/http';
import { revokeTokens, type TokenHint } from './oauth/revoke';
import type { ClaudePaths } from './paths';
import type { StoreBackend } from './store/backend';
import { serverKey } from './store/key';
import { updateEntry } from './store/write';

export interface LogoutOutcome {
  name: string;
  removed: boolean;
  /** tokens the AS confirmed revoked */
  revoked: TokenHint[];
  revokeError?: McpAuthError;
}

/**
 * Sign out of one server: RFC 7009 revocation when the AS advertises it, then removal of this server's
 * entry only. It holds the server's refresh lock (Claude Code's, waited for as a refresh waits) from the
 * read to the removal, so a refresh under way finishes first and its new tokens are the ones revoked and
 * removed — a refresh can never write its entry back after the sign-out.
 */
export async function logout(
  server: ServerConfig,
  deps: {
    paths: ClaudePaths;
    store: StoreBackend;
    logger?: Logger;
    fetch?: FetchLike;
    httpTimeoutMs?: number;
    lockTimeoutMs?: number;
  },
  opts: { revoke?: boolean } = {},
): Promise<LogoutOutcome> {
  if (server.problem) throw new McpAuthError(server.problem.code, server.problem.message);
  assertWritableStore(deps.store);
  const log = (deps.logger ?? nullLogger).child(`logout ${server.name}`);
  const key = serverKey(server);
  const lock = await acquireLock(refreshLock(deps.paths.secureDir, key), {
    timeoutMs: deps.lockTimeoutMs ?? 30_000,
    logger: log,
    onWait: () => log.info('a refresh of this server is under way; waiting for it to finish'),
  });
  try {
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
          out.revoked = await revokeTokens(
            as,
            { clientId, clientSecret: typeof secret === 'string' ? secret : undefined },
            entry,
            http,
          );
        }
      } catch (e) {
        out.revokeError = toMcpAuthError(e, 'revocation');
        log.warn('revocation failed; the tokens are removed locally anyway', out.revokeError);
      }
    }
    const r = await updateEntry(
      deps.store,
      deps.paths,
      key,
      (cur) => (cur ? undefined : null),
      { logger: log },
      {
        guard: () => lock.assertHeld('removing the entry'),
      },
    );
    out.removed = r.written;
    return out;
  } finally {
    await lock.release();
  }
}
