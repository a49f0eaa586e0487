import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoCode } from './errors';
import { isPlainObject } from './fsutil';
import type { Logger } from './log';
import type { ClaudePaths } from './paths';

/**
 * Claude Code's registry of running sessions (claude-code-format.md, "Running sessions"): every process writes
 * `D/sessions/<pid>.json` at start and deletes it on exit. A session is live when its pid is alive AND the
 * `procStart` it recorded equals that process's start time now (a crashed session leaves its file, and its pid
 * may since belong to another process). Read only; never written.
 */
export interface SessionRecord {
  pid: number;
  cwd: string;
  /** epoch ms */
  startedAt: number;
  /** Linux: field 22 of /proc/<pid>/stat (clock ticks, as text); macOS: `ps -o lstart=` text */
  procStart?: string;
  version?: string;
  /** interactive | bg | daemon | daemon-worker (Claude Code's own words, kept as written) */
  kind?: string;
  /** CLAUDE_CODE_ENTRYPOINT: cli, sdk-ts, sdk-cli, claude-vscode, … */
  entrypoint?: string;
  sessionId?: string;
  name?: string;
  /** the registry file */
  file: string;
}

/** Why a registry file was left out (for the debug log; never shown as a row). */
export type SkipReason = 'unreadable' | 'not-json' | 'malformed' | 'pid-mismatch' | 'dead' | 'reused-pid';

export interface SessionDeps {
  platform?: NodeJS.Platform;
  logger?: Logger;
  /** the start time of a running process as Claude Code records it (`procStart`); undefined = gone/unknown */
  processStart?: (pid: number) => Promise<string | undefined>;
  /** is a process with this pid running (default: signal 0) */
  isAlive?: (pid: number) => boolean;
  /** only these records are checked for liveness (a cheap prefilter: liveness may spawn `ps` on macOS) */
  filter?: (r: SessionRecord) => boolean;
  /** /proc, for tests */
  procRoot?: string;
}

/** `D/sessions` for a config dir `D`. */
export const sessionsDirOf = (configDir: string): string => path.join(configDir, 'sessions');
export const sessionsDir = (paths: ClaudePaths): string => sessionsDirOf(paths.configDir);

/** The registry file of one session: `<pid>.json`, nothing else (the folder also holds `<pid>.<sha256>.key` files). */
const REGISTRY_FILE = /^([1-9][0-9]{0,9})\.json$/;

/** One registry file's content, or why it is not one. Unknown fields are ignored. */
export function parseSessionRecord(
  text: string,
  file: string,
): { record: SessionRecord } | { skip: 'not-json' | 'malformed' | 'pid-mismatch' } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { skip: 'not-json' };
  }
  if (!isPlainObject(v)) return { skip: 'malformed' };
  const { pid, cwd, startedAt, procStart } = v;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return { skip: 'malformed' };
  if (typeof cwd !== 'string' || !cwd || !path.isAbsolute(cwd)) return { skip: 'malformed' };
  if (typeof startedAt !== 'number' || !Number.isFinite(startedAt) || startedAt <= 0) return { skip: 'malformed' };
  if (procStart !== undefined && typeof procStart !== 'string') return { skip: 'malformed' };
  const m = REGISTRY_FILE.exec(path.basename(file));
  if (m && Number(m[1]) !== pid) return { skip: 'pid-mismatch' };
  const str = (x: unknown) => (typeof x === 'string' && x ? x : undefined);
  return {
    record: {
      pid,
      cwd,
      startedAt,
      procStart,
      version: str(v.version),
      kind: str(v.kind),
      entrypoint: str(v.entrypoint),
      sessionId: str(v.sessionId),
      name: str(v.name),
      file,
    },
  };
}

/**
 * Field 22 (starttime) of a /proc/<pid>/stat line. The second field is the command name in parentheses and may
 * itself hold spaces and parentheses, so the fields are counted from the LAST `)`.
 */
export function procStatStartTime(stat: string): string | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  // after ")": field 3 (state) onward, space-separated
  const rest = stat
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const v = rest[22 - 3];
  return v !== undefined && /^[0-9]+$/.test(v) ? v : undefined;
}

