import * as path from 'node:path';
import { isPlainObject } from '../fsutil';
import type { ClaudePaths } from '../paths';
import { parseServer } from './parse';
import type { ConfigIssue, ServerConfig } from './types';

/**
 * The MCP servers of installed Claude Code plugins, as Claude Code 2.1.328 loads them (seen by running it with
 * local marketplaces, and read from its bundled code):
 * - `<plugins dir>/installed_plugins.json` (`{version:2, plugins:{"<plugin>@<marketplace>":[{scope, installPath,
 *   projectPath?, …}]}}`) lists what is installed; the plugins dir is $CLAUDE_CODE_PLUGIN_CACHE_DIR, else
 *   `<config dir>/plugins`.
 * - A plugin loads only when `enabledPlugins["<plugin>@<marketplace>"]` is `true` in the merged settings (user
 *   settings.json < the project's .claude/settings.json < .claude/settings.local.json); `claude plugin disable`
 *   writes `false`.
 * - Its folder: for a `directory`/`file` marketplace (known_marketplaces.json) whose entry gives a relative
 *   source, the marketplace's own folder + that source (edits there show without reinstalling); otherwise the
 *   install record's `installPath` (the copy under `plugins/cache/<marketplace>/<plugin>/<version>`).
 * - Its servers: `.mcp.json` in that folder (`{"mcpServers":{…}}` or the bare map), then the manifest's
 *   (`.claude-plugin/plugin.json`) `mcpServers` — a relative path to such a file, an inline map, or an array of
 *   both — later definitions replacing earlier ones of the same name.
 * - Named `plugin:<manifest name, else the plugin's name>:<server>`; `${CLAUDE_PLUGIN_ROOT}` (the folder),
 *   `${CLAUDE_PLUGIN_DATA}` (`<plugins dir>/data/<id with [^A-Za-z0-9_-] → ->`) and `${CLAUDE_PROJECT_DIR}` are
 *   substituted before the usual `${VAR}` expansion.
 */
export interface PluginDiscoverOptions {
  paths: ClaudePaths;
  /** the project folder (git root, else cwd): the key of a project/local install record */
  projectKey: string;
  /** the folder Claude Code runs in: ${CLAUDE_PROJECT_DIR} */
  cwd: string;
  env: NodeJS.ProcessEnv;
  read: (file: string) => Promise<Record<string, unknown> | undefined>;
  issues: ConfigIssue[];
}

export function pluginsDirFor(paths: Pick<ClaudePaths, 'configDir'>, env: NodeJS.ProcessEnv): string {
  if (env.CLAUDE_CODE_PLUGIN_CACHE_DIR) return path.resolve(env.CLAUDE_CODE_PLUGIN_CACHE_DIR);
  return path.join(paths.configDir, env.CLAUDE_CODE_USE_COWORK_PLUGINS ? 'cowork_plugins' : 'plugins');
}

/** `enabledPlugins` merged over the settings files, later files winning; keys compared case-insensitively. */
async function enabledPlugins(opts: PluginDiscoverOptions): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  const files = [
    path.join(opts.paths.configDir, 'settings.json'),
    path.join(opts.projectKey, '.claude', 'settings.json'),
    path.join(opts.projectKey, '.claude', 'settings.local.json'),
  ];
  for (const f of files) {
    const s = await opts.read(f);
    if (!s || !isPlainObject(s.enabledPlugins)) continue;
    for (const [id, v] of Object.entries(s.enabledPlugins)) out.set(fold(id), v === true);
  }
  return out;
}

const fold = (id: string) => id.normalize('NFC').toLowerCase();

/** The folder a plugin loads from (see above), or undefined when nothing says. */
async function pluginRoot(
  opts: PluginDiscoverOptions,
  pluginName: string,
  marketplace: Record<string, unknown> | undefined,
  records: Record<string, unknown>[],
): Promise<string | undefined> {
  const src = isPlainObject(marketplace?.source) ? marketplace.source : undefined;
  if (src && (src.source === 'directory' || src.source === 'file')) {
    const file =
      src.source === 'file' && typeof src.path === 'string'
        ? src.path
        : typeof marketplace?.installLocation === 'string'
          ? path.join(marketplace.installLocation, '.claude-plugin', 'marketplace.json')
          : typeof src.path === 'string'
            ? path.join(src.path, '.claude-plugin', 'marketplace.json')
            : undefined;
    const catalog = file ? await opts.read(file) : undefined;
    const entry = Array.isArray(catalog?.plugins)
      ? ((catalog.plugins as unknown[]).find((p) => isPlainObject(p) && p.name === pluginName) as
          Record<string, unknown> | undefined)
      : undefined;
    if (file && entry && typeof entry.source === 'string') {
      const dir =
        path.basename(path.dirname(file)) === '.claude-plugin' ? path.dirname(path.dirname(file)) : path.dirname(file);
      let rel = entry.source;
      const root =
        isPlainObject(catalog?.metadata) && typeof catalog.metadata.pluginRoot === 'string'
          ? catalog.metadata.pluginRoot
          : undefined;
      if (root !== undefined && !/^(\.{1,2}[/\\]|\.$|[/\\])/.test(rel)) rel = path.join(root, rel); // a bare name resolves under metadata.pluginRoot
      return path.resolve(dir, rel);
    }
  }
  // the record for this project, else the user one, else the most recent
  const rec =
    records.find((r) => typeof r.projectPath === 'string' && path.resolve(r.projectPath) === opts.projectKey) ??
    records.find((r) => r.scope === 'user' || r.scope === 'managed') ??
    records[0];
  return typeof rec?.installPath === 'string' ? rec.installPath : undefined;
}

