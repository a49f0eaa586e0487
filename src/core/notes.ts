import * as path from 'node:path';
import { isPlainObject, readJsonFile, writeFileAtomic } from './fsutil';
import type { TokenWarning } from './oauth/client';
import type { ClaudePaths } from './paths';

/**
 * Our own small record of what was odd in authorization servers' token answers, by entry key, so that
 * `doctor` can say so later (a CLI run's log is gone by then). It holds codes and times, never a token, and
 * lives beside Claude Code's store in a file of ours; nothing of Claude Code's reads it.
 */
export interface TokenNote {
  warnings: TokenWarning[];
  at: number;
}

export const notesFile = (paths: ClaudePaths): string => path.join(paths.secureDir, 'mcp-auth-token-notes.json');

export async function readTokenNotes(paths: ClaudePaths): Promise<Record<string, TokenNote>> {
  try {
    const r = await readJsonFile(notesFile(paths), 'cache');
    if (!r || !isPlainObject(r.value)) return {};
    const out: Record<string, TokenNote> = {};
    for (const [k, v] of Object.entries(r.value)) {
      if (isPlainObject(v) && Array.isArray(v.warnings) && typeof v.at === 'number') out[k] = { warnings: v.warnings.filter((w): w is TokenWarning => typeof w === 'string'), at: v.at };
    }
    return out;
  } catch {
    return {};
  }
}

/** Record (or with no warnings, forget) the oddities of the last answer for one key. Best effort, last writer wins. */
export async function recordTokenWarnings(paths: ClaudePaths, key: string, warnings: TokenWarning[], at: number): Promise<void> {
  const notes = await readTokenNotes(paths);
  if (warnings.length) notes[key] = { warnings, at };
  else if (notes[key]) delete notes[key];
  else return;
  await writeFileAtomic(notesFile(paths), JSON.stringify(notes, null, 2), { mode: 0o600 });
}
