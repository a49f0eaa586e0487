import * as os from 'node:os';
import * as path from 'node:path';
import { TEST_HOOKS } from './build';

/** Where Claude Code keeps its files, resolved exactly as Claude Code resolves them (CLAUDE_CONFIG_DIR, CLAUDE_SECURESTORAGE_CONFIG_DIR). */
export interface ClaudePaths {
  home: string;
  /** D: $CLAUDE_CONFIG_DIR (NFC) or ~/.claude */
  configDir: string;
  /** S: $CLAUDE_SECURESTORAGE_CONFIG_DIR ('' = ~/.claude) or D */
  secureDir: string;
  /** ~/.claude.json, or $CLAUDE_CONFIG_DIR/.claude.json */
  userConfigFile: string;
  credentialsFile: string;
  needsAuthCacheFile: string;
  /** the raw CLAUDE_CONFIG_DIR value (NFC) when set: it changes the keychain service name */
  configDirEnv?: string;
  /** folders holding managed-mcp.json, in order */
  managedDirs: string[];
}

export interface PathInputs {
  env?: NodeJS.ProcessEnv;
  home?: string;
  platform?: NodeJS.Platform;
  /** --config-dir / mcpAuth.configDir: behaves like CLAUDE_CONFIG_DIR */
  configDirOverride?: string;
  managedDirs?: string[];
}

export function defaultManagedDirs(platform: NodeJS.Platform): string[] {
  if (platform === 'darwin') return ['/Library/Application Support/ClaudeCode'];
  if (platform === 'win32') return ['C:\\Program Files\\ClaudeCode'];
  return ['/etc/claude-code'];
}

/** The path functions of a platform: Windows paths on win32 (injected in tests on any machine), POSIX elsewhere. */
export function pathApi(platform: NodeJS.Platform): path.PlatformPath {
  return platform === 'win32' ? path.win32 : path.posix;
}

/** A name inside a folder, joined as the folder's own platform writes paths (`C:\…` or `\\server\…` = Windows). */
export function joinIn(dir: string, name: string): string {
  return (/^(?:[A-Za-z]:[\\/]|\\\\)/.test(dir) ? path.win32 : path).join(dir, name);
}

/** Every managed-mcp.json Claude Code looks for, in order. */
export function managedMcpFiles(paths: Pick<ClaudePaths, 'managedDirs'>): string[] {
  return paths.managedDirs.map((d) => joinIn(d, 'managed-mcp.json'));
}

export function resolvePaths(inputs: PathInputs = {}): ClaudePaths {
  const env = inputs.env ?? process.env;
  const platform = inputs.platform ?? process.platform;
  const p = pathApi(platform);
  // Claude Code uses os.homedir(): $HOME on POSIX, %USERPROFILE% on Windows (where HOME, if set, is a shell's)
  const home = inputs.home ?? (platform === 'win32' ? env.USERPROFILE : env.HOME) ?? os.homedir();
  const rawConfigDir = inputs.configDirOverride || env.CLAUDE_CONFIG_DIR || undefined;
  const configDirEnv = rawConfigDir ? rawConfigDir.normalize('NFC') : undefined;
  const defaultDir = p.join(home, '.claude');
  const configDir = configDirEnv ?? defaultDir;
  const secureEnv = env.CLAUDE_SECURESTORAGE_CONFIG_DIR;
  const secureDir = secureEnv === undefined ? configDir : secureEnv === '' ? defaultDir : secureEnv;
  const userConfigFile = configDirEnv ? p.join(configDirEnv, '.claude.json') : p.join(home, '.claude.json');
  return {
    home,
    configDir,
    secureDir,
    userConfigFile,
    credentialsFile: p.join(secureDir, '.credentials.json'),
    needsAuthCacheFile: p.join(configDir, 'mcp-needs-auth-cache.json'),
    configDirEnv,
    managedDirs:
      inputs.managedDirs ??
      (TEST_HOOKS && env.MCP_AUTH_MANAGED_DIR ? [env.MCP_AUTH_MANAGED_DIR] : defaultManagedDirs(platform)),
  };
}