/** Substitute the plugin variables in every string of a server definition (before ${VAR} expansion). */
function substitute(def: Record<string, unknown>, vars: Record<string, string>): Record<string, unknown> {
  const sub = (s: string) =>
    s.replace(/\$\{(CLAUDE_PLUGIN_ROOT|CLAUDE_PLUGIN_DATA|CLAUDE_PROJECT_DIR)\}/g, (_w, k: string) => vars[k]);
  const out: Record<string, unknown> = { ...def };
  for (const k of ['url', 'command', 'headersHelper'] as const)
    if (typeof out[k] === 'string') out[k] = sub(out[k] as string);
  if (Array.isArray(out.args)) out.args = out.args.map((a) => (typeof a === 'string' ? sub(a) : a));
  if (isPlainObject(out.headers))
    out.headers = Object.fromEntries(
      Object.entries(out.headers).map(([k, v]) => [k, typeof v === 'string' ? sub(v) : v]),
    );
  return out;
}

/** A server map from a file: `{"mcpServers":{…}}` or the bare map. */
function serverMap(obj: Record<string, unknown>): Record<string, unknown> {
  return isPlainObject(obj.mcpServers) ? obj.mcpServers : obj;
}

export async function discoverPluginServers(opts: PluginDiscoverOptions): Promise<ServerConfig[]> {
  const dir = pluginsDirFor(opts.paths, opts.env);
  const installedFile = path.join(dir, 'installed_plugins.json');
  const installed = await opts.read(installedFile);
  if (!installed) return [];
  if (!isPlainObject(installed.plugins)) {
    opts.issues.push({
      code: 'config-invalid',
      file: installedFile,
      message: `${installedFile}: "plugins" is not an object`,
    });
    return [];
  }
  const enabled = await enabledPlugins(opts);
  const known = await opts.read(path.join(dir, 'known_marketplaces.json'));
  const out: ServerConfig[] = [];
  for (const [id, raw] of Object.entries(installed.plugins)) {
    if (enabled.get(fold(id)) !== true) continue;
    const at = id.lastIndexOf('@');
    const pluginName = at > 0 ? id.slice(0, at) : id;
    const mkName = at > 0 ? id.slice(at + 1) : '';
    // version 2: a list of install records; version 1: one record
    const records = (Array.isArray(raw) ? raw : [raw]).filter(isPlainObject);
    const marketplace = isPlainObject(known?.[mkName]) ? (known[mkName] as Record<string, unknown>) : undefined;
    const root = await pluginRoot(opts, pluginName, marketplace, records);
    if (!root) continue;
    const manifestFile = path.join(root, '.claude-plugin', 'plugin.json');
    const before = opts.issues.length;
    const manifest = await opts.read(manifestFile);
    if (opts.issues.length > before) continue; // a manifest Claude Code cannot read: the plugin does not load
    const name = typeof manifest?.name === 'string' && manifest.name ? manifest.name : pluginName;

    const defs = new Map<string, { def: unknown; file: string }>();
    const addMap = (m: Record<string, unknown>, file: string) => {
      for (const [k, v] of Object.entries(m)) defs.set(k, { def: v, file });
    };
    const mcpJson = path.join(root, '.mcp.json');
    const fromMcpJson = await opts.read(mcpJson);
    if (fromMcpJson) addMap(serverMap(fromMcpJson), mcpJson);
    const declared = manifest?.mcpServers;
    for (const item of Array.isArray(declared) ? declared : declared === undefined ? [] : [declared]) {
      if (isPlainObject(item)) addMap(item, manifestFile);
      else if (typeof item === 'string' && !/\.mcpb$/i.test(item) && !/^[a-z][a-z0-9+.-]*:\/\//i.test(item)) {
        const f = path.resolve(root, item);
        const m = await opts.read(f);
        if (m) addMap(serverMap(m), f);
      }
    }
    const vars = {
      CLAUDE_PLUGIN_ROOT: root,
      CLAUDE_PLUGIN_DATA: path.join(dir, 'data', id.replace(/[^a-zA-Z0-9\-_]/g, '-')),
      CLAUDE_PROJECT_DIR: path.resolve(opts.cwd),
    };
    for (const [server, { def, file }] of defs) {
      const full = `plugin:${name}:${server}`;
      if (!isPlainObject(def)) {
        opts.issues.push({ code: 'config-invalid', file, message: `${file}: server "${server}" is not an object` });
        continue;
      }
      const s = parseServer(full, substitute(def, vars), 'plugin', file, opts.env);
      s.plugin = id;
      out.push(s);
    }
  }
  return out;
}
