import { createHash, randomBytes } from 'node:crypto';
import * as os from 'node:os';
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
  spent: Record<string, SpentMark>;
  /** the authorization server answered `invalid_client` for the stored client id (by entry key) */
  clientRejected: Record<string, { clientId: string; at: number }>;
  /**
   * Intent records: a refresh token an mcp-auth process is about to send (written, fsynced, before the POST)
   * and has not yet resolved (removed once the answer is stored or known not to have spent it). One left
   * behind means the process died in between (SIGKILL, a crash, a power cut): the token may be spent.
   */
  intents: Record<string, IntentRecord>;
}

export interface IntentRecord {
  fingerprint: string;
  at: number;
  pid: number;
  host: string;
  /**
   * A random name of the writing process, made once per process. A record is this process's own only when it
   * names this: pid and host repeat (a reboot; `watch` as pid 1 of a container restarted on the same mount), so
   * a record of a dead process could otherwise be taken for ours and its possibly spent token sent again.
   */
  run?: string;
}

/** This process's name in intent records (see IntentRecord.run). */
const THIS_RUN = randomBytes(16).toString('hex');
/** The record this process last wrote, by key: an older mcp-auth rewriting the notes drops `run` it does not know. */
const writtenHere = new Map<string, { fingerprint: string; at: number }>();
/**
 * Is this record this process's own? It names our run; or it names no run (an older version rewrote the notes
 * meanwhile, keeping only the fields it knows) and is exactly the record we wrote, pid and host included.
 */
function ownIntent(key: string, i: IntentRecord): boolean {
  if (i.run !== undefined) return i.run === THIS_RUN;
  const w = writtenHere.get(key);
  return !!w && w.fingerprint === i.fingerprint && w.at === i.at && i.pid === process.pid && i.host === os.hostname();
}

/**
 * Why a stored refresh token must not be sent: `unstored` — sent and answered 200, but the answer could not be
 * stored; `answer-lost` — sent, and the answer was lost (a 200 whose body did not arrive, a time-out after the
 * request went out); `interrupted` — an intent record with no resolution (the sender died mid-refresh).
 */
export type SpentCause = 'unstored' | 'answer-lost' | 'interrupted';

export interface SpentMark {
  fingerprint: string;
  at: number;
  cause?: SpentCause;
  /** fingerprint of the access token stored beside it (the mark still names the entry after its refresh token is dropped) */
  access?: string;
}

export const notesFile = (paths: ClaudePaths): string => path.join(paths.secureDir, 'mcp-auth-notes.json');

export const fingerprint = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 32);

