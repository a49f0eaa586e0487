import * as fs from 'node:fs';
import * as path from 'node:path';
import { redact, type AuthModel, type ServerRow } from '../core';
import { loadModel } from '../core/model';
import { inspectLock, removeOrphanOwner, type LockSpec } from '../core/lock/lock';
import { sha256Hex } from '../core/fsutil';
import { readSpentMarks, readTokenNotes, type TokenNote } from '../core/notes';
import type { CliContext } from './commands';
import { duration, paint, REASON_TEXT } from './format';
import { printIssues } from './report';
import { keeperLines } from './keeper-doctor';

export interface DoctorCheck {
  check: string;
  ok: boolean;
  message: string;
}

export interface DoctorServer {
  name: string;
  scope: string;
  state: string;
  reason: string;
  lines: string[];
  fix?: string;
}

export interface DoctorReport {
  configDir: string;
  secureDir: string;
  store: string;
  cacheFile: string;
  configFiles: string[];
  checks: DoctorCheck[];
  servers: DoctorServer[];
}

export function fixFor(row: ServerRow): string | undefined {
  switch (row.status.state) {
    case 'blocked': return `mcp-auth invalidate ${row.config.name}`;
    case 'expired': case 'expiring': return row.status.hasRefreshToken ? `mcp-auth refresh ${row.config.name}` : `mcp-auth login ${row.config.name}`;
    case 'needs-auth': return `mcp-auth login ${row.config.name}`;
    case 'error': return `fix ${row.status.code?.startsWith('store') ? 'the credential store' : row.status.code?.startsWith('cache') ? 'the needs-auth cache' : 'the configuration'}, then run mcp-auth doctor again`;
    default: return undefined;
  }
}

/** The lock an owner file (`<target>.lock.owner`) belongs to, with the stale value Claude Code uses for it. */
function lockSpecOfOwnerFile(file: string): LockSpec {
  const target = file.slice(0, -'.lock.owner'.length);
  return path.basename(target) === '.storage-write' ? { target, stale: 15_000 } : { target, stale: 60_000, update: 5_000 };
}

/**
 * Remove owner files of ours that describe no current lock and whose process is gone (left by an mcp-auth
 * killed with SIGKILL, or by versions before 0.1.1 on SIGTERM/SIGINT). Returns the file names removed.
 */
export function removeOrphanOwnerFiles(secureDir: string): string[] {
  let names: string[];
  try { names = fs.readdirSync(secureDir); } catch { return []; }
  return names.filter((n) => n.endsWith('.lock.owner') && removeOrphanOwner(lockSpecOfOwnerFile(path.join(secureDir, n))));
}

/** Explain each server's state; check file modes and locks. Reads only. */
export function buildDoctor(model: AuthModel, paths: CliContext['paths'], notes: Record<string, TokenNote> = {}): DoctorReport {
  const now = model.now;
  const at = (ms: number) => new Date(ms).toISOString();
  const servers: DoctorServer[] = model.servers.map((r) => {
    const s = r.status;
    const lines: string[] = [];
    const c = r.config;
    lines.push(`defined in ${c.file} (${c.scope} scope)${c.approval === 'pending' ? ', awaiting approval in Claude Code' : ''}`);
    lines.push(c.url ? `${c.transport} ${c.url}` : `${c.transport} ${c.command ?? ''}`.trim());
    if (r.key) {
      const entry = model.store?.data.mcpOAuth?.[r.key];
      if (!entry) lines.push(`no credential entry under key "${r.key}" in ${model.storeLocation}`);
      else {
        lines.push(`credential entry "${r.key}" in ${model.storeLocation}`);
        if (s.expiresAt !== undefined) lines.push(`access token ${s.expiresAt > now ? `expires ${at(s.expiresAt)} (in ${duration(s.expiresAt - now)})` : `expired ${at(s.expiresAt)} (${duration(now - s.expiresAt)} ago)`}`);
        lines.push(`refresh token: ${s.hasRefreshToken ? 'stored' : 'none'}; client: ${s.client ?? 'none'}${s.clientId ? ` (${s.clientId})` : ''}`);
      }
      if (s.cache) {
        lines.push(`needs-auth cache entry written ${at(s.cache.timestamp)}, ${duration(s.cache.ageMs)} old, TTL ${duration(s.cache.ttlMs)}: ${s.cache.fresh ? 'in force: new Claude Code sessions skip this server' : 'expired (ignored by Claude Code)'}`);
      } else {
        lines.push('no needs-auth cache entry');
      }
      const note = notes[r.key];
      if (note) lines.push(`the authorization server's last token answer (${at(note.at)}) was odd: ${note.warnings.join(', ')}; it was stored anyway (the refresh token sent is spent once the server answers 200)`);
      if (s.lock?.held) lines.push(`refresh lock held by ${s.lock.holder}, heartbeat ${duration(s.lock.ageMs ?? 0)} ago${s.lock.stale ? ' (stale)' : ''}`);
      else lines.push('refresh lock free');
    }
    lines.push(`state ${s.state}: ${s.state === 'error' ? `${s.code}: ${s.message}` : REASON_TEXT[s.reason]}`);
    return { name: c.name, scope: c.scope, state: s.state, reason: s.reason, lines: lines.map(redact), fix: fixFor(r) };
  });

  const checks: DoctorCheck[] = [];
  if (model.store?.exists && model.store.mode !== undefined) {
    const ok = (model.store.mode & 0o077) === 0;
    checks.push({ check: 'store-mode', ok, message: `${model.storeLocation} mode ${model.store.mode.toString(8).padStart(4, '0')}${ok ? '' : ' (should be 0600: other users can read your tokens)'}` });
  }
  // locks and temp files left behind in the secure-storage folder
  let names: string[] = [];
  try { names = fs.readdirSync(paths.secureDir); } catch { /* no folder yet */ }
  for (const n of names) {
    const full = path.join(paths.secureDir, n);
    if (n.endsWith('.lock') && (n.startsWith('mcp-refresh-') || n === '.storage-write.lock')) {
      const target = full.slice(0, -'.lock'.length);
      const stale = n === '.storage-write.lock' ? 15_000 : 60_000;
      const info = inspectLock({ target, stale }, now);
      if (info.held) {
        checks.push({ check: 'lock', ok: !info.stale, message: `${n}: held by ${info.holder}, heartbeat ${duration(info.ageMs ?? 0)} ago${info.stale ? ' — stale, will be reclaimed by the next refresh' : ''}` });
      }
    } else if (n.endsWith('.lock.owner')) {
      const info = inspectLock(lockSpecOfOwnerFile(full), now);
      if (info.orphanOwner) {
        checks.push({ check: 'lock-owner', ok: false, message: `${n}: an owner file that describes no current lock (pid ${info.orphanOwner.pid} was interrupted). Risk: an older mcp-auth could take it for the owner of a lock Claude Code takes later at this path, reclaim that live lock, and send the same refresh token twice (grant revoked). mcp-auth doctor removes it once that process is gone.` });
      }
    } else if (/^\.credentials\.json\.tmp\./.test(n)) {
      checks.push({ check: 'temp-file', ok: false, message: `${n}: temporary file left by an interrupted write (harmless; the store itself is intact)` });
    }
  }
  return {
    configDir: paths.configDir, secureDir: paths.secureDir, store: model.storeLocation, cacheFile: paths.needsAuthCacheFile,
    configFiles: model.configFiles, checks, servers,
  };
}

