import * as fs from 'node:fs';
import * as path from 'node:path';
import { McpAuthError, isMcpAuthError } from '../errors';
import { isPlainObject, readJsonFile } from '../fsutil';
import { managedMcpFiles, type ClaudePaths } from '../paths';
import { parseServer } from './parse';
import { discoverPluginServers } from './plugins';
import { isRemote, type ConfigIssue, type DiscoveredConfig, type Scope, type ServerConfig } from './types';
import { serverKey } from '../store/key';
import { isConnectorName, refuseConnector } from '../connectors';

export { normalizeTransport, parseServer } from './parse';

export interface DiscoverOptions {
  paths: ClaudePaths;
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

/** Precedence when names collide, highest first (Claude Code: local > project > user; managed is exclusive). */
const PRECEDENCE: Scope[] = ['local', 'project', 'user', 'plugin']; // project: approved servers only

/** The folder Claude Code uses as the key of `projects` in ~/.claude.json: the git root, else the cwd. */
export function projectKeyFor(cwd: string): string {
  let dir = path.resolve(cwd);
  for (;;) {
    if (fs.existsSync(path.join(dir, '.git'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(cwd);
    dir = up;
  }
}

/** Every MCP server Claude Code would load for `cwd`, with the scope that wins each name. */
export async function discoverServers(opts: DiscoverOptions): Promise<DiscoveredConfig> {
  const env = opts.env ?? process.env;
  const issues: ConfigIssue[] = [];
  const filesRead: string[] = [];
  const projectKey = projectKeyFor(opts.cwd);

  const read = async (file: string): Promise<Record<string, unknown> | undefined> => {
    try {
      const r = await readJsonFile(file, 'config');
      if (!r) return undefined;
      filesRead.push(file);
      if (!isPlainObject(r.value)) {
        issues.push({ code: 'config-invalid', file, message: `${file}: top level is not a JSON object` });
        return undefined;
      }
      return r.value;
    } catch (e) {
      if (isMcpAuthError(e)) {
        issues.push({ code: e.code as ConfigIssue['code'], file, message: e.message, line: e.details.line });
        return undefined;
      }
      throw e;
    }
  };

  // managed: exclusive control when present
  for (const file of managedMcpFiles(opts.paths)) {
    const managed = await read(file);
    if (managed) {
      const servers = serversFrom(managed.mcpServers, 'managed', file, env, issues);
      return { servers, filesRead, issues, projectKey, notLoaded: [], definitionsByName: {} };
    }
  }

  const byScope = new Map<Scope, ServerConfig[]>();
  const definitionsByName: Record<string, number> = {};
  const userCfg = await read(opts.paths.userConfigFile);
  if (userCfg) {
    byScope.set('user', serversFrom(userCfg.mcpServers, 'user', opts.paths.userConfigFile, env, issues));
    const projects = userCfg.projects;
    if (projects !== undefined && !isPlainObject(projects)) {
      issues.push({
        code: 'config-invalid',
        file: opts.paths.userConfigFile,
        message: `${opts.paths.userConfigFile}: "projects" is not an object`,
      });
    }
    const proj = isPlainObject(projects) ? projects[projectKey] : undefined;
    if (isPlainObject(proj)) {
      byScope.set('local', serversFrom(proj.mcpServers, 'local', opts.paths.userConfigFile, env, issues));
    }
    // Claude Code keys its needs-auth cache by name alone, for every folder: count how many different
    // servers (type, URL, headers) go by each name across the user scope and every folder's local scope.
    const seen = new Map<string, Set<string>>();
    const note = (list: ServerConfig[]) => {
      for (const s of list)
        if (isRemote(s) && !s.problem) (seen.get(s.name) ?? seen.set(s.name, new Set()).get(s.name)!).add(serverKey(s));
    };
    note(byScope.get('user') ?? []);
    if (isPlainObject(projects))
      for (const p of Object.values(projects))
        if (isPlainObject(p)) note(serversFrom(p.mcpServers, 'local', opts.paths.userConfigFile, env, []));
    for (const [name, keys] of seen) definitionsByName[name] = keys.size;
  }

  // project scope: every .mcp.json from the cwd up to the root; the closest wins
  const projectServers = new Map<string, ServerConfig>();
  const approval = await approvalFor(userCfg, projectKey, read, opts.paths.configDir);
  let dir = path.resolve(opts.cwd);
  const chain: string[] = [];
  for (;;) {
    chain.push(path.join(dir, '.mcp.json'));
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  for (const file of chain.reverse()) {
    const cfg = await read(file);
    if (!cfg) continue;
    for (const s of serversFrom(cfg.mcpServers, 'project', file, env, issues)) {
      s.approval = approval(s.name);
      projectServers.set(s.name, s);
    }
  }
  // Only an approved .mcp.json server takes part in the precedence (seen with 2.1.328: `claude mcp list`, `mcp get`,
  // `mcp login` and `mcp logout` use the user-scope server of the same name while the project one is pending or
  // rejected, and never contact the project one's URL).
  byScope.set(
    'project',
    [...projectServers.values()].filter((s) => s.approval === 'approved'),
  );
  byScope.set(
    'plugin',
    await discoverPluginServers({ paths: opts.paths, projectKey, cwd: opts.cwd, env, read, issues }),
  );

  const winners = new Map<string, ServerConfig>();
  for (const scope of PRECEDENCE) {
    for (const s of byScope.get(scope) ?? []) if (!winners.has(s.name)) winners.set(s.name, s);
  }
  // A pending server with a name of its own is listed ("Pending approval" in `claude mcp list`); a rejected one is not.
  const notLoaded: ServerConfig[] = [];
  for (const s of projectServers.values()) {
    if (s.approval === 'approved') continue;
    if (s.approval === 'pending' && !winners.has(s.name)) winners.set(s.name, s);
    else notLoaded.push(s);
  }
  const order = (s: ServerConfig) => ['managed', 'user', 'local', 'project', 'plugin'].indexOf(s.scope);
  const servers = [...winners.values()].sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name));
  return { servers, filesRead, issues, projectKey, notLoaded, definitionsByName };
}

type Approval = 'approved' | 'pending' | 'rejected';

/**
 * Project-scope approval as Claude Code 2.1.328 decides it (observed by running it): the folder must be
 * trusted (`hasTrustDialogAccepted` on it or a parent in ~/.claude.json), and the lists come from the
 * settings files (.claude/settings.local.json, .claude/settings.json, the user's settings.json); the same
 * lists in the ~/.claude.json project entry alone did not approve a server.
 */
async function approvalFor(
  userCfg: Record<string, unknown> | undefined,
  projectKey: string,
  read: (file: string) => Promise<Record<string, unknown> | undefined>,
  configDir: string,
): Promise<(name: string) => Approval> {
  const projects = isPlainObject(userCfg?.projects) ? (userCfg!.projects as Record<string, unknown>) : {};
  let trusted = false;
  for (let dir = projectKey; ; dir = path.dirname(dir)) {
    const p = projects[dir];
    if (isPlainObject(p) && p.hasTrustDialogAccepted === true) {
      trusted = true;
      break;
    }
    if (path.dirname(dir) === dir) break;
  }
  const sources: Record<string, unknown>[] = [];
  for (const f of [
    path.join(projectKey, '.claude', 'settings.local.json'),
    path.join(projectKey, '.claude', 'settings.json'),
    path.join(configDir, 'settings.json'),
  ]) {
    const s = await read(f);
    if (s) sources.push(s);
  }
  const list = (k: string) =>
    sources.flatMap((s) => (Array.isArray(s[k]) ? (s[k] as unknown[]).filter((x) => typeof x === 'string') : []));
  const enabled = new Set(list('enabledMcpjsonServers'));
  const disabled = new Set(list('disabledMcpjsonServers'));
  const all = sources.some((s) => s.enableAllProjectMcpServers === true);
  return (name) => (disabled.has(name) ? 'rejected' : trusted && (enabled.has(name) || all) ? 'approved' : 'pending');
}

function serversFrom(
  raw: unknown,
  scope: Scope,
  file: string,
  env: NodeJS.ProcessEnv,
  issues: ConfigIssue[],
): ServerConfig[] {
  if (raw === undefined) return [];
  if (!isPlainObject(raw)) {
    issues.push({ code: 'config-invalid', file, message: `${file}: "mcpServers" is not an object` });
    return [];
  }
  const out: ServerConfig[] = [];
  for (const [name, def] of Object.entries(raw)) {
    if (!isPlainObject(def)) {
      issues.push({ code: 'config-invalid', file, message: `${file}: server "${name}" is not an object` });
      continue;
    }
    out.push(parseServer(name, def, scope, file, env));
  }
  return out;
}

export function findServer(servers: ServerConfig[], name: string): ServerConfig {
  const s = servers.find((x) => x.name === name);
  if (!s)
    throw new McpAuthError('unknown-server', `no MCP server named "${name}" in Claude Code's configuration`, {
      server: name,
    });
  return s;
}

/**
 * Refuse to act (refresh, sign in, sign out, clear its needs-auth entry) on a server whose url or headers name a
 * `${VAR}` this process does not have: its entry key would not be the one Claude Code computes with the variable set.
 */
export function assertResolvable(s: ServerConfig): void {
  if (s.problem?.code === 'unset-variable') {
    throw new McpAuthError(
      'unset-variable',
      `"${s.name}": ${s.problem.message}; set it where mcp-auth runs (as Claude Code sees it) and try again`,
      { server: s.name, file: s.file },
    );
  }
}

/**
 * Refuse to act (refresh, sign in, sign out, clear its needs-auth entry) on a .mcp.json server Claude Code has not
 * approved for this folder, as `claude mcp login|logout` refuse it: its URL comes from a repository the user never
 * accepted.
 */
export function assertApproved(s: ServerConfig): void {
  assertResolvable(s);
  if (s.approval === 'pending') {
    throw new McpAuthError(
      'not-approved',
      `"${s.name}" is from ${s.file} and awaiting approval in Claude Code; run \`claude\` in this folder to review it first`,
      { server: s.name, file: s.file },
    );
  }
  if (s.approval === 'rejected') {
    throw new McpAuthError(
      'not-approved',
      `"${s.name}" is from ${s.file} and was rejected in Claude Code (disabledMcpjsonServers); run \`claude mcp reset-project-choices\` to review it again`,
      { server: s.name, file: s.file },
    );
  }
}

/** The server a command may act on under `name`: unknown-server if none, not-approved for an unapproved .mcp.json one. */
export function serverToActOn(cfg: Pick<DiscoveredConfig, 'servers' | 'notLoaded'>, name: string): ServerConfig {
  const s = cfg.servers.find((x) => x.name === name) ?? cfg.notLoaded.find((x) => x.name === name);
  // a claude.ai connector (no config file defines it): refresh, login and logout refuse it with their own code
  if (!s && isConnectorName(name)) refuseConnector(name);
  if (!s)
    throw new McpAuthError('unknown-server', `no MCP server named "${name}" in Claude Code's configuration`, {
      server: name,
    });
  assertApproved(s);
  return s;
}
