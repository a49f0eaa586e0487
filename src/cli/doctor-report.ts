import type { AuthState } from '../core';
import type { VersionVerdict } from '../core/claudeVersions';
import type { ConnectorsOff } from '../core/connectors';

/** The doctor report as printed with --json: the diagnosis worded for the CLI. */
export interface DoctorReport {
  configDir: string;
  secureDir: string;
  store: string;
  cacheFile: string;
  configFiles: string[];
  /** config files that exist but cannot be read or parsed */
  unreadableConfigFiles: { file: string; code: string }[];
  checks: { check: string; ok: boolean; message: string }[];
  servers: { name: string; scope: string; state: AuthState; reason: string; lines: string[]; fix?: string }[];
  /** the Claude Code versions in play (core/claudeVersions.ts), each with whether our formats are verified for it */
  claudeCode: { source: 'path' | 'session'; version: string | null; verdict: VersionVerdict; message: string }[];
  /** claude.ai connectors: off, and why (ENABLE_CLAUDEAI_MCP_SERVERS or the disableClaudeAiConnectors setting) */
  claudeAiConnectors: { off: ConnectorsOff | null; message: string };
}
