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
import type { TokenEntry } from './store/types';

export interface LogoutOutcome {
  name: string;
  removed: boolean;
  /** tokens the AS confirmed revoked */
  revoked: TokenHint[];
  revokeError?: McpAuthError;
}

/**
 * Sign out of one server: removal of this server's entry only, then RFC 7009 revocation of what it held when
 * the AS advertises it. The removal happens under the server's refresh lock (Claude Code's, waited for as a
 * refresh waits; Claude Code 2.1.332 takes the same lock when it clears a sign-in), so a refresh under way
 * finishes first and its new tokens are the ones removed and revoked — and a refresh can never write the entry
 * back after the sign-out (a refresh that finds the key missing does not recreate it). The network (metadata,
 * revocation) comes after the lock is released: the hold lasts one read and one write, well inside the 5 s
 * Claude Code waits for this lock before it goes ahead without it.
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
  const out: LogoutOutcome = { name: server.name, removed: false, revoked: [] };
  let entry: TokenEntry | undefined;
  let staticSecret: unknown;
  const lock = await acquireLock(refreshLock(deps.paths.secureDir, key), {
    timeoutMs: deps.lockTimeoutMs ?? 30_000,
    logger: log,
    onWait: () => log.info('a refresh of this server is under way; waiting for it to finish'),
  });
  try {
    const r = await updateEntry(
      deps.store,
      deps.paths,
      key,
      (cur, data) => {
        entry = cur;
        staticSecret = data.mcpOAuthClientConfig?.[key]?.clientSecret;
        return cur ? undefined : null;
      },
      { logger: log },
      {
        guard: () => lock.assertHeld('removing the entry'),
      },
    );
    out.removed = r.written;
  } finally {
    await lock.release();
  }
  if (!entry || !out.removed || opts.revoke === false || !(entry.refreshToken || entry.accessToken)) return out;
  try {
    const http = makeHttp({ fetch: deps.fetch, timeoutMs: deps.httpTimeoutMs });
    const as = await authServerForEntry(server, entry, http);
    if (!as.revocation_endpoint) {
      log.info('the authorization server advertises no revocation endpoint; the tokens were removed locally only');
    } else {
      const clientId = entry.clientId ?? server.oauth?.clientId;
      if (!clientId) throw new McpAuthError('no-credentials', 'no client id to revoke with');
      const secret = entry.clientSecret ?? staticSecret;
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
  return out;
}
