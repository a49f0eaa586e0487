import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ErrorCode } from './errors';
import { inspectLock, removeOrphanOwner, type LockSpec } from './lock/lock';
import type { AuthModel, Hint, ServerRow } from './model';
import { readTokenNotes } from './notes';
import type { TokenWarning } from './oauth/client';
import type { ClaudePaths } from './paths';
import type { AuthState, StatusReason } from './status';
import { blockedUntil, startAuthUrl } from './connectors';
import type { LackingSession } from './lacking';

/**
 * Why each server is in its state, and what is wrong around it (file modes, locks, leftovers), as data:
 * codes and values, never sentences. The CLI (`doctor`) and the extension (Copy Diagnostics) word them.
 */

/** The one rule for what fixes a row; the CLI and the extension turn it into a command of their own. */
export type FixCode =
  | 'invalidate'
  | 'refresh'
  | 'login'
  | 'grant'
  | 'fix-store'
  | 'fix-cache'
  | 'fix-config'
  /** a claude.ai connector's entry stands: sign in on claude.ai, then clear the entry (core/connectors.ts) */
  | 'claudeai-sign-in';

export function fixFor(row: ServerRow): FixCode | undefined {
  const s = row.status;
  if (row.config.transport === 'claudeai-proxy')
    return s.state === 'needs-auth' ? 'claudeai-sign-in' : s.state === 'error' ? 'fix-cache' : undefined;
  switch (s.state) {
    case 'blocked':
      return 'invalidate';
    case 'expired':
    case 'expiring':
      return s.hasRefreshToken ? 'refresh' : 'login';
    case 'needs-auth':
      return 'login';
    // a sign-in that asks for the union of the stored and the required scopes (login/client.ts, requestedScope)
    case 'needs-scope':
      return 'grant';
    case 'error':
      return s.code?.startsWith('store') || s.code?.startsWith('keychain')
        ? 'fix-store'
        : s.code?.startsWith('cache')
          ? 'fix-cache'
          : 'fix-config';
    default:
      return undefined;
  }
}

export type Fact =
  | { code: 'defined-in'; file: string; scope: string; pending: boolean }
  | { code: 'endpoint'; transport: string; target: string }
  | { code: 'no-entry'; key: string; store: string }
  | { code: 'entry'; key: string; store: string }
  | { code: 'expires'; at: number; inMs: number }
  | { code: 'expired'; at: number; agoMs: number }
  | { code: 'tokens'; refreshToken: boolean; client?: 'dynamic' | 'static'; clientId?: string }
  | { code: 'step-up'; required: string; granted?: string; missing: string[] }
  | { code: 'cache-entry'; at: number; ageMs: number; ttlMs: number; fresh: boolean }
  | { code: 'no-cache-entry' }
  | { code: 'odd-answer'; at: number; warnings: TokenWarning[] }
  | { code: 'spent-token'; at: number; cause: 'unstored' | 'answer-lost' | 'interrupted' }
  | { code: 'lock-held'; holder: string; ageMs: number; stale: boolean }
  | { code: 'lock-free' }
  | { code: 'state'; state: AuthState; reason: StatusReason; error?: ErrorCode; message?: string }
  | { code: 'hint'; hint: Hint }
  /** a claude.ai connector: from the claude.ai account, reached with the claude.ai login (never by us) */
  | { code: 'connector'; id?: string; everConnected: boolean }
  /**
   * its needs-auth entry: `fresh` = new sessions skip the connector until `until` (timestamp + TTL); else why Claude
   * Code ignores it
   */
  | {
      code: 'connector-entry';
      at: number;
      ageMs: number;
      ttlMs: number;
      fresh: boolean;
      until?: number;
      ignored?: 'expired' | 'no-id';
    }
  /** where to sign it in again on claude.ai (undefined without an organization or id in the local files) */
  | { code: 'connector-sign-in'; url?: string }
  /** a running session that started while this server's needs-auth entry stood, and still lacks the server */
  | { code: 'session-lacking'; session: LackingSession };

export type Check =
  | { code: 'store-mode'; ok: boolean; location: string; mode: number }
  | { code: 'lock'; ok: boolean; name: string; holder: string; ageMs: number; stale: boolean }
  | { code: 'lock-owner'; ok: boolean; name: string; pid: number; removed: boolean }
  | { code: 'temp-file'; ok: false; name: string };

export interface ServerDiagnosis {
  name: string;
  scope: string;
  state: AuthState;
  reason: StatusReason;
  facts: Fact[];
  fix?: FixCode;
}

export interface Diagnosis {
  configDir: string;
  secureDir: string;
  store: string;
  cacheFile: string;
  configFiles: string[];
  checks: Check[];
  servers: ServerDiagnosis[];
}

/** A claude.ai connector's row: what its needs-auth entry means and until when it blocks new sessions. */
function connectorDiagnosis(r: ServerRow, model: AuthModel): ServerDiagnosis {
  const s = r.status;
  const c = r.config;
  const facts: Fact[] = [{ code: 'connector', id: c.connectorId, everConnected: c.everConnected === true }];
  if (s.cache)
    facts.push({
      code: 'connector-entry',
      at: s.cache.timestamp,
      ageMs: s.cache.ageMs,
      ttlMs: s.cache.ttlMs,
      fresh: s.cache.fresh,
      until: blockedUntil(s),
      ignored: s.cache.ignored,
    });
  else if (s.state !== 'error') facts.push({ code: 'no-cache-entry' });
  if (s.state === 'needs-auth')
    facts.push({ code: 'connector-sign-in', url: startAuthUrl(model.connectors?.organizationUuid, c.connectorId) });
  facts.push({ code: 'state', state: s.state, reason: s.reason, error: s.code, message: s.message });
  return { name: c.name, scope: c.scope, state: s.state, reason: s.reason, facts, fix: fixFor(r) };
}

