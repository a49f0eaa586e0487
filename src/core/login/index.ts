/**
 * The interactive sign-in: one per server across processes (our own lock), then the browser flow (loopback.ts
 * callback, or an address pasted: paste.ts) or the device flow (device.ts), with the client chosen or registered
 * in client.ts and the result stored in Claude Code's shape by store.ts.
 */
import * as path from 'node:path';
import { isRemote, type ServerConfig } from '../config/types';
import { McpAuthError } from '../errors';
import { acquireLock, type LockSpec } from '../lock/lock';
import { nullLogger } from '../log';
import { makeHttp } from '../oauth/client';
import { discoverFromServer, type Discovered } from '../oauth/discovery';
import { assertWritableStore } from '../store/credman';
import { serverKey } from '../store/key';
import type { TokenEntry } from '../store/types';
import { browserSignIn } from './browser';
import { deviceSignIn } from './device';
import { clearCache, usable } from './store';
import type { LoginDeps, LoginOptions, LoginOutcome, SignIn } from './types';

export { requestedScope } from './client';
export type { DeviceCode, LoginDeps, LoginOptions, LoginOutcome } from './types';

/** Our own per-server lock that makes one interactive sign-in serve every process (not a Claude Code lock). */
export function loginLock(secureDir: string, key: string): LockSpec {
  return {
    target: path.join(secureDir, `mcp-auth-login-${key.replace(/[^a-zA-Z0-9]/g, '_')}`),
    stale: 60_000,
    update: 5_000,
  };
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
    // a store that refuses every write (the keychain's overflow item lost): the new grant could not be kept
    if (snap.overflowError)
      throw new McpAuthError(
        snap.overflowError.code,
        `${snap.overflowError.message}; the store cannot be written, so no sign-in was started`,
      );
    return await interactive(
      { server, deps, opts, log, now, key, started, timeoutMs },
      existing,
      snap.data.mcpOAuthClientConfig?.[key]?.clientSecret,
    );
  } finally {
    await lock.release();
  }
}

/** After the lock: discover, then the flow asked for. */
async function interactive(si: SignIn, existing: TokenEntry | undefined, staticSecret: unknown): Promise<LoginOutcome> {
  const http = makeHttp({ fetch: si.deps.fetch, timeoutMs: si.deps.httpTimeoutMs });
  const d: Discovered = await discoverFromServer(si.server, http);
  if (si.opts.device) return deviceSignIn(si, d, existing, staticSecret, http);
  return browserSignIn(si, d, existing, staticSecret, http);
}
