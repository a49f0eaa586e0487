import type { ClaudePaths } from '../paths';
import type { StoreBackend } from './types';
import { TEST_HOOKS } from '../build';
import { CredmanStore, windowsCredmanForced } from './credman';
import { FileStore } from './file';
import { KeychainStore, keychainAccount, keychainService } from './keychain';

// The backends live in their own files; their names are exported from here as before.
export { FileStore } from './file';
export { KeychainStore, keychainAccount, keychainService } from './keychain';
export type { StoreBackend } from './types';
export { SECURITY_LINE_MAX, SECURITY_TIMEOUT_MS, decodePrintedPassword, keychainText } from './security';

export function openStore(
  paths: ClaudePaths,
  opts: { platform?: NodeJS.Platform; env?: NodeJS.ProcessEnv; securityPath?: string } = {},
): StoreBackend {
  const file = new FileStore(paths.credentialsFile);
  const env = opts.env ?? process.env;
  // MCP_AUTH_TEST_PLATFORM: the test build only, so that the CLI's Windows Credential Manager mode runs on any machine
  const platform =
    opts.platform ??
    (TEST_HOOKS && env.MCP_AUTH_TEST_PLATFORM ? (env.MCP_AUTH_TEST_PLATFORM as NodeJS.Platform) : process.platform);
  if (windowsCredmanForced(paths, env, platform)) return new CredmanStore(paths.credentialsFile);
  if (platform === 'darwin' && env.MCP_AUTH_STORE !== 'file') {
    return new KeychainStore(
      keychainService(paths.configDirEnv, env.CLAUDE_SECURESTORAGE_CONFIG_DIR),
      keychainAccount(env),
      file,
      opts.securityPath,
    );
  }
  return file;
}
