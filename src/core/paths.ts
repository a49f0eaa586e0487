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

export function resolvePaths(inputs: PathInputs = {}): ClaudePaths {
  const env = inputs.env ?? process.env;
  const platform = inputs.platform ?? process.platform;
  const home = inputs.home ?? env.HOME ?? os.homedir();
  const rawConfigDir = inputs.configDirOverride || env.CLAUDE_CONFIG_DIR || undefined;
  const configDirEnv = rawConfigDir ? rawConfigDir.normalize('NFC') : undefined;
  const defaultDir = path.join(home, '.claude');
  const configDir = configDirEnv ?? defaultDir;
  const secureEnv = env.CLAUDE_SECURESTORAGE_CONFIG_DIR;
  const secureDir = secureEnv === undefined ? configDir : secureEnv === '' ? defaultDir : secureEnv;
  const userConfigFile = configDirEnv ? path.join(configDirEnv, '.claude.json') : path.join(home, '.claude.json');
  return {
    home,
    configDir,
    secureDir,
    userConfigFile,
    credentialsFile: path.join(secureDir, '.credentials.json'),
    needsAuthCacheFile: path.join(configDir, 'mcp-needs-auth-cache.json'),
    configDirEnv,
    managedDirs:
      inputs.managedDirs ??
      (TEST_HOOKS && env.MCP_AUTH_MANAGED_DIR ? [env.MCP_AUTH_MANAGED_DIR] : defaultManagedDirs(platform)),
  };
}
