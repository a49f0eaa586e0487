import * as fs from 'node:fs';
import * as path from 'node:path';
import { isPlainObject, readJsonFile, writeFileAtomic } from '../fsutil';
import { sessionsDirOf } from '../sessions';

/**
 * Our record of the needs-auth entries we cleared, and the window each stood: from its timestamp to our clear.
 * A Claude Code session reads the cache once, at its start, and keeps that read for its life (claude-code-format.md
 * "Running sessions"): one that started inside such a window skipped the server and still lacks it. The record
 * holds names and times only (never a token), in a file of ours beside the cache
 * (`D/mcp-auth-cleared.json`, 0600, temp + rename); nothing of Claude Code's reads it.
 * Best effort and last writer wins: losing a window loses a hint, never a token.
 */
export interface ClearedWindow {
  /** the entry's timestamp (epoch ms): when it began to stand */
  timestamp: number;
  /** the entry's own ttlMs, if it had one (the window ends at the TTL if that came first) */
  ttlMs?: number;
  /** when we removed it (epoch ms) */
  clearedAt: number;
}

export type ClearedRecord = Record<string, ClearedWindow[]>;

/**
 * A session whose own connect failed is the one that wrote the entry: it started a little before the entry's
 * timestamp (its connect, discovery and registration come first: 0.45 s measured with Claude Code 2.1.328 against a
 * loopback server) and lacks the server just the same. Kept short: a session that started this little before
 * and connected fine would be named too.
 */
export const WRITER_LEAD_MS = 10_000;
/** at most this many windows per name (the newest) */
const MAX_WINDOWS = 8;

export const clearedFileOf = (cacheFile: string): string => path.join(path.dirname(cacheFile), 'mcp-auth-cleared.json');

/** The record, as far as it is readable (a missing or unreadable record is an empty one). */
export async function readCleared(cacheFile: string): Promise<ClearedRecord> {
  const out: ClearedRecord = {};
  try {
    const r = await readJsonFile(clearedFileOf(cacheFile), 'cache');
    if (!r || !isPlainObject(r.value) || !isPlainObject(r.value.cleared)) return out;
    for (const [name, list] of Object.entries(r.value.cleared)) {
      if (!Array.isArray(list)) continue;
      const ws = list.filter(
        (w): w is ClearedWindow =>
          isPlainObject(w) &&
          typeof w.timestamp === 'number' &&
          Number.isFinite(w.timestamp) &&
          typeof w.clearedAt === 'number' &&
          Number.isFinite(w.clearedAt) &&
          (w.ttlMs === undefined || (typeof w.ttlMs === 'number' && w.ttlMs >= 0)),
      );
      if (ws.length) out[name] = ws.map((w) => ({ timestamp: w.timestamp, ttlMs: w.ttlMs, clearedAt: w.clearedAt }));
    }
  } catch {
    /* unreadable: no windows */
  }
  return out;
}

/** The window (start, end) during which a session that started skipped the server: lead, TTL and clear applied. */
export function windowBounds(w: ClearedWindow, ttlMs: number): { from: number; to: number } {
  return { from: w.timestamp - WRITER_LEAD_MS, to: Math.min(w.clearedAt, w.timestamp + (w.ttlMs ?? ttlMs)) };
}

/** Did a session that started at `startedAt` start while this window stood (`ttlMs`: the TTL Claude Code gave the entry)? */
export function startedInWindow(startedAt: number, w: ClearedWindow, ttlMs: number): boolean {
  const { from, to } = windowBounds(w, ttlMs);
  return startedAt >= from && startedAt <= to;
}

/** The start times of every registered session (live or not: a cheap bound for pruning, no process checks). */
function registeredStarts(cacheFile: string): number[] {
  const dir = sessionsDirOf(path.dirname(cacheFile));
  const out: number[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    if (!/^[0-9]+\.json$/.test(n)) continue;
    try {
      const v: unknown = JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8'));
      if (isPlainObject(v) && typeof v.startedAt === 'number') out.push(v.startedAt);
    } catch {
      /* skipped */
    }
  }
  return out;
}

/**
 * Remember the windows of entries just removed from `cacheFile` (by any of our clear paths: removeCacheEntries
 * calls this after its write). Windows no registered session started in are dropped, so the record stays small.
 * Never throws: a failure here must not turn a successful clear into an error.
 */
export async function recordCleared(
  cacheFile: string,
  removed: { name: string; entry: unknown }[],
  clearedAt: number,
): Promise<void> {
  try {
    const starts = registeredStarts(cacheFile);
    const inAny = (w: ClearedWindow) => starts.some((s) => s >= w.timestamp - WRITER_LEAD_MS && s <= w.clearedAt);
    const rec = await readCleared(cacheFile);
    for (const { name, entry } of removed) {
      if (!isPlainObject(entry) || typeof entry.timestamp !== 'number' || !Number.isFinite(entry.timestamp)) continue;
      const w: ClearedWindow = { timestamp: entry.timestamp, clearedAt };
      if (typeof entry.ttlMs === 'number' && entry.ttlMs >= 0) w.ttlMs = entry.ttlMs;
      (rec[name] ??= []).push(w);
    }
    let changed = false;
    for (const [name, list] of Object.entries(rec)) {
      const keep = list.filter(inAny).slice(-MAX_WINDOWS);
      if (keep.length !== list.length) changed = true;
      if (keep.length) rec[name] = keep;
      else delete rec[name];
    }
    const file = clearedFileOf(cacheFile);
    if (!changed && removed.length === 0) return;
    if (Object.keys(rec).length === 0) {
      // nothing left to remember: no file (or remove ours)
      await fs.promises.unlink(file).catch(() => {});
      return;
    }
    await writeFileAtomic(file, JSON.stringify({ cleared: rec }, null, 2), { mode: 0o600 });
  } catch {
    /* a lost window is a lost hint */
  }
}
