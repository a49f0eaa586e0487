import * as path from 'node:path';
import type { ServerConfig } from '../config/types';
import { lockDirOf, refreshLock } from '../lock/lock';
import type { AuthModel, ServerRow } from '../model';
import type { StoreBackend } from '../store/backend';
import type { TokenEntry } from '../store/types';
import { refreshDueAt } from '../timing';
import {
  decideStale,
  tokenFingerprint,
  type KeptReason,
  type ProbeMemo,
  type Removal,
  type StaleDecision,
  type TokenSighting,
} from './staleness';

/**
 * The keeper's decisions, pure: the model just read and what the keeper remembers in, the steps of one pass and
 * when to pass again out. No file, clock, timer or random number here (act.ts carries the steps out; keeper.ts is
 * the loop). Per row, in this order:
 *  - not acted on (awaiting approval, unreadable, Restricted Mode): nothing, and no timer for it;
 *  - refresh: a refresh token that falls due (or may be spent: settled at once, whatever its expiry says),
 *    unless the refresh lock is held by someone else, ours is under way, or its failure backoff is not over;
 *  - else the needs-auth entry, by the truthful rule (staleness.ts): remove, probe, or keep (a kept reason is a
 *    step only when it changed).
 * The wake: the earliest refresh due (after its backoff), probe allowed again, fresh entry lapsing, or a held
 * lock's stale time; else a slow safety reload. Rows the pass skipped on purpose set no timer (issue 22).
 */

/** a safety reload when nothing else is due: fs.watch can miss events (a folder created later, network file systems) */
export const SAFETY_RELOAD_MS = 5 * 60_000;
/** the keychain has no file to watch: look this often */
export const KEYCHAIN_RELOAD_MS = 30_000;

export interface Kept {
  reason: KeptReason;
  sig: string;
  entryTimestamp: number;
}

/** What the plan reads of the keeper's memory: refreshes, probes, backoff and sightings by key; removals and kept entries by name. */
export interface KeeperMemory {
  /** keys with a refresh of ours under way, or waiting for its jitter */
  refreshing: { has(key: string): boolean };
  probing: { has(key: string): boolean };
  backoff: ReadonlyMap<string, { until: number; delay: number }>;
  sightings: { get(key: string): TokenSighting | undefined };
  probes: ReadonlyMap<string, ProbeMemo>;
  removals: ReadonlyMap<string, Removal>;
  kept: ReadonlyMap<string, Kept>;
}

export interface PlanInput {
  model: AuthModel;
  now: number;
  /** `watch --once`: no jitter, no wake */
  once: boolean;
  /** the keeper is stopping: no step, no wake */
  stopped: boolean;
  proactiveRefresh: boolean;
  autoClearStaleEntries: boolean;
  windowMs: number;
  canAct?: (server: ServerConfig) => boolean;
  secureDir: string;
  storeKind: StoreBackend['kind'];
  memory: KeeperMemory;
}

export type RemoveDecision = Extract<StaleDecision, { action: 'remove' }>;

export type Step =
  /** `jitter`: wait a random moment first (several windows would otherwise all refresh at once) */
  | { do: 'refresh'; row: ServerRow; key: string; jitter: boolean }
  | { do: 'probe'; row: ServerRow; key: string; accessToken: string }
  | { do: 'remove'; row: ServerRow; key: string; timestamp: number; fingerprint: string; decision: RemoveDecision }
  | { do: 'keep'; name: string; reason: KeptReason; sig: string; entryTimestamp: number };

export interface Plan {
  steps: Step[];
  /** names of the rows acted on that have a needs-auth entry: a kept reason of any other name is forgotten */
  withEntries: Set<string>;
  /** pass again in this many ms (not for `once`, nor when stopping) */
  wakeInMs?: number;
  /** names of the refresh-lock directories held by others at this pass: their release wakes the keeper */
  heldLocks: Set<string>;
}

