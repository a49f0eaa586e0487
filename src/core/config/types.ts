/** `claudeai`: a claude.ai connector (core/connectors.ts), from the user's claude.ai account, not from a config file. */
export type Scope = 'managed' | 'local' | 'project' | 'user' | 'plugin' | 'claudeai';
export type Transport = 'stdio' | 'http' | 'sse' | 'ws' | 'sdk' | 'claudeai-proxy' | 'unknown';

export interface OAuthConfig {
  clientId?: string;
  callbackPort?: number;
  authServerMetadataUrl?: string;
  scopes?: string;
}

export interface ServerConfig {
  name: string;
  scope: Scope;
  /** file the definition came from */
  file: string;
  transport: Transport;
  /** the `type` written in the config, before normalisation (e.g. "streamable-http") */
  rawType?: string;
  url?: string;
  /** headers after ${VAR} expansion, in file order */
  headers?: Record<string, string>;
  headersHelper?: string;
  oauth?: OAuthConfig;
  command?: string;
  args?: string[];
  /**
   * project scope only: approval as Claude Code's `claude mcp list` decides it. Only an approved project server
   * stands in for a user/local one of the same name; a pending one is listed (when nothing else has the name) but
   * never acted on; a rejected one is never listed (see DiscoveredConfig.notLoaded).
   */
  approval?: 'approved' | 'pending' | 'rejected';
  /** plugin scope only: the plugin's id, `<plugin>@<marketplace>` */
  plugin?: string;
  /** claude.ai connectors only: the connector id its needs-auth entry carries (`mcpsrv_…`), when one does */
  connectorId?: string;
  /** claude.ai connectors only: listed in `claudeAiMcpEverConnected` of ~/.claude.json */
  everConnected?: boolean;
  /** a problem with this one definition (e.g. url not a URL); the server is still listed */
  problem?: {
    code: 'invalid-url' | 'config-invalid' | 'unset-variable';
    message: string;
    /** `unset-variable`: the `${VAR}`s in the url or headers that are not set in this process, in order */
    variables?: string[];
  };
}

export interface ConfigIssue {
  code: 'config-parse' | 'config-read' | 'config-invalid';
  file: string;
  message: string;
  line?: number;
}

export interface DiscoveredConfig {
  servers: ServerConfig[];
  /** files that were looked at and existed */
  filesRead: string[];
  /** problems found; other files were still read */
  issues: ConfigIssue[];
  /** the key of ~/.claude.json's `projects` used for local scope */
  projectKey: string;
  /**
   * .mcp.json servers Claude Code leaves out for this folder: rejected ones, and pending ones whose name another
   * scope's server has. Never acted on; kept so that naming one gives `not-approved`, not `unknown-server`.
   */
  notLoaded: ServerConfig[];
  /**
   * How many different remote servers (type, URL, headers) go by each name across the user scope and every
   * folder's local scope in ~/.claude.json. Claude Code keys its needs-auth cache by name alone, so when this is
   * more than 1, one server's failure blocks the others of that name in every folder.
   */
  definitionsByName: Record<string, number>;
}

/** Remote (OAuth-capable) servers: streamable HTTP and SSE. The one place this is decided. */
export function isRemote(s: Pick<ServerConfig, 'transport'>): boolean {
  return s.transport === 'http' || s.transport === 'sse';
}
