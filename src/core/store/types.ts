import type { AtomicWriteOptions } from '../fsutil';
/** One entry of `mcpOAuth` as Claude Code writes it. Unknown fields are kept by every writer. */
export interface TokenEntry {
  serverName?: string;
  serverUrl?: string;
  accessToken?: string;
  refreshToken?: string;
  /** epoch milliseconds; absent = never expires */
  expiresAt?: number;
  scope?: string;
  clientId?: string;
  clientSecret?: string;
  issuer?: string;
  redirectUri?: string;
  stepUpScope?: string;
  discoveryState?: DiscoveryState;
  [other: string]: unknown;
}

export interface DiscoveryState {
  authorizationServerUrl?: string;
  oauthMetadataFound?: boolean;
  authServerMetadataUrl?: string | null;
  resourceMetadataUrl?: string;
  authorizationServerMetadata?: Record<string, unknown>;
  tokenlessRejectedAt?: number;
  [other: string]: unknown;
}

/** The whole credential JSON. `claudeAiOauth` and unknown keys are carried through untouched. */
export type StoreData = Record<string, unknown> & {
  mcpOAuth?: Record<string, TokenEntry>;
  mcpOAuthClientConfig?: Record<string, { clientSecret?: string; [k: string]: unknown }>;
};

export interface StoreSnapshot {
  data: StoreData;
  /** whether the store existed at all */
  exists: boolean;
  /** last write time (file mtime), ms; undefined for the keychain */
  mtimeMs?: number;
  /** file mode (file backend) */
  mode?: number;
  /** description of where the store lives, for people */
  location: string;
  /**
   * macOS keychain: the main item points at an overflow item (Claude Code 2.1.332) that is missing or does not open
   * with its key. `data` is then the main item alone; a server whose entry is not in it with a non-empty
   * `accessToken` may have its real entry in the lost part, so it is this error, never "signed out".
   */
  overflowError?: { code: 'store-overflow-missing' | 'store-overflow-unreadable'; message: string };
}

export interface StoreBackend {
  /** `credman`: Claude Code keeps its tokens in Windows Credential Manager (credman.ts); we neither read nor write it */
  readonly kind: 'file' | 'keychain' | 'credman';
  readonly location: string;
  read(): Promise<StoreSnapshot>;
  /** Write the whole JSON. Callers hold the storage lock. */
  write(data: StoreData, opts?: AtomicWriteOptions): Promise<void>;
}
