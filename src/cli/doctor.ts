import { redact } from '../core';
import { diagnose, type Check, type Fact, type FixCode } from '../core/diagnose';
import { loadModel } from '../core/model';
import { isProblem } from '../core/status';
import type { CliContext } from './commands';
import { duration, paint, REASON_TEXT } from './format';
import { brokenConfigFiles, printIssues } from './report';
import type { Hint } from '../core';
import type { DoctorReport } from './doctor-report';
import { keeperLines } from './keeper-doctor';
import { claudeVersionsInPlay, VERIFIED_CLAUDE_VERSIONS, type ClaudeVersionSeen } from '../core/claudeVersions';
import { sessionLine } from './sessions';

export type { DoctorReport } from './doctor-report';

/** The CLI's wording of the one fix rule (core/diagnose fixFor): a command to run. */
export function fixCommand(fix: FixCode | undefined, name: string): string | undefined {
  switch (fix) {
    case 'claudeai-sign-in':
      return `sign in on claude.ai (claude mcp login ${shellQuote(name)} prints the address and clears the entry), or after signing in there: mcp-auth invalidate ${shellQuote(name)}`;
    case 'invalidate':
      return `mcp-auth invalidate ${name}`;
    case 'refresh':
      return `mcp-auth refresh ${name}`;
    case 'login':
      return `mcp-auth login ${name}`;
    case 'grant':
      return `mcp-auth login ${name}`;
    case 'fix-store':
      return 'fix the credential store, then run mcp-auth doctor again';
    case 'fix-cache':
      return 'fix the needs-auth cache, then run mcp-auth doctor again';
    case 'fix-config':
      return 'fix the configuration, then run mcp-auth doctor again';
    default:
      return undefined;
  }
}

const at = (ms: number) => new Date(ms).toISOString();
/** A word a shell takes as one argument, as it is. */
const shellQuote = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/** Why, beyond the state: the CLI's words for the model's hint codes. */
export function hintLine(h: Hint, name = 'NAME'): string {
  switch (h.code) {
    case 'no-offline-access':
      return `no refresh token stored: sign-in needed again when this token expires at ${at(h.expiresAt)} — the server did not grant offline access (fix: sign in again then; ask the server's admin for offline_access)`;
    case 'client-rejected':
      return `the authorization server rejected the stored client registration (invalid_client) at ${at(h.at)}; it was probably removed there (fix: mcp-auth login ${shellQuote(name)} --new-client)`;
    case 'shared-cache-name':
      return `the name is used by ${h.definitions} different servers across your folders; Claude Code's needs-auth cache keys by name only, so a failure of one blocks the others in every folder (fix: give them different names)`;
    case 'shared-cache-profiles': {
      const without = shellQuote(h.profiles.find((p) => !p.hasToken)!.dir);
      const list = h.profiles.map((p) => `${p.dir} (${p.hasToken ? 'has a token' : 'no token for this server'})`);
      return `the needs-auth cache ${h.cacheFile} is shared with ${h.profiles.length} other secure-storage profile(s) (CLAUDE_SECURESTORAGE_CONFIG_DIR): ${list.join(', ')}; a Claude Code session of a profile without a token for this server writes this entry, and it blocks this profile too (fix: sign in there — CLAUDE_SECURESTORAGE_CONFIG_DIR=${without} mcp-auth login ${shellQuote(name)} — or give each profile its own CLAUDE_CONFIG_DIR)`;
    }
  }
}