/** The lock an owner file (`<target>.lock.owner`) belongs to, with the stale value Claude Code uses for it. */
function lockSpecOfOwnerFile(file: string): LockSpec {
  const target = file.slice(0, -'.lock.owner'.length);
  return path.basename(target) === '.storage-write'
    ? { target, stale: 15_000 }
    : { target, stale: 60_000, update: 5_000 };
}

/** Checks that are not about one server: the store's mode, locks and files left in the secure-storage folder. */
function folderChecks(model: AuthModel, paths: ClaudePaths, cleanOrphans: boolean): Check[] {
  const checks: Check[] = [];
  if (model.store?.exists && model.store.mode !== undefined) {
    checks.push({
      code: 'store-mode',
      ok: (model.store.mode & 0o077) === 0,
      location: model.storeLocation,
      mode: model.store.mode,
    });
  }
  let names: string[];
  try {
    names = fs.readdirSync(paths.secureDir);
  } catch {
    return checks;
  }
  for (const n of names) {
    const full = path.join(paths.secureDir, n);
    if (n.endsWith('.lock') && (n.startsWith('mcp-refresh-') || n === '.storage-write.lock')) {
      const info = inspectLock(
        { target: full.slice(0, -'.lock'.length), stale: n === '.storage-write.lock' ? 15_000 : 60_000 },
        model.now,
      );
      if (info.held)
        checks.push({
          code: 'lock',
          ok: !info.stale,
          name: n,
          holder: info.holder ?? 'unknown',
          ageMs: info.ageMs ?? 0,
          stale: info.stale,
        });
    } else if (n.endsWith('.lock.owner')) {
      // An owner file of ours that describes no current lock: an older mcp-auth could take it for the owner
      // of a lock Claude Code takes later at this path. Removed when its process is gone (and asked to).
      const spec = lockSpecOfOwnerFile(full);
      const orphan = inspectLock(spec, model.now).orphanOwner;
      if (!orphan) continue;
      const removed = cleanOrphans && removeOrphanOwner(spec);
      checks.push({ code: 'lock-owner', ok: removed, name: n, pid: orphan.pid, removed });
    } else if (/^\.credentials\.json\.tmp\./.test(n)) {
      checks.push({ code: 'temp-file', ok: false, name: n });
    }
  }
  return checks;
}

/**
 * Diagnose every server of a loaded model. Reads only, except that with `cleanOrphans` it removes owner
 * files of ours left by processes that are gone (safe: nothing refers to them).
 */
export async function diagnose(
  model: AuthModel,
  paths: ClaudePaths,
  opts: { cleanOrphans?: boolean } = {},
): Promise<Diagnosis> {
  const now = model.now;
  const notes = await readTokenNotes(paths);
  const servers = model.servers.map((r): ServerDiagnosis => {
    const s = r.status;
    const c = r.config;
    if (c.transport === 'claudeai-proxy') return connectorDiagnosis(r, model);
    const facts: Fact[] = [
      { code: 'defined-in', file: c.file, scope: c.scope, pending: c.approval === 'pending' },
      { code: 'endpoint', transport: c.transport, target: c.url ?? c.command ?? '' },
    ];
    if (r.key) {
      const entry = model.store?.data.mcpOAuth?.[r.key];
      // an unreadable store says nothing about its entries (the state fact says why it is unreadable)
      if (!model.store) {
        /* no entry fact */
      } else if (!entry) facts.push({ code: 'no-entry', key: r.key, store: model.storeLocation });
      else {
        facts.push({ code: 'entry', key: r.key, store: model.storeLocation });
        if (s.expiresAt !== undefined)
          facts.push(
            s.expiresAt > now
              ? { code: 'expires', at: s.expiresAt, inMs: s.expiresAt - now }
              : { code: 'expired', at: s.expiresAt, agoMs: now - s.expiresAt },
          );
        facts.push({ code: 'tokens', refreshToken: s.hasRefreshToken, client: s.client, clientId: s.clientId });
        if (typeof entry.stepUpScope === 'string' && entry.stepUpScope)
          facts.push({
            code: 'step-up',
            required: entry.stepUpScope,
            granted: entry.scope,
            missing: s.missingScopes ?? [],
          });
        if (s.spent) facts.push({ code: 'spent-token', at: s.spent.at, cause: s.spent.cause });
      }
      facts.push(
        s.cache
          ? {
              code: 'cache-entry',
              at: s.cache.timestamp,
              ageMs: s.cache.ageMs,
              ttlMs: s.cache.ttlMs,
              fresh: s.cache.fresh,
            }
          : { code: 'no-cache-entry' },
      );
      const note = notes[r.key];
      if (note) facts.push({ code: 'odd-answer', at: note.at, warnings: note.warnings });
      facts.push(
        s.lock?.held
          ? { code: 'lock-held', holder: s.lock.holder ?? 'unknown', ageMs: s.lock.ageMs ?? 0, stale: s.lock.stale }
          : { code: 'lock-free' },
      );
    }
    facts.push({ code: 'state', state: s.state, reason: s.reason, error: s.code, message: s.message });
    for (const hint of r.hints ?? []) facts.push({ code: 'hint', hint });
    for (const session of r.sessionsLacking ?? []) facts.push({ code: 'session-lacking', session });
    return { name: c.name, scope: c.scope, state: s.state, reason: s.reason, facts, fix: fixFor(r) };
  });
  return {
    configDir: paths.configDir,
    secureDir: paths.secureDir,
    store: model.storeLocation,
    cacheFile: paths.needsAuthCacheFile,
    configFiles: model.configFiles,
    checks: folderChecks(model, paths, opts.cleanOrphans === true),
    servers,
  };
}
