import type { ClaudePaths, Logger } from '../core';
import type { Style } from './format';

export interface CliContext {
  paths: ClaudePaths;
  cwd: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  style: Style;
  values: Record<string, string | boolean | undefined>;
  names: string[];
  /** pinned clock (MCP_AUTH_NOW), else undefined = Date.now() */
  now?: number;
  out: (s: string) => void;
  /** set by a command that changed a file (a token stored or removed, a needs-auth entry cleared): only then does
   * the run note this profile (core/profiles.ts) — nothing is written when nothing changes */
  wrote?: boolean;
}

export type Command = (ctx: CliContext) => Promise<number>;