function factLine(f: Fact, name: string): string {
  switch (f.code) {
    case 'defined-in':
      return `defined in ${f.file} (${f.scope} scope)${f.pending ? ', awaiting approval in Claude Code' : ''}`;
    case 'endpoint':
      return `${f.transport} ${f.target}`.trim();
    case 'no-entry':
      return `no credential entry under key "${f.key}" in ${f.store}`;
    case 'entry':
      return `credential entry "${f.key}" in ${f.store}`;
    case 'expires':
      return `access token expires ${at(f.at)} (in ${duration(f.inMs)})`;
    case 'expired':
      return `access token expired ${at(f.at)} (${duration(f.agoMs)} ago)`;
    case 'tokens':
      return `refresh token: ${f.refreshToken ? 'stored' : 'none'}; client: ${f.client ?? 'none'}${f.clientId ? ` (${f.clientId})` : ''}`;
    case 'step-up':
      return `the server asked for scope "${f.required}" (403 insufficient_scope, recorded by Claude Code as stepUpScope); the token has "${f.granted ?? ''}"${f.missing.length ? `, lacking ${f.missing.join(' ')}` : ', which covers it'}`;
    case 'spent-token':
      return f.cause === 'interrupted'
        ? `a refresh that began at ${at(f.at)} was interrupted between sending the refresh token and storing the answer: the token may be spent, so mcp-auth will not send it (and has removed it from the entry so that Claude Code does not replay it); sign in again`
        : f.cause === 'answer-lost'
          ? `the stored refresh token was sent at ${at(f.at)} and the answer was lost on its way: it may be spent, and mcp-auth will not send it again (sign in again)`
          : `the stored refresh token was sent at ${at(f.at)} and answered 200, but the answer could not be stored: it is spent, and mcp-auth will not send it again (sign in again)`;
    case 'cache-entry':
      return `needs-auth cache entry written ${at(f.at)}, ${duration(f.ageMs)} old, TTL ${duration(f.ttlMs)}: ${f.fresh ? 'in force: new Claude Code sessions skip this server' : 'expired (ignored by Claude Code)'}`;
    case 'no-cache-entry':
      return 'no needs-auth cache entry';
    case 'odd-answer':
      return `the authorization server's last token answer (${at(f.at)}) was odd: ${f.warnings.join(', ')}; it was stored anyway (the refresh token sent is spent once the server answers 200)`;
    case 'lock-held':
      return `refresh lock held by ${f.holder}, heartbeat ${duration(f.ageMs)} ago${f.stale ? ' (stale)' : ''}`;
    case 'lock-free':
      return 'refresh lock free';
    case 'hint':
      return hintLine(f.hint, name);
    case 'connector':
      return `claude.ai connector${f.id ? ` ${f.id}` : ''}, from your claude.ai account (not a config file); Claude Code reaches it through mcp-proxy.anthropic.com with your claude.ai login, which mcp-auth never reads, refreshes or sends${f.everConnected ? '; a session connected it before (claudeAiMcpEverConnected)' : ''}`;
    case 'connector-entry':
      return f.fresh
        ? `needs-auth entry written ${at(f.at)}, ${duration(f.ageMs)} old, TTL ${duration(f.ttlMs)}: the connector's own sign-in on claude.ai lapsed (or claude.ai refused it); new Claude Code sessions skip it until ${at(f.until!)} unless it is cleared. A fresh claude.ai login does not make it stale (a rejected claude.ai login writes no entry), so only you can tell it is fixed: sign in on claude.ai first`
        : `needs-auth entry written ${at(f.at)}, ${duration(f.ageMs)} old: ${f.ignored === 'no-id' ? 'it has no connector id' : `past its TTL of ${duration(f.ttlMs)}`}, so Claude Code ignores it and connects the connector (harmless; may be cleared)`;
    case 'connector-sign-in':
      return f.url
        ? `sign in on claude.ai: ${f.url} (or run: claude mcp login ${shellQuote(name)}); then mcp-auth invalidate ${shellQuote(name)}. New sessions retry it; sessions already running keep what they read at start (/mcp → ${name} → Reconnect there)`
        : `sign in on claude.ai (run: claude mcp login ${shellQuote(name)}); then mcp-auth invalidate ${shellQuote(name)}. New sessions retry it; sessions already running keep what they read at start (/mcp → ${name} → Reconnect there)`;
    case 'session-lacking':
      return sessionLine(f.session, name);
    case 'state':
      return `state ${f.state}: ${f.state === 'error' ? `${f.error}: ${f.message}` : REASON_TEXT[f.reason]}`;
  }
}

function checkMessage(c: Check): string {
  switch (c.code) {
    case 'store-mode':
      return `${c.location} mode ${c.mode.toString(8).padStart(4, '0')}${c.ok ? '' : ' (should be 0600: other users can read your tokens)'}`;
    case 'lock':
      return `${c.name}: held by ${c.holder}, heartbeat ${duration(c.ageMs)} ago${c.stale ? ' — stale, will be reclaimed by the next refresh' : ''}`;
    case 'lock-owner':
      return c.removed
        ? `${c.name}: removed an owner file left by an interrupted mcp-auth (an older mcp-auth could have taken it for the owner of a lock Claude Code takes later at this path)`
        : `${c.name}: an owner file that describes no current lock (pid ${c.pid} was interrupted). Risk: an older mcp-auth could take it for the owner of a lock Claude Code takes later at this path, reclaim that live lock, and send the same refresh token twice (grant revoked). mcp-auth doctor removes it once that process is gone.`;
    case 'temp-file':
      return `${c.name}: temporary file left by an interrupted write (harmless; the store itself is intact)`;
  }
}

const VERIFIED = VERIFIED_CLAUDE_VERSIONS.join(', ');

/** The CLI's words for one Claude Code version seen (never a refusal: a warning says what to check). */
export function versionLine(v: ClaudeVersionSeen): string {
  const where =
    v.source === 'path'
      ? `claude on PATH (${v.path})`
      : `running session pid ${v.pid}${v.kind ? `, ${v.kind}` : ''}${v.entrypoint ? `, ${v.entrypoint}` : ''}`;
  if (v.source === 'path' && v.error)
    return `${where}: \`claude --version\` ${v.error === 'timeout' ? 'did not answer in time' : 'failed'}; the version is unknown`;
  const ver = v.version ?? 'unknown version';
  switch (v.verdict) {
    case 'verified':
      return `${ver} — ${where}: our formats are verified for it`;
    case 'newer':
      return `${ver} — ${where}: WARNING newer than the releases our formats were verified for (${VERIFIED}). mcp-auth keeps working with it; check that \`claude mcp list\` agrees with \`mcp-auth status\` for each server, that a sign-in by Claude Code shows up here as signed-in, and that clearing a needs-auth entry lets the next session connect — and report any difference`;
    case 'older':
      return `${ver} — ${where}: WARNING older than the releases our formats were verified for (${VERIFIED}); updating Claude Code is the simplest check (claude update)`;
    case 'unverified':
      return `${ver} — ${where}: not one of the releases our formats were verified for (${VERIFIED}); it lies between them, so the formats are most likely the same — check \`claude mcp list\` against \`mcp-auth status\` if a state looks wrong`;
    case 'unknown':
      return `${where}: version unknown (${ver}); our formats were verified for ${VERIFIED}`;
  }
}

