import * as fs from 'node:fs';
import * as path from 'node:path';
import { isPlainObject, writeFileAtomic } from './fsutil';
import { withSideFileLock } from './lock/sideLock';
import type { ClaudePaths } from './paths';
import { hasUsableToken } from './status';
import type { TokenEntry } from './store/types';

/**
 * Secure-storage profiles that share one needs-auth cache.
 *
 * Claude Code keeps the needs-auth cache in the config dir D (`D/mcp-needs-auth-cache.json`, keyed by server name)
 * but the credential store in the secure-storage dir S (`$CLAUDE_SECURESTORAGE_CONFIG_DIR`, else D). Processes
 * that share D but not S share the cache and nothing else: a session of a profile that holds no token for a server
 * writes its needs-auth entry, and every new session of the other profiles then skips that server too — even
 * though their own store holds a working token. (On macOS the keychain item is named after D, so there the
 * profiles share the store as well; this only concerns the file store.)
 *
 * Nothing on disk lists the profiles, so we keep a small record of our own beside the cache,
 * `D/mcp-auth-profiles.json`: `{ "profiles": { "<S>": { "lastSeen": ms } } }`, written (best effort, 0600,
 * atomically, under a lock of ours) by the mcp-auth processes that act (sign-in, refresh, sign-out, watch, the VS Code extension).
 * Besides that record, D itself is a profile whenever S ≠ D and `D/.credentials.json` exists (processes
 * without the override use it). The other profiles' stores are only ever read, never written.
 */

export const profilesFile = (paths: ClaudePaths): string => path.join(paths.configDir, 'mcp-auth-profiles.json');

/** A profile not seen for this long is forgotten. */
const FORGET_AFTER_MS = 90 * 24 * 3600_000;
/** lastSeen is rewritten at most this often (one write a day, not one per command). */
const REWRITE_AFTER_MS = 24 * 3600_000;

/** A CLI run records its profile on its way out: it does not wait long for the lock (a hint lost, never a token). */
const PROFILE_LOCK_WAIT_MS = 3_000;

type Registry = Record<string, { lastSeen: number }>;

function readRegistry(paths: ClaudePaths): Registry {
  const out: Registry = {};
  try {
    const v: unknown = JSON.parse(fs.readFileSync(profilesFile(paths), 'utf8'));
    const profiles = isPlainObject(v) ? v.profiles : undefined;
    if (isPlainObject(profiles)) {
      for (const [dir, e] of Object.entries(profiles)) {
        if (path.isAbsolute(dir) && isPlainObject(e) && typeof e.lastSeen === 'number')
          out[dir] = { lastSeen: e.lastSeen };
      }
    }
  } catch {
    /* missing or unreadable: no record (a hint lost, never a token) */
  }
  return out;
}

const same = (a: string, b: string) => path.resolve(a) === path.resolve(b);

/**
 * Note that this process's secure-storage dir uses this config dir. Best effort: never throws. The
 * read-modify-write runs under a small lock of ours (`mcp-auth-profiles.json.lock`, lock/sideLock.ts), so that
 * processes of several profiles recording at once do not drop each other.
 */
export async function recordProfile(paths: ClaudePaths, now: number = Date.now()): Promise<void> {
  try {
    const me = path.resolve(paths.secureDir);
    // nothing to do without a write (read without the lock: most calls stop here)
    if (!changeRegistry(readRegistry(paths), me, now)) return;
    // only where Claude Code's config dir exists: never create it (or a lock in it) for a record of ours
    if (!fs.existsSync(paths.configDir)) return;
    const file = profilesFile(paths);
    await withSideFileLock(
      file,
      async () => {
        const reg = readRegistry(paths);
        if (!changeRegistry(reg, me, now)) return;
        await writeFileAtomic(file, JSON.stringify({ profiles: reg }, null, 2) + '\n', { mode: 0o600 });
      },
      { timeoutMs: PROFILE_LOCK_WAIT_MS },
    );
  } catch {
    /* best effort */
  }
}

/** Forget profiles not seen for long and note `me` as seen now (at most once a day); true when it changed. */
function changeRegistry(reg: Registry, me: string, now: number): boolean {
  let changed = false;
  for (const [dir, e] of Object.entries(reg)) {
    if (now - e.lastSeen > FORGET_AFTER_MS && dir !== me) {
      delete reg[dir];
      changed = true;
    }
  }
  if (!reg[me] || now - reg[me].lastSeen > REWRITE_AFTER_MS) {
    reg[me] = { lastSeen: now };
    changed = true;
  }
  return changed;
}

export interface OtherProfile {
  /** its secure-storage dir */
  dir: string;
  /** entry keys whose stored token can still be used there (an access token not expired, or a refresh token) */
  usableKeys: Set<string>;
}

/** The other secure-storage profiles known to share this config dir's needs-auth cache (read-only). */
export function otherProfiles(paths: ClaudePaths, now: number = Date.now()): OtherProfile[] {
  const dirs = new Set<string>();
  for (const dir of Object.keys(readRegistry(paths))) dirs.add(path.resolve(dir));
  if (!same(paths.secureDir, paths.configDir)) dirs.add(path.resolve(paths.configDir));
  dirs.delete(path.resolve(paths.secureDir));
  const out: OtherProfile[] = [];
  for (const dir of [...dirs].sort()) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, '.credentials.json'), 'utf8');
    } catch {
      continue; // no store there (any more): not a profile we can speak of
    }
    const usableKeys = new Set<string>();
    try {
      const v: unknown = JSON.parse(text);
      const mcp = isPlainObject(v) ? v.mcpOAuth : undefined;
      if (isPlainObject(mcp)) {
        for (const [key, e] of Object.entries(mcp)) {
          if (isPlainObject(e) && hasUsableToken(e as TokenEntry, now)) usableKeys.add(key);
        }
      }
    } catch {
      /* a store we cannot parse holds no usable token as far as its sessions go */
    }
    out.push({ dir, usableKeys });
  }
  return out;
}
