import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
/** The CLI as shipped (no test switches in it). */
export const CLI = path.join(ROOT, 'dist', 'cli.js');
/** The same CLI built with its test switches (esbuild.mjs): crash points, no lock, a pinned clock, managed dir. */
export const TEST_CLI = path.join(ROOT, 'out', 'test-cli', 'cli.js');
/** Runs that set a test switch need the test build; every other run uses what ships. */
export const cliFor = (env: NodeJS.ProcessEnv): string =>
  Object.keys(env).some((k) => k.startsWith('MCP_AUTH_TEST_') || k === 'MCP_AUTH_NOW') ? TEST_CLI : CLI;
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');

export interface TempHome {
  home: string;
  claudeDir: string;
  project: string;
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

/** A throwaway HOME; with a fixture name, a copy of test/fixtures/<name> with __HOME__ replaced. */
export function makeHome(fixture?: string): TempHome {
  const home = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-home-')));
  if (fixture) {
    fs.cpSync(path.join(FIXTURES, fixture), home, { recursive: true });
    const cj = path.join(home, '.claude.json');
    if (fs.existsSync(cj)) fs.writeFileSync(cj, fs.readFileSync(cj, 'utf8').split('__HOME__').join(home));
    for (const f of ['.claude/.credentials.json'])
      if (fs.existsSync(path.join(home, f))) fs.chmodSync(path.join(home, f), 0o600);
  }
  fs.mkdirSync(path.join(home, '.claude'), { recursive: true });
  const project = path.join(home, 'code', 'proj');
  fs.mkdirSync(project, { recursive: true });
  return {
    home,
    claudeDir: path.join(home, '.claude'),
    project,
    env: cleanEnv(home),
    cleanup: () => fs.rmSync(home, { recursive: true, force: true }),
  };
}

export type HomeSetup = (h: TempHome) => void | Promise<void>;
/** Where a HOME for `withHome` comes from: a fixture (see makeHome), then a setup run on it. */
export interface HomeSpec {
  fixture?: string;
  setup?: HomeSetup;
}

/**
 * Runs `fn` in a throwaway HOME and always removes the HOME afterwards, also when the setup or `fn` fails.
 * `from` is a fixture name, a setup run on an empty HOME, or both ({ fixture, setup }).
 */
export async function withHome<T>(fn: (h: TempHome) => T | Promise<T>): Promise<T>;
export async function withHome<T>(
  from: string | HomeSetup | HomeSpec | undefined,
  fn: (h: TempHome) => T | Promise<T>,
): Promise<T>;
export async function withHome<T>(
  ...args:
    [(h: TempHome) => T | Promise<T>] | [string | HomeSetup | HomeSpec | undefined, (h: TempHome) => T | Promise<T>]
): Promise<T> {
  const [from, fn] = args.length === 1 ? [undefined, args[0]] : args;
  const spec: HomeSpec =
    typeof from === 'string' ? { fixture: from } : typeof from === 'function' ? { setup: from } : (from ?? {});
  const h = makeHome(spec.fixture);
  try {
    await spec.setup?.(h);
    return await fn(h);
  } finally {
    h.cleanup();
  }
}

/** The environment for our CLI and for `claude`: a throwaway HOME, no Claude Code variables of the machine. */
export function cleanEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('CLAUDE') || k.startsWith('ANTHROPIC') || k.startsWith('MCP_') || k === 'NO_COLOR') continue;
    env[k] = v;
  }
  return {
    ...env,
    HOME: home,
    USERPROFILE: home,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    MCP_AUTH_MANAGED_DIR: path.join(home, 'no-managed'),
    XDG_CONFIG_HOME: path.join(home, '.config'),
    ...extra,
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runCli(args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; input?: string }): RunResult {
  const t = Date.now();
  const r = spawnSync(process.execPath, [cliFor(opts.env), ...args], {
    env: opts.env,
    cwd: opts.cwd,
    encoding: 'utf8',
    input: opts.input ?? '',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t };
}

export function runCliAsync(args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string }): Promise<RunResult> {
  const t = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliFor(opts.env), ...args], {
      env: opts.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code, sig) => resolve({ code: code ?? (sig ? 128 : -1), stdout, stderr, ms: Date.now() - t }));
  });
}

/** sha256 of every file under dir (relative path → hash), to prove nothing was written. */
export function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        try {
          out[path.relative(dir, p)] = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
        } catch {
          out[path.relative(dir, p)] = 'unreadable';
        }
      }
    }
  };
  walk(dir);
  return out;
}

export const CLAUDE_BIN = path.join(ROOT, 'node_modules', '.bin', 'claude');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `cond` until it holds (every `every` ms, at most `ms`); returns how long it took. */
export async function waitFor(what: string, cond: () => boolean, ms = 10_000, every = 10): Promise<number> {
  const t = Date.now();
  while (!cond()) {
    if (Date.now() - t > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
  return Date.now() - t;
}
