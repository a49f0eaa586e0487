import type { ServerConfig } from '../config/types';
import type { Logger } from '../log';
import type { FetchLike } from '../oauth/http';
import type { ClaudePaths } from '../paths';
import type { StoreBackend } from '../store/backend';

/** How long a sign-in's code exchange and write may hold off a termination signal. */
export const SIGN_IN_HOLD_MS = 35_000;

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

/** What one sign-in carries from step to step. */
export interface SignIn {
  server: ServerConfig;
  deps: LoginDeps;
  opts: LoginOptions;
  log: Logger;
  now: () => number;
  key: string;
  started: number;
  timeoutMs: number;
}

export interface ChosenClient {
  clientId?: string;
  clientSecret?: string;
  /**
   * The secret to keep in the mcpOAuth entry: that of the stored registration reused, never the static
   * client's (it lives in mcpOAuthClientConfig), never the one of a client no longer in use.
   */
  entrySecret?: string;
  redirectUri?: string;
}

/** The client a sign-in goes on with: chosen or just registered. */
export interface UsedClient {
  clientId: string;
  clientSecret?: string;
  entrySecret?: string;
  registered: boolean;
}
