#!/usr/bin/env node
import { parseArgs } from 'node:util';
import * as path from 'node:path';
import { isMcpAuthError, McpAuthError, Logger, redact, resolvePaths, type AuthModel, type ClaudePaths } from '../core';
import { loadModel } from '../core/model';
import { recordProfile } from '../core/profiles';
import { TEST_HOOKS } from '../core/build';
import { setHeldSignalNotice } from '../core/signals';
import { fixCommand, runDoctor } from './doctor';
import { fixFor } from '../core/diagnose';
import { isProblem, needsAttention } from '../core/status';
import { brokenConfigFiles, printIssues } from './report';
import { blockedUntil } from '../core/connectors';
import { detail, paint, table, type Style } from './format';
import type { Command, CliContext } from './commands';
import { runRefresh } from './refresh';
import { runInvalidate, runLogin, runLogout } from './auth';
import { runWatch } from './watch';
import { commandHelp, mainHelp } from './help';
import { sessionsJson, statusSessionLines } from './sessions';

declare const __VERSION__: string;
const VERSION = typeof __VERSION__ === 'string' ? __VERSION__ : '0.0.0-dev';

const OPTIONS = {
  json: { type: 'boolean' },
  cwd: { type: 'string' },
  'config-dir': { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  all: { type: 'boolean' },
  force: { type: 'boolean' },
  'no-open': { type: 'boolean' },
  timeout: { type: 'string' },
  'no-revoke': { type: 'boolean' },
  'no-browser': { type: 'boolean' },
  device: { type: 'boolean' },
  once: { type: 'boolean' },
  probe: { type: 'boolean' },
  'new-client': { type: 'boolean' },
} as const;

/** Node's parser words an unknown option with an unbalanced quote; ours: "unknown option --jsn (did you mean --json?)". */
export function usageMessage(e: unknown, argv: string[]): string {
  if ((e as { code?: string }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return (e as Error).message;
  const shorts = new Map<string, string>();
  for (const [name, o] of Object.entries(OPTIONS)) if ('short' in o) shorts.set(o.short, name);
  for (const arg of argv) {
    if (arg === '--') break;
    let given: string | undefined;
    if (arg.startsWith('--')) {
      const name = arg.slice(2).split('=')[0];
      if (!Object.prototype.hasOwnProperty.call(OPTIONS, name)) given = name;
    } else if (/^-[^-]/.test(arg)) {
      const bad = [...arg.slice(1)].find((c) => !shorts.has(c));
      if (bad) return `unknown option -${bad} (see mcp-auth --help)`;
    }
    if (given !== undefined) {
      const near = closest(given, Object.keys(OPTIONS));
      return `unknown option --${given}${near ? ` (did you mean --${near}?)` : ''}`;
    }
  }
  return 'unknown option (see mcp-auth --help)';
}

/** The candidate nearest to `word` by edit distance, when it is near enough to be a likely typo. */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(2, Math.floor(word.length / 2)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: OPTIONS,
    });
  } catch (e) {
    process.stderr.write(`mcp-auth: usage: ${usageMessage(e, argv)}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const [cmd, ...names] = positionals;
  if (!cmd) {
    process.stdout.write(mainHelp());
    return values.help ? 0 : 2;
  }
  if (values.help) {
    const page = commandHelp(cmd);
    if (!page) {
      process.stderr.write(`mcp-auth: usage: unknown command "${cmd}" (see mcp-auth --help)\n`);
      return 2;
    }
    process.stdout.write(page);
    return 0;
  }

  const verbose = values.verbose === true;
  const logger = new Logger((level, line) => {
    if (verbose || level === 'warn' || level === 'error') process.stderr.write(`mcp-auth: ${level}: ${line}\n`);
  });
  // a second Ctrl-C while a refresh's answer is being stored (core/signals.ts): say what we wait for
  setHeldSignalNotice((sig, holds) => {
    const left = Math.max(0, ...holds.map((h) => h.since + h.boundMs - Date.now()));
    process.stderr.write(
      `mcp-auth: ${sig}: waiting for the token answer under way to be stored (${holds.map((h) => h.what).join(', ')}; at most ${Math.ceil(left / 1000)} s more), then exiting\n`,
    );
  });
  const paths: ClaudePaths = resolvePaths({ env, configDirOverride: values['config-dir'] });
  const cwd = path.resolve(values.cwd ?? process.cwd());
  const style: Style = { color: process.stdout.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb' };
  // MCP_AUTH_NOW (epoch ms) pins the clock, in the test build only.
  const now =
    TEST_HOOKS && env.MCP_AUTH_NOW && Number.isFinite(Number(env.MCP_AUTH_NOW)) ? Number(env.MCP_AUTH_NOW) : undefined;
  const ctx: CliContext = { paths, cwd, env, logger, style, values, names, now, out: (s) => process.stdout.write(s) };
  try {
    const run = Object.prototype.hasOwnProperty.call(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
    if (!run) {
      process.stderr.write(`mcp-auth: usage: unknown command "${cmd}" (see mcp-auth --help)\n`);
      return 2;
    }
    const code = await run(ctx);
    // a command that acted (and succeeded: an error path writes nothing) notes this profile's secure-storage dir
    // beside the shared cache (core/profiles.ts); `watch` notes it when it starts
    if (code === 0 && ACTING.has(cmd) && ctx.wrote) await recordProfile(paths);
    return code;
  } catch (e) {
    return reportError(e, verbose);
  }
}

const ACTING = new Set(['refresh', 'login', 'logout', 'invalidate']);

/** Every command, in one table. */
const COMMANDS: Record<string, Command> = {
  status: (ctx) => status(ctx),
  doctor: runDoctor,
  refresh: runRefresh,
  login: runLogin,
  logout: runLogout,
  invalidate: runInvalidate,
  watch: runWatch,
};

export function reportError(e: unknown, verbose: boolean): number {
  if (isMcpAuthError(e)) {
    process.stderr.write(redact(`mcp-auth: ${e.code}: ${e.message}\n`));
    if (verbose && e.stack) process.stderr.write(redact(e.stack) + '\n');
    return e.code === 'lock-timeout' ? 3 : e.code === 'usage' ? 2 : 1;
  }
  process.stderr.write(redact(`mcp-auth: internal: ${(e as Error)?.message ?? String(e)}\n`));
  if (verbose && e instanceof Error && e.stack) process.stderr.write(redact(e.stack) + '\n');
  return 1;
}

const iso = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString());

export function statusJson(model: AuthModel, rows: AuthModel['servers'] = model.servers): unknown {
  return {
    servers: rows.map((r) => ({
      name: r.config.name,
      scope: r.config.scope,
      transport: r.config.transport,
      url: r.config.url ?? null,
      state: r.status.state,
      reason: r.status.state === 'error' ? (r.status.code ?? r.status.reason) : r.status.reason,
      expiresAt: iso(r.status.expiresAt),
      hasRefreshToken: r.status.hasRefreshToken,
      needsAuthCachedAt: iso(r.status.cache?.timestamp),
      lockHeldBy: r.status.lock?.held ? (r.status.lock.holder ?? 'unknown') : null,
      // only on claude.ai connector rows: its id (from the needs-auth entry) and until when new sessions skip it
      ...(r.config.transport === 'claudeai-proxy'
        ? { connectorId: r.config.connectorId ?? null, blockedUntil: iso(blockedUntil(r.status)) }
        : {}),
      // only on needs-scope rows: the scopes the server asked for (Claude Code's stepUpScope) that the token lacks
      ...(r.status.missingScopes ? { missingScopes: r.status.missingScopes } : {}),
      // only where there is something to say beyond the state (say why)
      ...(r.hints
        ? {
            hints: r.hints.map((h) =>
              h.code === 'no-offline-access' ? { code: h.code, expiresAt: iso(h.expiresAt) } : h,
            ),
          }
        : {}),
      // only where running Claude Code sessions started while a needs-auth entry we cleared stood (they lack it)
      ...(r.sessionsLacking?.length ? { runningSessionsLacking: sessionsJson(r.sessionsLacking) } : {}),
    })),
    // what could not be read or parsed (the same codes and messages as the stderr lines): a file that exists but is
    // not valid JSON is never the same as no file
    errors: model.issues.map((i) => ({
      code: i.code,
      message: redact(i.message),
      file: i.file ?? null,
      line: i.line ?? null,
    })),
  };
}

async function status(ctx: CliContext): Promise<number> {
  const model = await loadModel({ paths: ctx.paths, cwd: ctx.cwd, env: ctx.env, now: ctx.now, logger: ctx.logger });
  // `status NAME…`: those servers only; a name Claude Code does not know is an error, as for every other command
  let servers = model.servers;
  if (ctx.names.length) {
    const unknown = ctx.names.filter((n) => !model.servers.some((r) => r.config.name === n));
    if (unknown.length)
      throw new McpAuthError(
        'unknown-server',
        `no MCP server named ${unknown.map((n) => `"${n}"`).join(', ')} in Claude Code's configuration`,
        { server: unknown[0] },
      );
    servers = model.servers.filter((r) => ctx.names.includes(r.config.name));
  }
  printIssues(model);
  const bad = model.issues.length > 0 || servers.some((r) => isProblem(r.status.state));
  if (ctx.values.json) {
    ctx.out(JSON.stringify(statusJson(model, servers), null, 2) + '\n');
    return bad ? 1 : 0;
  }
  if (servers.length === 0) {
    const broken = brokenConfigFiles(model);
    ctx.out(
      broken.length
        ? `${broken.map((b) => b.file).join(', ')} ${broken.length === 1 ? 'exists but cannot be' : 'exist but cannot be'} read or parsed (see above): no servers can be listed until it is fixed.\n`
        : model.configFiles.length === 0
          ? 'No Claude Code configuration found (looked for ~/.claude.json, .mcp.json and managed-mcp.json).\n'
          : 'No MCP servers configured for this folder.\n',
    );
    return bad ? 1 : 0;
  }
  const rows = [['NAME', 'SCOPE', 'STATE', 'DETAIL']];
  for (const r of servers) {
    rows.push([
      r.config.name,
      r.config.scope,
      paint(ctx.style, r.status.state, r.status.state),
      redact(detail(r, model.now)),
    ]);
  }
  ctx.out(table(rows) + '\n');
  // the one fix rule (core/diagnose), for the rows that cannot serve a new session as they are
  const fixes = servers.filter((r) => needsAttention(r.status.state) || r.status.state === 'expired');
  if (fixes.length) {
    ctx.out('\n');
    for (const r of fixes) ctx.out(`  ${r.config.name}: ${fixCommand(fixFor(r), r.config.name)}\n`);
  }
  const sessions = statusSessionLines(model.servers);
  if (sessions.length) ctx.out(`\n${sessions.join('\n')}\n`);
  return bad ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.exitCode = reportError(e, true);
    },
  );
}