/** The process's start time as Claude Code records it in `procStart`, or undefined when it cannot be read. */
export async function processStartTime(
  pid: number,
  opts: { platform?: NodeJS.Platform; procRoot?: string } = {},
): Promise<string | undefined> {
  const platform = opts.platform ?? process.platform;
  if (platform === 'linux') {
    try {
      return procStatStartTime(
        await fs.promises.readFile(path.join(opts.procRoot ?? '/proc', String(pid), 'stat'), 'utf8'),
      );
    } catch {
      return undefined;
    }
  }
  if (platform === 'darwin') {
    // exactly Claude Code's call: the C locale and UTC, so the text does not depend on the user's settings
    return new Promise((resolve) => {
      execFile(
        'ps',
        ['-o', 'lstart=', '-p', String(pid)],
        { env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' }, timeout: 5000 },
        (err, stdout) => {
          const t = String(stdout ?? '').trim();
          resolve(err || !t ? undefined : t);
        },
      );
    });
  }
  return undefined;
}

function signalZero(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, it is another user's
    return errnoCode(e) === 'EPERM';
  }
}

export interface LiveSessionsResult {
  live: SessionRecord[];
  /** files left out, with why (debug material) */
  skipped: { file: string; reason: SkipReason }[];
}

/**
 * The sessions running now, from `D/sessions/<pid>.json`. Dead sessions and reused pids are left out; a file
 * that is not a registry record is skipped with a debug line, never an error. A missing folder = none.
 */
export async function liveSessions(paths: ClaudePaths, deps: SessionDeps = {}): Promise<SessionRecord[]> {
  return (await readLiveSessions(paths, deps)).live;
}

export async function readLiveSessions(paths: ClaudePaths, deps: SessionDeps = {}): Promise<LiveSessionsResult> {
  const dir = sessionsDir(paths);
  const out: LiveSessionsResult = { live: [], skipped: [] };
  const skip = (file: string, reason: SkipReason) => {
    out.skipped.push({ file, reason });
    deps.logger?.debug(`session registry: skipped ${file} (${reason})`);
  };
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return out;
  }
  const platform = deps.platform ?? process.platform;
  const isAlive = deps.isAlive ?? signalZero;
  const startOf = deps.processStart ?? ((pid: number) => processStartTime(pid, { platform, procRoot: deps.procRoot }));
  // the platforms where Claude Code records procStart; on Windows it records procStartFt (a FILETIME we do not
  // read without a native module), so there an alive pid is all there is
  const checksStart = platform === 'linux' || platform === 'darwin' || deps.processStart !== undefined;
  for (const n of names.sort()) {
    if (!n.endsWith('.json')) continue;
    const file = path.join(dir, n);
    if (!REGISTRY_FILE.test(n)) {
      skip(file, 'malformed');
      continue;
    }
    let text: string;
    try {
      const st = await fs.promises.stat(file);
      if (!st.isFile() || st.size > 1024 * 1024) {
        skip(file, 'unreadable');
        continue;
      }
      text = await fs.promises.readFile(file, 'utf8');
    } catch {
      // deleted meanwhile (the session ended), or unreadable
      skip(file, 'unreadable');
      continue;
    }
    const p = parseSessionRecord(text, file);
    if ('skip' in p) {
      skip(file, p.skip);
      continue;
    }
    const r = p.record;
    if (deps.filter && !deps.filter(r)) continue;
    if (!isAlive(r.pid)) {
      skip(file, 'dead');
      continue;
    }
    // Claude Code's own rule (2.1.328/2.1.332): no recorded procStart, or a start time that cannot be read now,
    // leaves the pid alone to decide; a start time that differs is another process that got the pid
    if (checksStart && r.procStart !== undefined) {
      const now = await startOf(r.pid);
      if (now !== undefined && now !== r.procStart) {
        skip(file, 'reused-pid');
        continue;
      }
    }
    out.live.push(r);
  }
  return out;
}
