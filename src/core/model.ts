import { readCache, type CacheSnapshot } from './cache/cache';
import { discoverServers } from './config/discover';
import { isRemote, type ConfigIssue, type ServerConfig } from './config/types';
import { isMcpAuthError, type ErrorCode } from './errors';
import { inspectLock, refreshLock } from './lock/lock';
import type { ClaudePaths } from './paths';
import { computeStatus, DEFAULT_SETTINGS, type ServerStatus, type StatusSettings } from './status';
import { openStore, type StoreBackend } from './store/backend';
import { serverKey } from './store/key';
import type { StoreSnapshot } from './store/types';

export interface ServerRow {
  config: ServerConfig;
  /** credential-store key (remote servers) */
  key?: string;
  status: ServerStatus;
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
    try { storeSnap = await store.read(); } catch (e) {
      if (!isMcpAuthError(e)) throw e;
      storeError = { code: e.code, message: e.message };
      issues.push({ code: e.code, message: e.message, file: e.details.file, line: e.details.line });
    }
    try {
      cacheSnap = await readCache(opts.paths.needsAuthCacheFile);
      for (const name of cacheSnap.invalid) {
        issues.push({ code: 'cache-invalid', message: `${opts.paths.needsAuthCacheFile}: entry "${name}" is malformed (ignored, as Claude Code ignores it)`, file: opts.paths.needsAuthCacheFile });
      }
    } catch (e) {
      if (!isMcpAuthError(e)) throw e;
      cacheError = { code: e.code, message: e.message };
      issues.push({ code: e.code, message: e.message, file: e.details.file, line: e.details.line });
    }
  }
  const mcpOAuth = storeSnap?.data.mcpOAuth ?? {};
  const servers = cfg.servers.map((config): ServerRow => {
    if (!isRemote(config) || config.problem) {
      return { config, status: computeStatus(config, {}, {}, undefined, now, opts.settings ?? DEFAULT_SETTINGS) };
    }
    const key = serverKey(config);
    const lock = inspectLock(refreshLock(opts.paths.secureDir, key), now);
    const status = computeStatus(
      config,
      storeError ? { error: storeError } : { entry: Object.prototype.hasOwnProperty.call(mcpOAuth, key) ? mcpOAuth[key] : undefined },
      cacheError ? { error: cacheError } : { entry: cacheSnap?.entries[config.name] },
      lock,
      now,
      opts.settings ?? DEFAULT_SETTINGS,
    );
    status.scope = config.scope;
    return { config, key, status };
  });
  for (const s of servers) {
    if (s.status.state === 'error' && s.status.reason === 'config-error') {
      issues.push({ code: s.status.code ?? 'config-invalid', message: `${s.config.file}: server "${s.config.name}": ${s.status.message}`, file: s.config.file });
    }
  }
  return {
    servers, issues, store: storeSnap, cache: cacheSnap, configFiles: cfg.filesRead, projectKey: cfg.projectKey,
    storeLocation: store.location, now,
  };
}
