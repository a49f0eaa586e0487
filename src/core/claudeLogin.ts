/**
 * "Sign in with Claude Code": for what our own sign-in cannot do (an authorization server that accepts only
 * Claude Code's client metadata document, or any server our sign-in fails with), the user runs Claude Code's own
 * `claude mcp login NAME` in a terminal. This module builds that command line and, once it has ended,
 * looks at what it left behind: a usable token for the server means its needs-auth cache entries go (the
 * same rule as our own sign-in). Claude Code 2.1.328 clears the entry of the name it signed in to itself;
 * doing it again here also covers older versions and an entry written meanwhile by a session that started
 * before the token was stored.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { clearNeedsAuth } from './cache/needsAuthCache';
import { isRemote, type ServerConfig } from './config/types';
import { McpAuthError } from './errors';
import { nullLogger, type Logger } from './log';
import type { ClaudePaths } from './paths';
import type { StoreBackend } from './store/backend';
import { hasUsableToken, missingScopes } from './status';
import { serverKey } from './store/key';

export interface ClaudeLoginCommand {
  /** the `claude` executable, resolved to an absolute path */
  command: string;
  args: string[];
  cwd: string;
  /** variables to add to the terminal's environment (only what differs from the inherited one) */
  env: Record<string, string>;
}

export interface ClaudeLoginCommandInputs {
  /** mcpAuth.claudePath: a command name looked up on PATH, or a path ('' = `claude`) */
  claudePath?: string;
  /** the folder the model was discovered from (the workspace folder), if any */
  workspaceFolder?: string;
  paths: ClaudePaths;
  /** the environment the terminal inherits (the extension host's) */
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
}

/**
 * An executable named by an absolute path, or a bare name found in PATH's absolute folders (with PATHEXT on Windows);
 * undefined when there is none.
 */
export function findExecutable(
  command: string,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  const exts = platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM').split(';')] : [''];
  const isExe = (p: string) => {
    try {
      const st = fs.statSync(p);
      if (!st.isFile()) return false;
      if (platform !== 'win32') fs.accessSync(p, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  const tryAll = (base: string) => exts.map((e) => base + e).find(isExe);
  // a path must be absolute: a relative one would be resolved in a folder that may not be trusted
  if (command.includes('/') || (platform === 'win32' && command.includes('\\')))
    return path.isAbsolute(command) ? tryAll(command) : undefined;
  const sep = platform === 'win32' ? ';' : ':';
  for (const dir of (env.PATH ?? env.Path ?? '').split(sep)) {
    if (!dir || !path.isAbsolute(dir)) continue; // '' or '.' would mean the (maybe untrusted) working folder
    const found = tryAll(path.join(dir, command));
    if (found) return found;
  }
  return undefined;
}

/**
 * `claude mcp login NAME`, run where Claude Code finds the same definition we show: a project-scope server
 * from the folder of its .mcp.json, a local-scope one from the workspace folder (Claude Code keys local
 * servers by that folder's git root, as our discovery does), any other from the workspace folder, else home.
 * CLAUDE_CONFIG_DIR is passed when our config folder (mcpAuth.configDir) is not the one the terminal would
 * inherit, so Claude Code writes where we read. Throws `claude-not-found` when the executable is missing.
 */
export function claudeLoginCommand(server: ServerConfig, inputs: ClaudeLoginCommandInputs): ClaudeLoginCommand {
  // a claude.ai connector too: `claude mcp login "claude.ai X"` opens its start-auth address and clears its entry
  if (!isRemote(server) && server.transport !== 'claudeai-proxy')
    throw new McpAuthError('not-remote', `${server.name} is not a remote server`);
  const env = inputs.env ?? process.env;
  const claude = inputs.claudePath?.trim() || 'claude';
  const cwd =
    server.scope === 'project' && server.file
      ? path.dirname(server.file)
      : (inputs.workspaceFolder ?? inputs.paths.home);
  const command = findExecutable(claude, env, inputs.platform);
  if (!command)
    throw new McpAuthError('claude-not-found', `Claude Code's "${claude}" was not found (set mcpAuth.claudePath)`);
  const extra: Record<string, string> = {};
  const inherited = env.CLAUDE_CONFIG_DIR ? env.CLAUDE_CONFIG_DIR.normalize('NFC') : undefined;
  if (inputs.paths.configDirEnv && inputs.paths.configDirEnv !== inherited)
    extra.CLAUDE_CONFIG_DIR = inputs.paths.configDirEnv;
  return { command, args: ['mcp', 'login', server.name], cwd, env: extra };
}

export interface AfterClaudeLoginDeps {
  paths: ClaudePaths;
  store: StoreBackend;
  allServers?: ServerConfig[];
  logger?: Logger;
  now?: () => number;
}

export interface AfterClaudeLoginOutcome {
  name: string;
  /** the store now holds a usable token for the server (an access token not expired, or a refresh token) */
  signedIn: boolean;
  /** needs-auth cache entries removed (none when not signed in: the file is then not touched) */
  cleared: string[];
  /** why not signed in: no usable token, the old token unchanged after a failed run, a step-up still pending */
  why?: 'no-token' | 'unchanged' | 'step-up-pending';
}

/** A fingerprint of the server's stored access token (never the token), to tell afterwards whether it changed. */
export async function storedTokenMark(server: ServerConfig, store: StoreBackend): Promise<string | undefined> {
  try {
    const e = (await store.read()).data.mcpOAuth?.[serverKey(server)];
    return typeof e?.accessToken === 'string' && e.accessToken
      ? createHash('sha256').update(e.accessToken).digest('hex').slice(0, 32)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * After an external sign-in by Claude Code ended: re-read the store; when the server's entry holds a usable
 * token that this sign-in stored (not the one stored before it began, whatever the exit code says) and
 * that covers a pending step-up, remove the server's needs-auth cache entries (only names whose credential key
 * is this server's). Nothing is written otherwise — a failed sign-in over an old token leaves the entry to the
 * keeper, which asks the server first — nor when there is no entry to remove.
 */
export async function afterClaudeLogin(
  server: ServerConfig,
  deps: AfterClaudeLoginDeps,
  run: { exitCode?: number; before?: string } = {},
): Promise<AfterClaudeLoginOutcome> {
  const log = (deps.logger ?? nullLogger).child(`claude login ${server.name}`);
  const now = (deps.now ?? Date.now)();
  const snap = await deps.store.read();
  const entry = snap.data.mcpOAuth?.[serverKey(server)];
  if (!hasUsableToken(entry, now)) {
    log.info('no usable token stored after the sign-in with Claude Code');
    return { name: server.name, signedIn: false, cleared: [], why: 'no-token' };
  }
  const changed =
    typeof entry?.accessToken === 'string' &&
    createHash('sha256').update(entry.accessToken).digest('hex').slice(0, 32) !== run.before;
  if (!changed) {
    log.info(`Claude Code ended with exit code ${run.exitCode ?? 'unknown'} and stored no new token`);
    return { name: server.name, signedIn: false, cleared: [], why: 'unchanged' };
  }
  if (missingScopes(entry?.stepUpScope, entry?.scope).length) {
    log.info('the stored token still lacks the scopes of the pending step-up: its needs-auth entry stays');
    return { name: server.name, signedIn: false, cleared: [], why: 'step-up-pending' };
  }
  const cleared = await clearNeedsAuth(server, { paths: deps.paths, allServers: deps.allServers, logger: log }, true);
  log.info(`token stored by Claude Code; needs-auth entries removed: ${cleared.join(', ') || '(none)'}`);
  return { name: server.name, signedIn: true, cleared };
}
