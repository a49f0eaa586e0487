import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { isPlainObject, readJsonFile, writeFileAtomic } from './fsutil';
import { withSideFileLock } from './lock/sideLock';
import type { TokenWarning } from './oauth/client';
import type { ClaudePaths } from './paths';

/**
 * Our own small record, beside Claude Code's store in a file of ours that nothing of Claude Code's reads:
 * - `answers`: what was odd in an authorization server's last token answer, by entry key, so that `doctor`
 *   can say so later (a CLI run's log is gone by then);
 * - `spent`: refresh tokens an mcp-auth process sent and got a 200 for but could not store, by entry key —
 *   a fingerprint (sha256 prefix), never the token — so that no mcp-auth process sends them again. The
 *   mark stops counting as soon as the store holds another refresh token for that key.
 * Every change is a read-modify-write under a small lock of ours (`mcp-auth-notes.json.lock`, lock/sideLock.ts),
 * so that two processes noting at once never drop each other's marks (a dropped `spent` mark would let another
 * mcp-auth replay that token). Unreadable notes read as none.
 */
export interface TokenNote {
  warnings: TokenWarning[];
  at: number;
}

interface Notes {
  answers: Record<string, TokenNote>;
  spent: Record<string, { fingerprint: string; at: number }>;
  /** the authorization server answered `invalid_client` for the stored client id (by entry key) */
  clientRejected: Record<string, { clientId: string; at: number }>;
}

export const notesFile = (paths: ClaudePaths): string => path.join(paths.secureDir, 'mcp-auth-notes.json');

const fingerprint = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 32);

async function readNotes(paths: ClaudePaths): Promise<Notes> {
  const notes: Notes = { answers: {}, spent: {}, clientRejected: {} };
  try {
    const r = await readJsonFile(notesFile(paths), 'cache');
    if (!r || !isPlainObject(r.value)) return notes;
    const { answers, spent, clientRejected } = r.value;
    if (isPlainObject(clientRejected)) {
      for (const [k, v] of Object.entries(clientRejected)) {
        if (isPlainObject(v) && typeof v.clientId === 'string' && typeof v.at === 'number')
          notes.clientRejected[k] = { clientId: v.clientId, at: v.at };
      }
    }
    if (isPlainObject(answers)) {
      for (const [k, v] of Object.entries(answers)) {
        if (isPlainObject(v) && Array.isArray(v.warnings) && typeof v.at === 'number')
          notes.answers[k] = { warnings: v.warnings.filter((w): w is TokenWarning => typeof w === 'string'), at: v.at };
      }
    }
    if (isPlainObject(spent)) {
      for (const [k, v] of Object.entries(spent)) {
        if (isPlainObject(v) && typeof v.fingerprint === 'string' && typeof v.at === 'number')
          notes.spent[k] = { fingerprint: v.fingerprint, at: v.at };
      }
    }
  } catch {
    /* unreadable notes are no notes */
  }
  return notes;
}

/**
 * The one way to change the notes: under the notes lock, read, let `change` edit them, and write them back
 * (atomically, 0600) only when it returns true. Throws lock-timeout when the lock cannot be had in time.
 */
async function changeNotes(paths: ClaudePaths, change: (n: Notes) => boolean): Promise<void> {
  const file = notesFile(paths);
  await withSideFileLock(file, async () => {
    const notes = await readNotes(paths);
    if (!change(notes)) return;
    await writeFileAtomic(file, JSON.stringify(notes, null, 2), { mode: 0o600 });
  });
}

export async function readTokenNotes(paths: ClaudePaths): Promise<Record<string, TokenNote>> {
  return (await readNotes(paths)).answers;
}

/** Record (or with no warnings, forget) the oddities of the last answer for one key. */
export function recordTokenWarnings(
  paths: ClaudePaths,
  key: string,
  warnings: TokenWarning[],
  at: number,
): Promise<void> {
  return changeNotes(paths, (n) => {
    if (warnings.length) n.answers[key] = { warnings, at };
    else if (n.answers[key]) delete n.answers[key];
    else return false;
    return true;
  });
}

/** A refresh token of `key` was sent and answered 200, but what came back could not be stored. */
export function markSpent(paths: ClaudePaths, key: string, refreshToken: string, at: number): Promise<void> {
  return changeNotes(paths, (n) => {
    n.spent[key] = { fingerprint: fingerprint(refreshToken), at };
    return true;
  });
}

export async function isSpent(paths: ClaudePaths, key: string, refreshToken: string): Promise<boolean> {
  return (await readNotes(paths)).spent[key]?.fingerprint === fingerprint(refreshToken);
}

/** The keys with a spent-token mark, and when it was made (for doctor). */
export async function readSpentMarks(paths: ClaudePaths): Promise<Record<string, { fingerprint: string; at: number }>> {
  return (await readNotes(paths)).spent;
}

/** The authorization server rejected the stored client (`invalid_client`): remembered until it is replaced. */
export function recordClientRejected(paths: ClaudePaths, key: string, clientId: string, at: number): Promise<void> {
  return changeNotes(paths, (n) => {
    n.clientRejected[key] = { clientId, at };
    return true;
  });
}

/** Keys whose stored client was rejected, with the client id then stored. */
export async function readClientRejections(
  paths: ClaudePaths,
): Promise<Record<string, { clientId: string; at: number }>> {
  return (await readNotes(paths)).clientRejected;
}