/** `mcp-auth doctor [NAME] [--json] [--probe]`: why each server is in its state; file, lock and leftover checks. */
export async function runDoctor(ctx: CliContext): Promise<number> {
  const model = await loadModel({ paths: ctx.paths, cwd: ctx.cwd, env: ctx.env, now: ctx.now, logger: ctx.logger });
  printIssues(model);
  const d = await diagnose(model, ctx.paths, { cleanOrphans: true });
  const only = ctx.names[0];
  let servers = d.servers;
  if (only) {
    servers = servers.filter((s) => s.name === only);
    if (servers.length === 0) {
      process.stderr.write(`mcp-auth: unknown-server: no MCP server named "${only}" in Claude Code's configuration\n`);
      return 1;
    }
  }
  const broken = brokenConfigFiles(model);
  const report: DoctorReport = {
    configDir: d.configDir,
    secureDir: d.secureDir,
    store: d.store,
    cacheFile: d.cacheFile,
    configFiles: d.configFiles,
    unreadableConfigFiles: broken,
    checks: d.checks.map((c) => ({ check: c.code, ok: c.ok, message: redact(checkMessage(c)) })),
    servers: servers.map((s) => ({
      name: s.name,
      scope: s.scope,
      state: s.state,
      reason: s.reason,
      lines: s.facts.map((f) => redact(factLine(f, s.name))),
      fix: fixCommand(s.fix, s.name),
    })),
    claudeCode: [],
    claudeAiConnectors: { off: null, message: '' },
  };
  const versions = await claudeVersionsInPlay(ctx.paths, ctx.env);
  report.claudeCode = [...(versions.onPath ? [versions.onPath] : []), ...versions.sessions].map((v) => ({
    source: v.source,
    version: v.version ?? null,
    verdict: v.verdict,
    message: versionLine(v),
  }));
  const off = model.connectors?.off;
  report.claudeAiConnectors = {
    off: off ?? null,
    message: off
      ? `claude.ai connectors are off (${off === 'env-var' ? 'ENABLE_CLAUDEAI_MCP_SERVERS' : 'the disableClaudeAiConnectors setting'}): Claude Code does not load them, and none are listed`
      : 'claude.ai connectors: listed from the needs-auth cache and claudeAiMcpEverConnected (no network call)',
  };
  // what a running (or the last) `mcp-auth watch` did and why it keeps an entry; with --probe, a probe now
  await keeperLines(ctx, model, report);
  const bad =
    model.issues.length > 0 ||
    servers.some((s) => isProblem(s.state)) ||
    d.checks.some((c) => !c.ok && c.code !== 'lock-owner' && c.code !== 'temp-file');
  if (ctx.values.json) {
    ctx.out(JSON.stringify(report, null, 2) + '\n');
    return bad ? 1 : 0;
  }
  // the header: one column for every value; then blocks separated by one blank line, none at the end
  const files = [
    ...report.configFiles,
    ...broken.map(
      (b) => `${b.file} (exists but cannot be ${b.code === 'config-parse' ? 'parsed' : 'read'}: ${b.code})`,
    ),
  ];
  const header: [string, string][] = [
    ['config dir:', report.configDir],
    ['credential store:', report.store],
    ['needs-auth cache:', report.cacheFile],
    ['config files:', files.join(', ') || '(none found)'],
  ];
  const w = Math.max(...header.map(([k]) => k.length)) + 1;
  const blocks: string[] = [header.map(([k, v]) => k.padEnd(w) + v).join('\n')];
  for (const s of report.servers) {
    const lines = [`${s.name}  ${paint(ctx.style, s.state, s.state)}`, ...s.lines.map((l) => `  ${l}`)];
    if (s.fix) lines.push(`  fix: ${s.fix}`);
    blocks.push(lines.join('\n'));
  }
  const cc = ['Claude Code:'];
  if (report.claudeCode.length === 0)
    cc.push(`  no \`claude\` on PATH and no running session found; our formats are verified for ${VERIFIED}`);
  for (const v of report.claudeCode) cc.push(`  ${v.message}`);
  if (report.claudeAiConnectors.off) cc.push(`  ${report.claudeAiConnectors.message}`);
  blocks.push(cc.join('\n'));
  if (report.checks.length)
    blocks.push(['checks:', ...report.checks.map((c) => `  ${c.ok ? 'ok  ' : 'WARN'} ${c.message}`)].join('\n'));
  ctx.out(blocks.join('\n\n') + '\n');
  return bad ? 1 : 0;
}