export async function runDoctor(ctx: CliContext): Promise<number> {
  const model = await loadModel({ paths: ctx.paths, cwd: ctx.cwd, env: ctx.env, now: ctx.now });
  printIssues(model);
  const removed = removeOrphanOwnerFiles(ctx.paths.secureDir);
  const report = buildDoctor(model, ctx.paths, await readTokenNotes(ctx.paths));
  const spent = await readSpentMarks(ctx.paths);
  for (const s of report.servers) {
    const key = model.servers.find((r) => r.config.name === s.name)?.key;
    const mark = key ? spent[key] : undefined;
    const entry = key ? model.store?.data.mcpOAuth?.[key] : undefined;
    if (mark && entry?.refreshToken && sha256Hex(entry.refreshToken).startsWith(mark.fingerprint)) {
      s.lines.push(`the stored refresh token was sent at ${new Date(mark.at).toISOString()} and answered 200, but the answer could not be stored: it is spent, and mcp-auth will not send it again (sign in again)`);
    }
  }
  await keeperLines(ctx, model, report);
  for (const n of removed) report.checks.push({ check: 'lock-owner', ok: true, message: `${n}: removed an owner file left by an interrupted mcp-auth (an older mcp-auth could have taken it for the owner of a lock Claude Code takes later at this path)` });
  const only = ctx.names[0];
  if (only) {
    report.servers = report.servers.filter((s) => s.name === only);
    if (report.servers.length === 0) {
      process.stderr.write(`mcp-auth: unknown-server: no MCP server named "${only}" in Claude Code's configuration\n`);
      return 1;
    }
  }
  const bad = model.issues.length > 0 || report.servers.some((s) => ['needs-auth', 'blocked', 'error'].includes(s.state)) || report.checks.some((c) => !c.ok && c.check !== 'lock-owner' && c.check !== 'temp-file');
  if (ctx.values.json) {
    ctx.out(JSON.stringify(report, null, 2) + '\n');
    return bad ? 1 : 0;
  }
  ctx.out(`config dir:      ${report.configDir}\ncredential store: ${report.store}\nneeds-auth cache: ${report.cacheFile}\nconfig files:    ${report.configFiles.join(', ') || '(none found)'}\n\n`);
  for (const s of report.servers) {
    ctx.out(`${s.name}  ${paint(ctx.style, s.state as never, s.state)}\n`);
    for (const l of s.lines) ctx.out(`  ${l}\n`);
    if (s.fix) ctx.out(`  fix: ${s.fix}\n`);
    ctx.out('\n');
  }
  if (report.checks.length) {
    ctx.out('checks:\n');
    for (const c of report.checks) ctx.out(`  ${c.ok ? 'ok  ' : 'WARN'} ${c.message}\n`);
  }
  return bad ? 1 : 0;
}
