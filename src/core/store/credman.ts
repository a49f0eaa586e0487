import * as fs from 'node:fs';
import { McpAuthError } from '../errors';
import { isPlainObject } from '../fsutil';
import { joinIn, type ClaudePaths } from '../paths';
import type { StoreBackend, StoreData, StoreSnapshot } from './types';

/**
 * Claude Code on Windows keeps its tokens in `S/.credentials.json` (the file store), except when Windows Credential
 * Manager is forced: `CLAUDE_CODE_FORCE_WINDOWS_CREDMAN=1`, or a cached feature flag `tengu_windows_credman: true`
 * in its config (code, 2.1.328: `cachedGrowthBookFeatures ?? cachedFeatureFlags` of `D/.config.json` when that
 * file exists and is not empty, else of the user config `~/.claude.json`; any read or parse failure = not forced).
 * Then Credential Manager wins and a write to the file is invisible to Claude Code.
 */
export function windowsCredmanForced(paths: ClaudePaths, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): boolean {
  if (platform !== 'win32') return false;
  if (env.CLAUDE_CODE_FORCE_WINDOWS_CREDMAN === '1') return true;
  try {
    let text = '';
    try {
      text = fs.readFileSync(joinIn(paths.configDir, '.config.json'), 'utf8');
    } catch {
      /* no legacy config: the user config decides */
    }
    if (text === '') text = fs.readFileSync(paths.userConfigFile, 'utf8');
    const cfg: unknown = JSON.parse(text);
    if (!isPlainObject(cfg)) return false;
    const flags = cfg.cachedGrowthBookFeatures ?? cfg.cachedFeatureFlags;
    return isPlainObject(flags) && flags.tengu_windows_credman === true;
  } catch {
    return false;
  }
}

/**
 * The store when Claude Code keeps its tokens in Windows Credential Manager. We cannot read it (no native modules)
 * and must not write the file (Claude Code would never see it): every read and write fails with `store-credman`,
 * so the rows say why and every refresh, sign-in and sign-out is refused before it does anything.
 */
export class CredmanStore implements StoreBackend {
  readonly kind = 'credman';
  readonly location = 'Windows Credential Manager (Claude Code-credentials)';
  constructor(readonly file: string) {}
  read(): Promise<StoreSnapshot> {
    return Promise.reject(credmanError());
  }
  write(_data: StoreData): Promise<void> {
    return Promise.reject(credmanError());
  }
}

export function credmanError(): McpAuthError {
  return new McpAuthError(
    'store-credman',
    'Claude Code keeps its tokens in Windows Credential Manager here (CLAUDE_CODE_FORCE_WINDOWS_CREDMAN=1 or its cached tengu_windows_credman flag); mcp-auth can show state but cannot refresh or sign in',
  );
}

/** Refuse an action that would write the store (refresh, sign-in, sign-out) before it does anything. */
export function assertWritableStore(store: Pick<StoreBackend, 'kind'>): void {
  if (store.kind === 'credman') throw credmanError();
}
