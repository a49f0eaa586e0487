import * as fs from 'node:fs';
import type { ServerConfig } from '../config/types';
import { McpAuthError, errnoCode } from '../errors';
import { isPlainObject, readJsonFile, writeFileAtomic } from '../fsutil';
import { serverKey } from '../store/key';
import { isRemote } from '../config/types';
import type { Logger } from '../log';
import type { ClaudePaths } from '../paths';
import { recordCleared } from './cleared';

export interface CacheEntry {
  timestamp: number;
  ttlMs?: number;
  [other: string]: unknown;
}

export interface CacheSnapshot {
  entries: Record<string, CacheEntry>;
  /** entries whose shape is wrong, by name (ignored, as Claude Code ignores them, but reported) */
  invalid: string[];
  exists: boolean;
  mtimeMs?: number;
}

export const DEFAULT_TTL_MS = 15 * 60_000;
export const LONG_TTL_MS = 4 * 60 * 60_000;
export const CLOCK_SKEW_MS = 60_000;

export async function readCache(file: string): Promise<CacheSnapshot> {
  const r = await readJsonFile(file, 'cache');
  if (!r) return { entries: {}, invalid: [], exists: false };
  if (!isPlainObject(r.value))
    throw new McpAuthError('cache-invalid', `${file}: the needs-auth cache is not a JSON object`, { file });
  const entries: Record<string, CacheEntry> = {};
  const invalid: string[] = [];
  for (const [name, e] of Object.entries(r.value)) {
    if (
      isPlainObject(e) &&
      typeof e.timestamp === 'number' &&
      Number.isFinite(e.timestamp) &&
      (e.ttlMs === undefined || (typeof e.ttlMs === 'number' && e.ttlMs >= 0))
    )
      entries[name] = e as CacheEntry;
    else invalid.push(name);
  }
  return { entries, invalid, exists: true, mtimeMs: r.mtimeMs };
}

/** The TTL Claude Code applies to an entry: 15 min; 4 h for claude.ai connectors and plugin http/sse servers without static headers; an entry's ttlMs wins. */
export function ttlFor(
  server: Pick<ServerConfig, 'scope' | 'transport' | 'headers' | 'name'> | undefined,
  entry: CacheEntry,
): number {
  if (typeof entry.ttlMs === 'number') return entry.ttlMs;
  if (!server) return DEFAULT_TTL_MS;
  const remote = isRemote(server);
  const noStaticHeaders = !server.headers || Object.keys(server.headers).length === 0;
  if (server.scope === 'plugin' && remote && noStaticHeaders) return LONG_TTL_MS;
  if (server.name.startsWith('claude.ai ')) return LONG_TTL_MS;
  return DEFAULT_TTL_MS;
}

/** Is the entry still in force: within its TTL, and not dated more than the tolerated skew in the future. */
export function isFresh(entry: CacheEntry, ttlMs: number, now: number): boolean {
  if (entry.timestamp > now + CLOCK_SKEW_MS) return false;
  return now - entry.timestamp < ttlMs;
}

export interface RemoveResult {
  removed: string[];
  /** false when there was nothing to remove (the file was left alone) */
  written: boolean;
}

/**
 * Remove some keys from the needs-auth cache: re-read, delete, write atomically (temp + rename) keeping the
 * file's mode and every other entry. `names` sees each entry as it is in the file being rewritten, so a caller can
 * remove only the entry it judged (same timestamp), never a newer one written meanwhile. Claude Code writes this file in place with no lock, so just before
 * the rename the file is checked again; if it changed since it was read, the removal starts over from the
 * new content (a few times at most). A missing file or no matching key writes nothing. A file that is not
 * valid JSON is never rewritten (cache-parse). Every removal is remembered with the window its entry stood
 * (cache/cleared.ts: sessions that started inside it still lack the server); `opts.at` is the clear's time.
 */
export async function removeCacheEntries(
  file: string,
  names: (name: string, entry: unknown) => boolean,
  opts: { at?: number } = {},
): Promise<RemoveResult> {
  for (let attempt = 0; ; attempt++) {
    const r = await readJsonFile(file, 'cache');
    if (!r) return { removed: [], written: false };
    if (!isPlainObject(r.value))
      throw new McpAuthError('cache-invalid', `${file}: the needs-auth cache is not a JSON object`, { file });
    const obj = r.value;
    const removed = Object.keys(obj).filter((n) => names(n, obj[n]));
    if (removed.length === 0) return { removed, written: false };
    const entries = removed.map((name) => ({ name, entry: obj[name] }));
    for (const k of removed) delete obj[k];
    const changedSinceRead = () => {
      try {
        const st = fs.statSync(file);
        return st.mtimeMs !== r.mtimeMs || st.size !== Buffer.byteLength(r.text);
      } catch {
        return true;
      }
    };
    try {
      await writeFileAtomic(file, JSON.stringify(obj), {
        mode: r.mode,
        beforeRename: () => {
          if (attempt < 4 && changedSinceRead()) throw new CacheChanged();
        },
      });
    } catch (e) {
      if (e instanceof CacheChanged) continue;
      throw new McpAuthError(
        'cache-write',
        `cannot write ${file} (${errnoCode(e) ?? 'error'})`,
        { file },
        { cause: e },
      );
    }
    await recordCleared(file, entries, opts.at ?? Date.now());
    return { removed, written: true };
  }
}

class CacheChanged extends Error {}

/**
 * The needs-auth cache names a stored token of `server` answers for: the names of the configured servers
 * whose credential key is the same (Claude Code keys the cache by name only). A server that merely shares
 * the URL — with other headers, so another key and another token — keeps its entry.
 */
export function cacheNamesFor(server: ServerConfig, all: ServerConfig[]): Set<string> {
  const names = new Set([server.name]);
  if (!server.url) return names;
  const key = serverKey(server);
  for (const s of all) if (s.url === server.url && s.name !== server.name && serverKey(s) === key) names.add(s.name);
  return names;
}

/**
 * Remove the needs-auth cache entries of a server. `true`: we just stored a token. `{ changedSince }`: this
 * process saw the server's own token change after that time, so an entry written no later is older than
 * the token (auto-unblock rule (b), keeper/staleness.ts). Never by the store file's mtime: any write to any
 * key moves it (and the keychain has none), which made every entry look stale and let a server that really
 * rejects the token loop clear → fail → re-add.
 */
export async function clearNeedsAuth(
  server: ServerConfig,
  deps: { paths: ClaudePaths; allServers?: ServerConfig[]; autoClearStaleEntries?: boolean; logger?: Logger },
  always: boolean | { changedSince: number },
): Promise<string[]> {
  if (always !== true && deps.autoClearStaleEntries === false) return [];
  if (always === false) return [];
  const names = cacheNamesFor(server, deps.allServers ?? [server]);
  const file = deps.paths.needsAuthCacheFile;
  if (always !== true) {
    const since = always.changedSince;
    const r = await removeCacheEntries(
      file,
      (n, e) => names.has(n) && isPlainObject(e) && typeof e.timestamp === 'number' && e.timestamp <= since,
    );
    if (r.removed.length)
      deps.logger?.info(
        `removed needs-auth entries older than the token another process stored: ${r.removed.join(', ')}`,
      );
    return r.removed;
  }
  const r = await removeCacheEntries(file, (n) => names.has(n));
  if (r.removed.length) deps.logger?.info(`removed needs-auth entries: ${r.removed.join(', ')}`);
  return r.removed;
}