async function readNotes(paths: ClaudePaths): Promise<Notes> {
  const notes: Notes = { answers: {}, spent: {}, clientRejected: {}, intents: {} };
  try {
    const r = await readJsonFile(notesFile(paths), 'cache');
    if (!r || !isPlainObject(r.value)) return notes;
    const { answers, spent, clientRejected, intents } = r.value;
    if (isPlainObject(intents)) {
      for (const [k, v] of Object.entries(intents)) {
        if (
          isPlainObject(v) &&
          typeof v.fingerprint === 'string' &&
          typeof v.at === 'number' &&
          typeof v.pid === 'number' &&
          typeof v.host === 'string'
        )
          notes.intents[k] = {
            fingerprint: v.fingerprint,
            at: v.at,
            pid: v.pid,
            host: v.host,
            ...(typeof v.run === 'string' ? { run: v.run } : {}),
          };
      }
    }
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
        if (isPlainObject(v) && typeof v.fingerprint === 'string' && typeof v.at === 'number') {
          const m: SpentMark = { fingerprint: v.fingerprint, at: v.at };
          if (v.cause === 'unstored' || v.cause === 'answer-lost' || v.cause === 'interrupted') m.cause = v.cause;
          if (typeof v.access === 'string') m.access = v.access;
          notes.spent[k] = m;
        }
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

/**
 * A refresh token of `key` was sent and may be spent (see SpentCause): no mcp-auth process sends it again. Any
 * intent record for it is resolved into this mark.
 */
export function markSpent(
  paths: ClaudePaths,
  key: string,
  refreshToken: string,
  at: number,
  cause: SpentCause = 'unstored',
): Promise<void> {
  const fp = fingerprint(refreshToken);
  return changeNotes(paths, (n) => {
    n.spent[key] = { fingerprint: fp, at, cause };
    if (n.intents[key]?.fingerprint === fp) delete n.intents[key];
    return true;
  });
}

/** The mark now also names the access token stored beside it (after the refresh token was dropped from the entry). */
export function noteSpentAccess(
  paths: ClaudePaths,
  key: string,
  refreshToken: string,
  accessToken: string,
): Promise<void> {
  const fp = fingerprint(refreshToken);
  return changeNotes(paths, (n) => {
    const m = n.spent[key];
    if (!m || m.fingerprint !== fp) return false;
    m.access = accessToken ? fingerprint(accessToken) : undefined;
    return true;
  });
}

/**
 * Before the POST: this process is about to send `refreshToken` for `key`. Durable (the notes file is written
 * with fsync and renamed) before it returns, so a SIGKILL right after leaves it behind.
 */
export function recordIntent(paths: ClaudePaths, key: string, refreshToken: string, at: number): Promise<void> {
  const rec: IntentRecord = {
    fingerprint: fingerprint(refreshToken),
    at,
    pid: process.pid,
    host: os.hostname(),
    run: THIS_RUN,
  };
  writtenHere.set(key, { fingerprint: rec.fingerprint, at });
  return changeNotes(paths, (n) => {
    n.intents[key] = rec;
    return true;
  });
}

/** The answer was stored (or the request is known not to have spent the token): the intent record goes. */
export function resolveIntent(paths: ClaudePaths, key: string, refreshToken: string): Promise<void> {
  const fp = fingerprint(refreshToken);
  return changeNotes(paths, (n) => {
    const i = n.intents[key];
    if (!i || i.fingerprint !== fp || !ownIntent(key, i)) return false;
    delete n.intents[key];
    return true;
  });
}

/**
 * Must this refresh token of `key` never be sent? A spent mark for it, or an intent record for it that this
 * process did not write. The caller holds the refresh lock, so an intent record of another process is one
 * whose writer died (or lost the lock) before resolving it.
 */
export async function spentCause(
  paths: ClaudePaths,
  key: string,
  refreshToken: string | undefined,
  accessToken?: string,
): Promise<{ cause: SpentCause; at: number } | undefined> {
  const n = await readNotes(paths);
  const m = n.spent[key];
  if (!refreshToken) {
    // the refresh token was dropped from the entry because of the mark, which still names the access token
    return m?.access !== undefined && accessToken && m.access === fingerprint(accessToken)
      ? { cause: m.cause ?? 'unstored', at: m.at }
      : undefined;
  }
  const fp = fingerprint(refreshToken);
  if (m?.fingerprint === fp) return { cause: m.cause ?? 'unstored', at: m.at };
  const i = n.intents[key];
  if (i?.fingerprint === fp && !ownIntent(key, i)) return { cause: 'interrupted', at: i.at };
  return undefined;
}

export async function isSpent(paths: ClaudePaths, key: string, refreshToken: string): Promise<boolean> {
  return (await spentCause(paths, key, refreshToken)) !== undefined;
}

/** The keys with a spent-token mark, and when it was made (for doctor). */
export async function readSpentMarks(paths: ClaudePaths): Promise<Record<string, SpentMark>> {
  return (await readNotes(paths)).spent;
}

/** Intent records not resolved yet (for status and doctor: in flight when the lock is held, else interrupted). */
export async function readIntents(paths: ClaudePaths): Promise<Record<string, IntentRecord>> {
  return (await readNotes(paths)).intents;
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
