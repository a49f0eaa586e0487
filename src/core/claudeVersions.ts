/**
 * Which Claude Code are we talking to: the `claude` on PATH (`claude --version`, bounded, no shell) and the
 * `version` each running session wrote in `D/sessions/<pid>.json` (claude-code-format.md "Running sessions"; only
 * files whose pid is alive are read — liveness proper, with `procStart`, is the sessions module's), each with whether
 * our formats are verified for it. A version we have not verified is a warning with what to check, never a refusal.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findExecutable } from './claudeLogin';
import { isPlainObject } from './fsutil';
import type { ClaudePaths } from './paths';

/** The Claude Code releases claude-code-format.md was verified against (seen or read in their code). */
export const VERIFIED_CLAUDE_VERSIONS = ['2.1.328', '2.1.332'] as const;

/** `verified`: in the table; `newer` / `older`: past either end of it; `unverified`: between; `unknown`: unparsable. */
export type VersionVerdict = 'verified' | 'newer' | 'older' | 'unverified' | 'unknown';

export function parseVersion(text: string): [number, number, number] | undefined {
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

function compare(a: [number, number, number], b: [number, number, number]): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

export function versionVerdict(version: string | undefined): VersionVerdict {
  const v = version ? parseVersion(version) : undefined;
  if (!v) return 'unknown';
  const known = VERIFIED_CLAUDE_VERSIONS.map((k) => parseVersion(k)!);
  if (known.some((k) => compare(k, v) === 0)) return 'verified';
  if (compare(v, known[known.length - 1]) > 0) return 'newer';
  if (compare(v, known[0]) < 0) return 'older';
  return 'unverified';
}

export type ClaudeVersionSeen =
  | { source: 'path'; path: string; version?: string; verdict: VersionVerdict; error?: 'timeout' | 'failed' }
  | { source: 'session'; pid: number; version?: string; verdict: VersionVerdict; kind?: string; entrypoint?: string };

export interface ClaudeVersions {
  /** undefined: no `claude` on PATH */
  onPath?: Extract<ClaudeVersionSeen, { source: 'path' }>;
  sessions: Extract<ClaudeVersionSeen, { source: 'session' }>[];
}

/** `claude --version` of the executable found on PATH: execFile (no shell), bounded, no network (nonessential off). */
export function claudeVersionOnPath(
  env: NodeJS.ProcessEnv,
  opts: { timeoutMs?: number; platform?: NodeJS.Platform } = {},
): Promise<ClaudeVersions['onPath']> {
  const exe = findExecutable('claude', env, opts.platform);
  if (!exe) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    try {
      execFile(
        exe,
        ['--version'],
        {
          timeout: opts.timeoutMs ?? 5_000,
          maxBuffer: 64 * 1024,
          windowsHide: true,
          env: { ...env, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' },
        },
        (err, stdout) => {
          const version = parseVersion(String(stdout ?? ''))?.join('.');
          if (version) return resolve({ source: 'path', path: exe, version, verdict: versionVerdict(version) });
          const killed = (err as { killed?: boolean } | null)?.killed === true;
          resolve({ source: 'path', path: exe, verdict: 'unknown', error: killed ? 'timeout' : 'failed' });
        },
      );
    } catch {
      resolve({ source: 'path', path: exe, verdict: 'unknown', error: 'failed' });
    }
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The `version` of every session file in `D/sessions/` whose pid is alive. Unreadable or malformed files are
 * skipped (not ours to judge); at most `limit` files are read.
 */
export function sessionVersions(paths: ClaudePaths, limit = 256): ClaudeVersions['sessions'] {
  const dir = path.join(paths.configDir, 'sessions');
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => /^\d+\.json$/.test(n));
  } catch {
    return [];
  }
  const out: ClaudeVersions['sessions'] = [];
  for (const n of names.slice(0, limit)) {
    const pid = Number(n.slice(0, -'.json'.length));
    if (!Number.isSafeInteger(pid) || pid <= 0 || !pidAlive(pid)) continue;
    let v: unknown;
    try {
      const file = path.join(dir, n);
      if (fs.statSync(file).size > 1024 * 1024) continue;
      v = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      continue;
    }
    if (!isPlainObject(v) || v.pid !== pid) continue;
    const version = typeof v.version === 'string' ? v.version : undefined;
    out.push({
      source: 'session',
      pid,
      version,
      verdict: versionVerdict(version),
      kind: typeof v.kind === 'string' ? v.kind : undefined,
      entrypoint: typeof v.entrypoint === 'string' ? v.entrypoint : undefined,
    });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

export async function claudeVersionsInPlay(
  paths: ClaudePaths,
  env: NodeJS.ProcessEnv,
  opts: { timeoutMs?: number } = {},
): Promise<ClaudeVersions> {
  return { onPath: await claudeVersionOnPath(env, opts), sessions: sessionVersions(paths) };
}