export function planPass(i: PlanInput): Plan {
  const { model, now, memory: m } = i;
  const steps: Step[] = [];
  const withEntries = new Set<string>();
  const refreshingNow = new Set<string>();
  const probingNow = new Set<string>();
  const keptNow = new Map<string, KeptReason>();
  for (const row of model.servers) {
    if (!row.key || !mayAct(row, i.canAct)) continue;
    const entry = storeEntry(model, row.key);
    if (row.status.cache) withEntries.add(row.config.name);
    if (i.stopped) continue;
    const key = row.key;
    if (refreshDecision(i, row, entry) && !m.refreshing.has(key) && !refreshingNow.has(key)) {
      const b = m.backoff.get(key);
      if (!(b && b.until > now)) {
        refreshingNow.add(key);
        steps.push({ do: 'refresh', row, key, jitter: !i.once && row.status.reason !== 'token-spent' });
        continue;
      }
    }
    const s = staleStep(i, row, entry);
    if (!s) continue;
    if (s.do === 'probe') {
      if (m.probing.has(key) || probingNow.has(key)) continue;
      probingNow.add(key);
    }
    if (s.do === 'keep') keptNow.set(s.name, s.reason);
    steps.push(s);
  }
  const plan: Plan = { steps, withEntries, heldLocks: new Set() };
  if (i.once || i.stopped) return plan;

  let soonest = now + (i.storeKind === 'keychain' ? KEYCHAIN_RELOAD_MS : SAFETY_RELOAD_MS);
  for (const row of model.servers) {
    if (!row.key || !mayAct(row, i.canAct) || m.refreshing.has(row.key) || refreshingNow.has(row.key)) continue;
    const entry = storeEntry(model, row.key);
    if (lockHeld(row)) {
      const spec = refreshLock(i.secureDir, row.key);
      plan.heldLocks.add(path.basename(lockDirOf(spec)));
      // stale once its heartbeat is older than `stale`: then a waiter may reclaim it (its heartbeats do not wake us)
      soonest = Math.min(soonest, model.now - (row.status.lock?.ageMs ?? 0) + spec.stale);
    } else if (i.proactiveRefresh && entry && row.status.hasRefreshToken) {
      const due = refreshDueAt(entry, i.windowMs);
      const b = m.backoff.get(row.key);
      if (due !== undefined) soonest = Math.min(soonest, Math.max(due, b?.until ?? 0));
    }
    const k = keptNow.get(row.config.name) ?? m.kept.get(row.config.name)?.reason;
    if (k && 'nextProbeAt' in k) soonest = Math.min(soonest, k.nextProbeAt);
    // a fresh entry that lapses changes the row's state
    if (row.status.cache?.fresh) soonest = Math.min(soonest, row.status.cache.timestamp + row.status.cache.ttlMs);
  }
  plan.wakeInMs = Math.min(Math.max(soonest - now + 50, 250), 2 ** 31 - 1);
  return plan;
}

/** Is this row's token due a refresh (lock and backoff aside)? */
function refreshDecision(i: PlanInput, row: ServerRow, entry: TokenEntry | undefined): boolean {
  if (!i.proactiveRefresh || !entry || !row.status.hasRefreshToken) return false;
  if (lockHeld(row)) return false; // the holder's write, its release or its stale time wakes us
  // a refresh token that may be spent is settled at once (refresh.ts drops it from the entry, so that no
  // refresher replays it before it is due), whatever its expiry says
  if (row.status.reason === 'token-spent') return true;
  const due = refreshDueAt(entry, i.windowMs);
  return due !== undefined && i.now >= due;
}

/** The needs-auth entry of this row: remove, probe, keep (when its reason changed), or nothing. */
function staleStep(i: PlanInput, row: ServerRow, entry: TokenEntry | undefined): Step | undefined {
  const cache = row.status.cache;
  if (!i.autoClearStaleEntries || !row.key || !cache) return undefined;
  const { now, memory: m } = i;
  const name = row.config.name;
  const at = entry?.accessToken ?? '';
  const unexpired = typeof entry?.expiresAt !== 'number' || entry.expiresAt > now;
  const token =
    at || row.status.hasRefreshToken
      ? {
          fingerprint: at ? tokenFingerprint(at) : 'no-access-token',
          usable: (!!at && unexpired) || row.status.hasRefreshToken,
          probeable: !!at && unexpired,
        }
      : undefined;
  const d = decideStale({
    now,
    entry: { timestamp: cache.timestamp, fresh: cache.fresh },
    token,
    sighting: m.sightings.get(row.key),
    probe: m.probes.get(row.key),
    removed: m.removals.get(name),
    missingScopes: row.status.state === 'needs-scope' ? row.status.missingScopes : undefined,
  });
  switch (d.action) {
    case 'none':
      return undefined;
    case 'keep': {
      const sig = keptSignature(d.reason, cache.timestamp);
      if (m.kept.get(name)?.sig === sig) return undefined;
      return { do: 'keep', name, reason: d.reason, sig, entryTimestamp: cache.timestamp };
    }
    case 'probe':
      return { do: 'probe', row, key: row.key, accessToken: at };
    case 'remove':
      return {
        do: 'remove',
        row,
        key: row.key,
        timestamp: cache.timestamp,
        fingerprint: token!.fingerprint,
        decision: d,
      };
  }
}

/** The rows a pass acts on: approved, readable, and allowed here (Restricted Mode). */
export function mayAct(row: ServerRow, canAct?: (server: ServerConfig) => boolean): boolean {
  if (row.config.approval === 'pending' || row.status.state === 'not-approved' || row.status.state === 'error')
    return false;
  return !canAct || canAct(row.config);
}

/** Someone (Claude Code, another window, our own refresh) holds this row's refresh lock, and it is not stale. */
export function lockHeld(row: ServerRow): boolean {
  return !!row.status.lock?.held && !row.status.lock.stale;
}

export function storeEntry(model: AuthModel, key: string): TokenEntry | undefined {
  const m = model.store?.data.mcpOAuth;
  return m && Object.prototype.hasOwnProperty.call(m, key) ? m[key] : undefined;
}

/** What makes two kept reasons the same (one `kept` action each time it changes, not one a pass). */
export function keptSignature(r: KeptReason, ts: number): string {
  const p = 'probe' in r ? r.probe : undefined;
  const v = p
    ? `${p.verdict}:${p.verdict === 'rejected' ? `${p.status}:${p.error ?? ''}:${p.challenge}` : p.verdict === 'unreachable' ? p.code : p.verdict === 'inconclusive' ? String(p.status) : ''}`
    : '';
  return `${ts}|${r.code}|${v}`;
}
