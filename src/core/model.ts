import { readCache, type CacheSnapshot } from './cache/needsAuthCache';
import { discoverServers } from './config/discover';
import { isRemote, type ConfigIssue, type ServerConfig } from './config/types';
import { isMcpAuthError, type ErrorCode } from './errors';
import { inspectLock, refreshLock } from './lock/lock';
import type { ClaudePaths } from './paths';
import { computeStatus, DEFAULT_SETTINGS, type ServerStatus, type StatusSettings } from './status';
import { FileStore, openStore, type StoreBackend } from './store/backend';
import { otherProfiles, type OtherProfile } from './profiles';
import { serverKey } from './store/key';
import { readClientRejections } from './notes';
import type { StoreSnapshot } from './store/types';

/** Why a row may need attention beyond its state, as codes (the edges word them). */
export type Hint =
  /** signed in without a refresh token: sign-in needed again when the access token expires */
  | { code: 'no-offline-access'; expiresAt: number }
  /** the name goes to several servers across folders; Claude Code's needs-auth cache keys by name only */
  | { code: 'shared-cache-name'; definitions: number }
  /** the authorization server rejected the stored client registration (invalid_client): register anew */
  | { code: 'client-rejected'; at: number }
  /**
   * a needs-auth entry in a cache file that other secure-storage profiles (CLAUDE_SECURESTORAGE_CONFIG_DIR) share
   * with this one: a session of a profile without a token for the server writes it, and it blocks this profile too
   */
  | { code: 'shared-cache-profiles'; cacheFile: string; profiles: { dir: string; hasToken: boolean }[] };

export interface ServerRow {
  config: ServerConfig;
  /** credential-store key (remote servers) */
  key?: string;
  status: ServerStatus;
  hints?: Hint[];
}

function hintsFor(
  row: ServerRow,
  definitions: number,
  rejected: { clientId: string; at: number } | undefined,
  sharing: { cacheFile: string; others: OtherProfile[] } | undefined,
): Hint[] | undefined {
  const hints: Hint[] = [];
  if (rejected && rejected.clientId === row.status.clientId) hints.push({ code: 'client-rejected', at: rejected.at });
  const s = row.status;
  if (
    s.expiresAt !== undefined &&
    s.expiresAt > 0 &&
    !s.hasRefreshToken &&
    ['signed-in', 'expiring', 'blocked'].includes(s.state)
  ) {
    hints.push({ code: 'no-offline-access', expiresAt: s.expiresAt });
  }
  if (definitions > 1) hints.push({ code: 'shared-cache-name', definitions });
  // only where this profile holds a usable token that the entry blocks, and another profile holds none (its
  // sessions are the ones writing the entry): never blame a profile that has a token
  if (sharing && s.state === 'blocked' && row.key) {
    const key = row.key;
    const profiles = sharing.others.map((p) => ({ dir: p.dir, hasToken: p.usableKeys.has(key) }));
    if (profiles.some((p) => !p.hasToken))
      hints.push({ code: 'shared-cache-profiles', cacheFile: sharing.cacheFile, profiles });
  }
  return hints.length ? hints : undefined;
}

export interface ModelIssue {
  code: string;
  message: string;
  file?: string;
  line?: number;
}

export interface AuthModel {
  servers: ServerRow[];
  issues: ModelIssue[];
  store?: StoreSnapshot;
  cache?: CacheSnapshot;
  configFiles: string[];
  projectKey: string;
  storeLocation: string;
  now: number;
}

export interface LoadOptions {
  paths: ClaudePaths;
  cwd: string;
  env?: NodeJS.ProcessEnv;
  now?: number;
  settings?: StatusSettings;
  store?: StoreBackend;
}

/** Read everything (never writes) and compute every server's state. */
export async function loadModel(opts: LoadOptions): Promise<AuthModel> {
  const now = opts.now ?? Date.now();
  const store = opts.store ?? openStore(opts.paths, { env: opts.env });
  const issues: ModelIssue[] = [];
  const cfg = await discoverServers({ paths: opts.paths, cwd: opts.cwd, env: opts.env });
  issues.push(...cfg.issues.map((i: ConfigIssue) => ({ ...i })));

  let storeSnap: StoreSnapshot | undefined;
  let storeError: { code: ErrorCode; message: string } | undefined;
  let cacheSnap: CacheSnapshot | undefined;
  let cacheError: { code: ErrorCode; message: string } | undefined;
  const needStore = cfg.servers.some(isRemote);
  if (needStore) {
    try {
      storeSnap = await store.read();
    } catch (e) {
      if (!isMcpAuthError(e)) throw e;
      storeError = { code: e.code, message: e.message };
      issues.push({ code: e.code, message: e.message, file: e.details.file, line: e.details.line });
    }
    if (storeSnap?.overflowError) issues.push({ ...storeSnap.overflowError });
    try {
      cacheSnap = await readCache(opts.paths.needsAuthCacheFile);
      for (const name of cacheSnap.invalid) {
        issues.push({
          code: 'cache-invalid',
          message: `${opts.paths.needsAuthCacheFile}: entry "${name}" is malformed (ignored, as Claude Code ignores it)`,
          file: opts.paths.needsAuthCacheFile,
        });
      }
    } catch (e) {
      if (!isMcpAuthError(e)) throw e;
      cacheError = { code: e.code, message: e.message };
      issues.push({ code: e.code, message: e.message, file: e.details.file, line: e.details.line });
    }
  }
  const mcpOAuth = storeSnap?.data.mcpOAuth ?? {};
  // our own notes: stored clients the authorization server rejected (say why: register anew)
  const rejections = needStore ? await readClientRejections(opts.paths) : {};
  // other secure-storage profiles sharing this cache file (file store only: the keychain item follows D)
  const sharing =
    store instanceof FileStore && cacheSnap && Object.keys(cacheSnap.entries).length
      ? { cacheFile: opts.paths.needsAuthCacheFile, others: otherProfiles(opts.paths, now) }
      : undefined;
  const servers = cfg.servers.map((config): ServerRow => {
    if (!isRemote(config) || config.problem) {
      return { config, status: computeStatus(config, {}, {}, undefined, now, opts.settings ?? DEFAULT_SETTINGS) };
    }
    const key = serverKey(config);
    const lock = inspectLock(refreshLock(opts.paths.secureDir, key), now);
    const entry = Object.prototype.hasOwnProperty.call(mcpOAuth, key) ? mcpOAuth[key] : undefined;
    // keychain overflow lost: a server without a usable main-item entry may have had its entry there (backend.ts)
    const lost = storeSnap?.overflowError && !entry?.accessToken ? storeSnap.overflowError : undefined;
    const status = computeStatus(
      config,
      storeError ? { error: storeError } : lost ? { error: lost } : { entry },
      cacheError ? { error: cacheError } : { entry: cacheSnap?.entries[config.name] },
      lock,
      now,
      opts.settings ?? DEFAULT_SETTINGS,
    );
    status.scope = config.scope;
    const row: ServerRow = { config, key, status };
    row.hints = hintsFor(row, cfg.definitionsByName[config.name] ?? 0, rejections[key], sharing);
    return row;
  });
  for (const s of servers) {
    if (s.status.state === 'error' && s.status.reason === 'config-error') {
      issues.push({
        code: s.status.code ?? 'config-invalid',
        message: `${s.config.file}: server "${s.config.name}": ${s.status.message}`,
        file: s.config.file,
      });
    }
  }
  return {
    servers,
    issues,
    store: storeSnap,
    cache: cacheSnap,
    configFiles: cfg.filesRead,
    projectKey: cfg.projectKey,
    storeLocation: store.location,
    now,
  };
}
