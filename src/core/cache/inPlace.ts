// Rewriting a file another program writes in place (truncate + write, no lock, no rename), as Claude Code writes
// the needs-auth cache: read it through a handle kept open, check it again just before our rename, and after the
// rename see what a write in place put into the file we replaced (or took back out of our repair). The rounds
// themselves are needsAuthCache.ts's removeCacheEntries.
import * as fs from 'node:fs';
import { McpAuthError, errnoCode } from '../errors';
import { MAX_JSON_BYTES, isPlainObject, parseStrictJson } from '../fsutil';
import type { Logger } from '../log';

/** A cache that does not parse may be Claude Code's write in place caught half-way: read it again this often. */
const TORN_READS = 5;
const TORN_PAUSE_MS = 20;
/** The file we replaced, caught between Claude Code's truncate and its write: waited for this long at most. */
const LOST_WRITE_WAIT_MS = 3_000;

/** Changes another writer made, as against what we had read: keys set (to their new value) and keys deleted. */
export interface Diff {
  set: Record<string, unknown>;
  deleted: string[];
}

export interface Snapshot {
  handle: fs.promises.FileHandle;
  text: string;
  value: Record<string, unknown>;
  mode: number;
  st: fs.Stats;
}

/** Open the file and read it through the handle (kept open: it names the very file we read). Missing → undefined. */
export async function openSnapshot(file: string): Promise<Snapshot | undefined> {
  for (let attempt = 0; ; attempt++) {
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(file, 'r');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
      throw new McpAuthError('cache-read', `cannot read ${file} (${errnoCode(e) ?? 'error'})`, { file }, { cause: e });
    }
    let keep = false;
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new McpAuthError('cache-read', `${file} is not a regular file`, { file });
      if (st.size > MAX_JSON_BYTES)
        throw new McpAuthError('cache-read', `${file} is too large (${st.size} bytes)`, { file });
      const text = readAll(handle.fd);
      let value: unknown;
      try {
        value = parseStrictJson(text, file, 'cache-parse');
      } catch (e) {
        // Claude Code's write in place, caught between its truncate and its write: look again shortly
        if (attempt + 1 < TORN_READS) {
          await new Promise((r) => setTimeout(r, TORN_PAUSE_MS));
          continue;
        }
        throw e;
      }
      if (!isPlainObject(value))
        throw new McpAuthError('cache-invalid', `${file}: the needs-auth cache is not a JSON object`, { file });
      keep = true;
      return { handle, text, value, mode: st.mode & 0o777, st };
    } finally {
      if (!keep) await handle.close().catch(() => {});
    }
  }
}

/**
 * One read buffer for the process (the reads are synchronous): a fresh 64 KB buffer per chunk made two of them
 * per read of a file of a few hundred bytes, about 0.5 MB of garbage per server the keeper unblocked, and `watch`
 * stood ~0.8 MB higher per server in the seconds after a pass (bench/watch-rss.mjs).
 */
let scratch: Buffer | undefined;

function readAll(fd: number): string {
  scratch ??= Buffer.allocUnsafe(64 * 1024);
  const chunks: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const n = fs.readSync(fd, scratch, 0, scratch.length, pos);
    if (n === 0) break;
    chunks.push(Buffer.from(scratch.subarray(0, n))); // a copy: the buffer is read into again
    pos += n;
    if (pos > MAX_JSON_BYTES) break;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Just before our rename: is the file at the path still the one we read, with the bytes we read? */
export function changedSince(file: string, snap: Snapshot): boolean {
  try {
    const now = fs.statSync(file);
    if (now.ino !== snap.st.ino || now.dev !== snap.st.dev) return true;
    const st = fs.fstatSync(snap.handle.fd);
    if (st.size !== snap.st.size || st.mtimeMs !== snap.st.mtimeMs) return true;
    return readAll(snap.handle.fd) !== snap.text;
  } catch {
    return true;
  }
}

/**
 * After our rename: what a write in place changed in the file we replaced (read through the handle we kept),
 * as against what we had read; undefined when it is as we read it. A write caught half-way is waited for
 * (shortly); one that never completes is left (it was never a valid file to Claude Code either).
 */
export async function lostWrite(snap: Snapshot, log: Logger | undefined): Promise<Diff | undefined> {
  const until = Date.now() + LOST_WRITE_WAIT_MS;
  for (;;) {
    let text: string;
    try {
      text = readAll(snap.handle.fd);
    } catch {
      return undefined;
    }
    if (text === snap.text) return undefined;
    let theirs: unknown;
    try {
      theirs = JSON.parse(text);
    } catch {
      if (Date.now() < until) {
        await new Promise((r) => setTimeout(r, TORN_PAUSE_MS));
        continue;
      }
      log?.warn('a write in place of the needs-auth cache never completed; left out');
      return undefined;
    }
    if (!isPlainObject(theirs)) return undefined;
    const base = JSON.parse(snap.text) as Record<string, unknown>;
    const diff: Diff = { set: {}, deleted: [] };
    for (const [k, v] of Object.entries(theirs))
      if (!(k in base) || JSON.stringify(base[k]) !== JSON.stringify(v)) diff.set[k] = v;
    for (const k of Object.keys(base)) if (!(k in theirs)) diff.deleted.push(k);
    return Object.keys(diff.set).length || diff.deleted.length ? diff : undefined;
  }
}

/** How long after a repair we look whether a write in place put the file back without it. */
const REPAIR_CHECK_MS = 30;

/**
 * After a repair's rename: the entries it added back that the file at the path lacks again (a write in place
 * based on what the file held before the repair); undefined when they are all there (or the file is gone or not
 * readable now: the next write of ours starts from it anyway). Entries we remove ourselves are not owed.
 */
export async function overwritten(
  file: string,
  repaired: Diff,
  names: (name: string, entry: unknown) => boolean,
): Promise<Diff | undefined> {
  await new Promise((r) => setTimeout(r, REPAIR_CHECK_MS));
  let now: unknown;
  for (let attempt = 0; ; attempt++) {
    try {
      now = JSON.parse(fs.readFileSync(file, 'utf8'));
      break;
    } catch {
      // gone, or a write in place caught half-way: look again shortly, then leave it to the next write
      if (attempt + 1 >= TORN_READS) return undefined;
      await new Promise((r) => setTimeout(r, TORN_PAUSE_MS));
    }
  }
  if (!isPlainObject(now)) return undefined;
  const set: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(repaired.set)) if (!(k in now) && !names(k, v)) set[k] = v;
  return Object.keys(set).length ? { set, deleted: [] } : undefined;
}

export function applyDiff(obj: Record<string, unknown>, d: Diff): void {
  for (const [k, v] of Object.entries(d.set)) obj[k] = v;
  for (const k of d.deleted) delete obj[k];
}

export class CacheChanged extends Error {}
