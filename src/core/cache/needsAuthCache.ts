import * as fs from 'node:fs';
import type { ServerConfig } from '../config/types';
import * as path from 'node:path';
import { McpAuthError, errnoCode, isMcpAuthError } from '../errors';
import { isPlainObject, readJsonFile, writeFileAtomic } from '../fsutil';
import { withSideFileLock } from '../lock/sideLock';
import { serverKey } from '../store/key';
import { isRemote } from '../config/types';
import type { Logger } from '../log';
import type { ClaudePaths } from '../paths';
import { recordCleared } from './cleared';
import { CacheChanged, type Diff, applyDiff, changedSince, lostWrite, openSnapshot, overwritten } from './inPlace';

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

export interface RemoveOptions {
  logger?: Logger;
  /** when the clear happened (for the record of windows, cache/cleared.ts); default now */
  at?: number;
  /** test-only: called after the temp file is written, before the last check (a write in place here is seen) */
  beforeRename?: () => void;
  /** test-only: called after the last check, just before the rename (a write in place here goes to the file we replace) */
  atRename?: () => void;
}

/** Rounds given up before the rename because the file changed under us; then `cache-write` (busy), nothing written. */
const MAX_TRIES = 6;
/** Rounds at most, re-applying writes that went into a file we had just replaced included. */
const MAX_ROUNDS = 24;
/**
 * Once we owe the file a repair (a write in place landed in the file we replaced), giving up would lose Claude
 * Code's entry: the repair is tried for this long past MAX_ROUNDS, pausing a little after each collision.
 */
const REPAIR_MS = 20_000;

/**
 * Remove some keys from the needs-auth cache: re-read, delete, write atomically (temp + rename) keeping the
 * file's mode and every other entry. `names` sees each entry as it is in the file being rewritten, so a caller can
 * remove only the entry it judged (same timestamp), never a newer one written meanwhile. A missing file or no
 * matching key writes nothing. A file that is not valid JSON is never rewritten (cache-parse).
 *
 * Our rewrites are serialized by a lock of ours (`mcp-needs-auth-cache.json.lock`, lock/sideLock.ts). Claude
 * Code writes this file in place (truncate + write, no lock, no rename), which we cannot make it stop doing, so
 * each round keeps the file it read open:
 * - just before the rename, that file is checked again (same file at the path, same bytes); changed → the round
 *   is given up and starts over from the new content; after MAX_TRIES such rounds: `cache-write` with reason
 *   `busy`, and nothing is written (never an unchecked write);
 * - after the rename, the file we replaced is read once more through the handle: a write in place that landed
 *   in it between our last check and the rename is no longer at the path, so what it changed (against what we
 *   had read) is applied to the file now at the path, our removal applied again, and written the same way.
 *   Claude Code's entries are not lost. A write in place that had read the file before such a repair and lands
 *   after it takes the repair back out: the file is looked at once more after a repair, and repaired again.
 *   A repair that is owed is never given up for the rounds' limit (REPAIR_MS past it).
 * Every removal is remembered with the window its entry stood (cache/cleared.ts: sessions that started inside
 * it still lack the server); `opts.at` is the clear's time.
 */
export async function removeCacheEntries(
  file: string,
  names: (name: string, entry: unknown) => boolean,
  opts: RemoveOptions = {},
): Promise<RemoveResult> {
  try {
    await fs.promises.stat(file);
  } catch (e) {
    // nothing to remove (and never a lock, or a folder, created for nothing)
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return { removed: [], written: false };
  }
  try {
    return await withSideFileLock(file, () => removeLocked(file, names, opts), { logger: opts.logger });
  } catch (e) {
    if (isMcpAuthError(e) && e.code === 'lock-timeout')
      throw new McpAuthError(
        'cache-write',
        `${file}: another mcp-auth process is rewriting it (${e.message})`,
        { file, reason: 'busy' },
        { cause: e },
      );
    throw e;
  }
}

async function removeLocked(
  file: string,
  names: (name: string, entry: unknown) => boolean,
  opts: RemoveOptions,
): Promise<RemoveResult> {
  const removed = new Set<string>();
  const entries = new Map<string, unknown>();
  let written = false;
  let pending: Diff | undefined;
  let tries = 0;
  let repairUntil = 0;
  for (let round = 0; ; round++) {
    if (round >= MAX_ROUNDS && !(pending && Date.now() < repairUntil))
      throw new McpAuthError(
        'cache-write',
        `${file} kept being written by another process while we rewrote it; some of its entries may be lost`,
        { file },
      );
    const snap = await openSnapshot(file);
    if (!snap) return { removed: [...removed], written }; // deleted meanwhile (Claude Code clears it whole)
    let renamed = false;
    try {
      const obj = snap.value;
      const repairing = pending;
      if (pending) applyDiff(obj, pending);
      const now = Object.keys(obj).filter((n) => names(n, obj[n]));
      if (now.length === 0 && !pending) return { removed: [...removed], written };
      const judged = now.map((k) => [k, obj[k]] as const);
      for (const k of now) delete obj[k];
      try {
        await writeFileAtomic(file, JSON.stringify(obj), {
          mode: snap.mode,
          beforeRename: () => {
            opts.beforeRename?.();
            if (changedSince(file, snap)) throw new CacheChanged();
            opts.atRename?.();
          },
        });
        renamed = true;
      } catch (e) {
        if (!(e instanceof CacheChanged))
          throw new McpAuthError(
            'cache-write',
            `cannot write ${file} (${errnoCode(e) ?? 'error'})`,
            { file },
            { cause: e },
          );
      }
      if (!renamed) {
        // nothing written this round; once we have given up too often, stop — unless we owe the file a repair
        if (++tries >= MAX_TRIES && !pending)
          throw new McpAuthError(
            'cache-write',
            `${file} kept changing while we rewrote it (${tries} tries); left as it is`,
            { file, reason: 'busy' },
          );
        // a writer is busy with the file: let it finish before we read it again
        if (pending) await new Promise((r) => setTimeout(r, 2 + Math.floor(Math.random() * 8)));
        continue;
      }
      written = true;
      for (const k of now) removed.add(k);
      for (const [k, v] of judged) entries.set(k, v);
      pending = await lostWrite(snap, opts.logger);
      // a repair adds back entries the file at the path lacked: a write in place that had read the file before
      // our rename and lands after it puts the file back without them; look once more, and repair again
      if (!pending && repairing) pending = await overwritten(file, repairing, names);
      if (pending && !repairUntil) repairUntil = Date.now() + REPAIR_MS;
      if (!pending) {
        await recordCleared(
          file,
          [...entries].map(([name, entry]) => ({ name, entry })),
          opts.at ?? Date.now(),
        );
        return { removed: [...removed], written };
      }
      opts.logger?.info(`${path.basename(file)} was written in place while we replaced it; applying that write again`);
    } finally {
      await snap.handle.close().catch(() => {});
    }
  }
}

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
      { logger: deps.logger },
    );
    if (r.removed.length)
      deps.logger?.info(
        `removed needs-auth entries older than the token another process stored: ${r.removed.join(', ')}`,
      );
    return r.removed;
  }
  const r = await removeCacheEntries(file, (n) => names.has(n), { logger: deps.logger });
  if (r.removed.length) deps.logger?.info(`removed needs-auth entries: ${r.removed.join(', ')}`);
  return r.removed;
}
