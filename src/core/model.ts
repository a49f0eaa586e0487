import { readCache, type CacheSnapshot } from './cache/needsAuthCache';
import { discoverServers } from './config/discover';
import { isRemote, type ConfigIssue, type ServerConfig } from './config/types';
import { isMcpAuthError, type ErrorCode } from './errors';
import { inspectLock, refreshLock, type LockHolderInfo } from './lock/lock';
import type { ClaudePaths } from './paths';
import { computeStatus, withSpentToken, DEFAULT_SETTINGS, type ServerStatus, type StatusSettings } from './status';
import { FileStore, openStore, type StoreBackend } from './store/backend';
import { otherProfiles, type OtherProfile } from './profiles';
import { serverKey } from './store/key';
import {
  fingerprint,
  readClientRejections,
  readIntents,
  readSpentMarks,
  type IntentRecord,
  type SpentMark,
} from './notes';
import type { StoreSnapshot } from './store/types';
import { discoverConnectors, type ConnectorsOff } from './connectors';
import { isPlainObject, readJsonFile } from './fsutil';
import { sessionsLacking, type LackingSession } from './lacking';
import type { Logger } from './log';
import type { SessionDeps } from './sessions';

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
  /**
   * running Claude Code sessions that started while a needs-auth entry of this server stood, which we have since
   * cleared: they skipped the server and lack it until reconnected or ended (lacking.ts)
   */
  sessionsLacking?: LackingSession[];
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
  /** claude.ai connectors: off (env variable or setting), and the claude.ai organization for the sign-in address */
  connectors?: { off?: ConnectorsOff; organizationUuid?: string };
}

export interface LoadOptions {
  paths: ClaudePaths;
  cwd: string;
  env?: NodeJS.ProcessEnv;
  now?: number;
  settings?: StatusSettings;
  store?: StoreBackend;
  /** debug lines (e.g. session registry files skipped) */
  logger?: Logger;
  /** how running sessions are read and checked (tests) */
  sessions?: SessionDeps;
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
  // refresh tokens never to be sent again (spent marks; intent records whose refresh is not under way)
  const spentMarks = needStore ? await readSpentMarks(opts.paths) : {};
  const intents = needStore ? await readIntents(opts.paths) : {};
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
    const final = withSpentToken(status, storeError ? undefined : spentOf(entry, spentMarks[key], intents[key], lock));
    final.scope = config.scope;
    const row: ServerRow = { config, key, status: final };
    row.hints = hintsFor(row, cfg.definitionsByName[config.name] ?? 0, rejections[key], sharing);
    return row;
  });
  // claude.ai connectors (core/connectors.ts): their own rows, from the needs-auth cache and ~/.claude.json only
  if (!needStore && !cacheError) {
    try {
      cacheSnap = await readCache(opts.paths.needsAuthCacheFile);
    } catch (e) {
      if (!isMcpAuthError(e)) throw e; // reported where the cache matters (remote servers); connectors then come from ~/.claude.json only
    }
  }
  let userConfig: Record<string, unknown> | undefined;
  try {
    const r = await readJsonFile(opts.paths.userConfigFile, 'config');
    if (r && isPlainObject(r.value)) userConfig = r.value;
  } catch (e) {
    if (!isMcpAuthError(e)) throw e; // already reported by discoverServers
  }
  const conn = await discoverConnectors({
    paths: opts.paths,
    projectKey: cfg.projectKey,
    env: opts.env ?? process.env,
    cache: cacheSnap,
    userConfig,
    configured: new Set(cfg.servers.map((s) => s.name)),
  });
  for (const config of conn.servers) {
    const status = computeStatus(
      config,
      {},
      cacheError ? { error: cacheError } : { entry: cacheSnap?.entries[config.name] },
      undefined,
      now,
      opts.settings ?? DEFAULT_SETTINGS,
    );
    servers.push({ config, status });
  }
  // running sessions that still lack a server whose entry we cleared (a hint: never fails the model)
  try {
    const lacking = await sessionsLacking(
      servers.filter((r) => r.key).map((r) => r.config),
      { paths: opts.paths, env: opts.env, logger: opts.logger, sessions: opts.sessions },
    );
    for (const r of servers) {
      const l = lacking.get(r.config.name);
      if (l?.length) r.sessionsLacking = l;
    }
  } catch (e) {
    opts.logger?.debug(`running sessions not read: ${(e as Error)?.message ?? String(e)}`);
  }
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
    connectors: { off: conn.off, organizationUuid: conn.organizationUuid },
  };
}

/**
 * Is the stored refresh token one never to be sent? A spent mark names it (or, once the refresh token was
 * dropped from the entry, the access token beside it); or an intent record names it and no refresh is under
 * way (the lock is free or stale): its sender died between the POST and the write.
 */
function spentOf(
  entry: unknown,
  mark: SpentMark | undefined,
  intent: IntentRecord | undefined,
  lock: LockHolderInfo,
): { cause: 'unstored' | 'answer-lost' | 'interrupted'; at: number } | undefined {
  if (!entry || typeof entry !== 'object') return undefined;
  const e = entry as { refreshToken?: unknown; accessToken?: unknown };
  const rt = typeof e.refreshToken === 'string' && e.refreshToken ? e.refreshToken : undefined;
  if (mark) {
    const names = rt
      ? mark.fingerprint === fingerprint(rt)
      : mark.access !== undefined && typeof e.accessToken === 'string' && mark.access === fingerprint(e.accessToken);
    if (names) return { cause: mark.cause ?? 'unstored', at: mark.at };
  }
  if (intent && rt && intent.fingerprint === fingerprint(rt) && (!lock.held || lock.stale))
    return { cause: 'interrupted', at: intent.at };
  return undefined;
}
