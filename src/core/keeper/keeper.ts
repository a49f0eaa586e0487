import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeCacheEntries } from '../cache/needsAuthCache';
import type { ServerConfig } from '../config/types';
import { isMcpAuthError, type ErrorCode } from '../errors';
import { isPlainObject } from '../fsutil';
import { lockDirOf, refreshLock } from '../lock/lock';
import { nullLogger, type Logger } from '../log';
import { loadModel, type AuthModel, type ModelIssue, type ServerRow } from '../model';
import { refreshServer, type RefreshDeps, type RefreshOutcome } from '../refresh';
import { DEFAULT_SETTINGS } from '../status';
import type { InFlight } from '../inflight';
import { openStore, type StoreBackend } from '../store/backend';
import type { TokenEntry } from '../store/types';
import { refreshDueAt } from '../timing';
import { describeProbe, probeServer, type ProbeResult } from './probe';
import {
  decideStale,
  recordProbe,
  TokenSightings,
  tokenFingerprint,
  type KeptReason,
  type ProbeMemo,
  type Removal,
} from './staleness';

/**
 * The background keeper (design.md "Auto-unblock", issue 13 item 2), one for the extension and `mcp-auth watch`
 * alike. It watches Claude Code's files (the credential store's folder, the needs-auth cache, ~/.claude.json,
 * the project's .mcp.json and settings; fs.watch debounced ~100 ms, plus timers for what is due — no busy
 * polling), reloads the model, refreshes proactively through Claude Code's refresh lock when a token falls
 * due (random jitter; backoff on failure), and removes stale needs-auth entries by the truthful rule
 * (staleness.ts). It never acts on a .mcp.json server awaiting approval. Unreadable or malformed files are
 * reported (`issues`) and the keeper keeps running: the next change is read again.
 */

export type KeeperAction =
  | {
      type: 'unblocked';
      name: string;
      at: number;
      because: 'accepted' | 'token-changed';
      probe?: ProbeResult;
      changedAfter?: number;
      entryTimestamp: number;
    }
  | { type: 'refreshed'; name: string; at: number; expiresAt?: number; clearedCacheEntries: string[] }
  | { type: 'adopted'; name: string; at: number; expiresAt?: number; clearedCacheEntries: string[] }
  | { type: 'kept'; name: string; at: number; reason: KeptReason; entryTimestamp: number }
  | { type: 'failed'; name: string; at: number; code: ErrorCode; message: string; retryAt?: number };

/** What the keeper passes on to each refresh is named as the refresh names it (RefreshDeps). */
export interface KeeperOptions extends Pick<
  RefreshDeps,
  'paths' | 'logger' | 'fetch' | 'now' | 'refreshWindowMs' | 'lockTimeoutMs' | 'httpTimeoutMs'
> {
  /** the project folder whose servers to keep (Claude Code's resolution: local and project scope follow it) */
  cwd: string;
  env?: NodeJS.ProcessEnv;
  store?: StoreBackend;
  probeTimeoutMs?: number;
  /** refresh tokens as they fall due (default true; mcpAuth.proactiveRefresh) */
  proactiveRefresh?: boolean;
  /** remove stale needs-auth entries (default true; mcpAuth.autoClearStaleEntries) */
  autoClearStaleEntries?: boolean;
  /** debounce of file events, ms (default 100) */
  debounceMs?: number;
  /** upper bound of the random delay before a proactive refresh, ms (default 5000) */
  jitterMs?: number;
  /** the probe (default: probe.ts); injectable for tests */
  probe?: (server: ServerConfig, accessToken: string) => Promise<ProbeResult>;
  /** may the keeper act on this server? (VS Code's Restricted Mode: not the folder's own .mcp.json servers) */
  canAct?: (server: ServerConfig) => boolean;
  /** the host's registry of operations under way (the extension's deactivate settles it): refreshes are tracked there too */
  operations?: InFlight;
  /** test-only switches of RefreshDeps */
  testHooks?: RefreshDeps['testHooks'];
}

export interface PassSummary {
  model: AuthModel;
  /** servers still `blocked` after the pass (the keeper could not prove their entry stale) */
  blocked: string[];
  failed: string[];
}

const FAILURE_BACKOFF_MIN_MS = 60_000;
const FAILURE_BACKOFF_MAX_MS = 30 * 60_000;
/** a safety reload when nothing else is due: fs.watch can miss events (a folder created later, network file systems) */
const SAFETY_RELOAD_MS = 5 * 60_000;
/** the keychain has no file to watch: look this often */
const KEYCHAIN_RELOAD_MS = 30_000;
const WATCHED_NAMES = new Set([
  '.credentials.json',
  'mcp-needs-auth-cache.json',
  '.claude.json',
  '.mcp.json',
  'settings.json',
  'settings.local.json',
  'managed-mcp.json',
  '.claude',
]);

/** Events: `action` (one per thing done or decided), `model` (every reload), `issues` (the set of file problems changed: same codes and words as `status`). */
export interface KeeperEvents {
  action: [KeeperAction];
  model: [AuthModel];
  issues: [ModelIssue[]];
}

export class Keeper extends EventEmitter<KeeperEvents> {
  private readonly o: KeeperOptions;
  private readonly store: StoreBackend;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly sightings = new TokenSightings();
  private readonly probes = new Map<string, ProbeMemo>();
  private readonly removals = new Map<string, Removal>();
  private readonly kept = new Map<string, { reason: KeptReason; sig: string; entryTimestamp: number }>();
  private readonly backoff = new Map<string, { until: number; delay: number }>();
  /** keys with a refresh under way, or waiting for its jitter (then: how to call it off) */
  private readonly refreshing = new Map<string, (() => void) | true>();
  private readonly probing = new Set<string>();
  private readonly inflight = new Set<Promise<unknown>>();
  private watchers = new Map<string, fs.FSWatcher>();
  /** names of the refresh-lock directories held by others at the last pass (their release wakes us) */
  private heldLocks = new Set<string>();
  private debounce: NodeJS.Timeout | undefined;
  private wake: NodeJS.Timeout | undefined;
  private running: Promise<PassSummary> | undefined;
  private again = false;
  private started = false;
  private stopped = false;
  /** aborted by stop(): a refresh of ours that has not sent its token yet is called off */
  private readonly halt = new AbortController();
  private lastIssues = '';
  private current: AuthModel | undefined;

  constructor(opts: KeeperOptions) {
    super();
    this.o = opts;
    this.store = opts.store ?? openStore(opts.paths, { env: opts.env });
    this.log = (opts.logger ?? nullLogger).child('keeper');
    this.now = opts.now ?? Date.now;
  }

  /** The last model read. */
  get model(): AuthModel | undefined {
    return this.current;
  }

  /** Why an entry is kept, by server name (for the tree and doctor). */
  keptReasons(): ReadonlyMap<string, { reason: KeptReason; entryTimestamp: number }> {
    return this.kept;
  }

  /** Change settings while running (the extension's configuration); the next pass uses them. */
  configure(
    patch: Partial<
      Pick<
        KeeperOptions,
        'refreshWindowMs' | 'lockTimeoutMs' | 'proactiveRefresh' | 'autoClearStaleEntries' | 'cwd' | 'canAct'
      >
    >,
  ): void {
    Object.assign(this.o, patch);
    this.poke();
  }

  /** Watch and act until stop(). Resolves after the first pass. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.pass(false);
  }

  /** Something may have changed (a command ran, a window regained focus): reload soon. */
  poke(delayMs = this.o.debounceMs ?? 100): void {
    if (this.stopped || !this.started) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.pass(false);
    }, delayMs);
  }

  /**
   * One pass for `watch --once`: read, refresh what is due (no jitter), probe where needed, remove what is
   * proven stale, and wait for all of it. Does not watch.
   */
  async runOnce(): Promise<PassSummary> {
    await this.pass(true);
    // the probes and refreshes are done: decide again with what they found
    return this.pass(true);
  }

  /** Stop watching and acting; resolves when every refresh and probe under way has ended (their locks released). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.halt.abort();
    if (this.debounce) clearTimeout(this.debounce);
    if (this.wake) clearTimeout(this.wake);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    for (const cancel of [...this.refreshing.values()]) if (cancel !== true) cancel();
    while (this.inflight.size || this.running) {
      await Promise.allSettled([...this.inflight, this.running]);
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => {});
    return p;
  }

  private emitAction(a: KeeperAction): void {
    this.emit('action', a);
  }

  /** Serialised: a pass asked for while one runs runs once more after it. */
  private pass(once: boolean): Promise<PassSummary> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const run = (async () => {
      try {
        let s: PassSummary;
        do {
          this.again = false;
          s = await this.passOnce(once);
        } while (this.again && !this.stopped && !once);
        return s;
      } finally {
        this.running = undefined;
      }
    })();
    this.running = run;
    return run;
  }

  private async passOnce(once: boolean): Promise<PassSummary> {
    const readStartedAt = this.now();
    let model: AuthModel;
    try {
      model = await loadModel({
        paths: this.o.paths,
        cwd: this.o.cwd,
        env: this.o.env,
        store: this.store,
        now: readStartedAt,
        settings: { ...DEFAULT_SETTINGS, refreshWindowMs: this.windowMs },
      });
    } catch (e) {
      // loadModel reports file problems as issues; anything else is ours, and the keeper keeps running
      this.log.error("could not read Claude Code's files", e);
      const issue: ModelIssue = {
        code: isMcpAuthError(e) ? e.code : 'internal',
        message: (e as Error)?.message ?? String(e),
      };
      model = {
        servers: [],
        issues: [issue],
        configFiles: [],
        projectKey: this.o.cwd,
        storeLocation: this.store.location,
        now: readStartedAt,
      };
    }
    this.current = model;
    const sig = JSON.stringify(model.issues);
    if (sig !== this.lastIssues) {
      this.lastIssues = sig;
      this.emit('issues', model.issues);
    }
    this.emit('model', model);

    const work: Promise<unknown>[] = [];
    const all = model.servers.map((r) => r.config);
    const namesWithEntries = new Set<string>();
    for (const row of model.servers) {
      if (!row.key || !this.mayAct(row)) continue;
      const entry = storeEntry(model, row.key);
      this.sightings.observe(row.key, entry?.accessToken || undefined, readStartedAt);
      if (row.status.cache) namesWithEntries.add(row.config.name);
      if (this.stopped) continue;
      const refresh = this.maybeRefresh(row, entry, all, once);
      if (refresh) {
        work.push(refresh);
        continue;
      }
      const stale = this.maybeUnblock(row, entry, model);
      if (stale) work.push(stale);
    }
    // entries that went away are no longer kept
    for (const name of [...this.kept.keys()]) if (!namesWithEntries.has(name)) this.kept.delete(name);
    if (once) await Promise.allSettled(work);
    if (!once && !this.stopped) {
      this.planWake(model);
      this.rewatch(model);
    }
    const blocked = this.current.servers
      .filter((r) => r.status.state === 'blocked' && r.status.cache)
      .map((r) => r.config.name);
    return {
      model: this.current,
      blocked,
      failed: [...this.backoff.keys()].map((k) => model.servers.find((r) => r.key === k)?.config.name ?? k),
    };
  }

  private get windowMs(): number {
    return this.o.refreshWindowMs ?? 300_000;
  }

  // ---- proactive refresh ---------------------------------------------------------------------------

  private maybeRefresh(
    row: ServerRow,
    entry: TokenEntry | undefined,
    all: ServerConfig[],
    once: boolean,
  ): Promise<unknown> | undefined {
    if (this.o.proactiveRefresh === false || !entry || !row.status.hasRefreshToken || !row.key) return undefined;
    if (lockHeld(row)) return undefined; // the holder's write, its release or its stale time wakes us
    const due = refreshDueAt(entry, this.windowMs);
    const now = this.now();
    // a refresh token that may be spent is settled at once (refresh.ts drops it from the entry, so that no
    // refresher replays it before it is due), whatever its expiry says
    const settle = row.status.reason === 'token-spent';
    if (!settle && (due === undefined || now < due)) return undefined;
    const key = row.key;
    if (this.refreshing.has(key)) return undefined;
    const b = this.backoff.get(key);
    if (b && b.until > now) return undefined;
    const jitter = once || settle ? 0 : Math.floor(Math.random() * (this.o.jitterMs ?? 5000));
    return this.track(
      new Promise<void>((resolve) => {
        const go = () => {
          if (this.stopped) {
            resolve();
            return;
          }
          this.refreshing.set(key, true);
          const run = this.refreshNow(row.config, key, all);
          this.o.operations?.track(run);
          void run.finally(() => {
            this.refreshing.delete(key);
            resolve();
            if (!once) this.poke(0);
          });
        };
        if (jitter === 0) {
          go();
          return;
        }
        const t = setTimeout(go, jitter);
        this.refreshing.set(key, () => {
          clearTimeout(t);
          this.refreshing.delete(key);
          resolve();
        });
      }),
    );
  }

  private async refreshNow(server: ServerConfig, key: string, all: ServerConfig[]): Promise<void> {
    const out: RefreshOutcome = await refreshServer(server, {
      paths: this.o.paths,
      store: this.store,
      logger: this.o.logger,
      fetch: this.o.fetch,
      now: this.o.now,
      allServers: all,
      refreshWindowMs: this.windowMs,
      lockTimeoutMs: this.o.lockTimeoutMs,
      httpTimeoutMs: this.o.httpTimeoutMs,
      autoClearStaleEntries: this.o.autoClearStaleEntries,
      testHooks: this.o.testHooks,
      signal: this.halt.signal,
    });
    const at = this.now();
    // called off by stop() before its token was sent: nothing happened, nothing to retry
    if (out.result === 'failed' && out.code === 'cancelled' && this.stopped) return;
    if (out.result === 'failed') {
      const delay = Math.min((this.backoff.get(key)?.delay ?? FAILURE_BACKOFF_MIN_MS / 2) * 2, FAILURE_BACKOFF_MAX_MS);
      this.backoff.set(key, { until: at + delay, delay });
      this.log.warn(
        `proactive refresh of ${server.name} failed (${out.code}); next try in ${Math.round(delay / 1000)} s`,
      );
      this.emitAction({
        type: 'failed',
        name: server.name,
        at,
        code: out.code ?? 'internal',
        message: out.message ?? '',
        retryAt: at + delay,
      });
      return;
    }
    this.backoff.delete(key);
    if (out.result === 'fresh') return;
    this.log.info(`proactive refresh of ${server.name}: ${out.result}`);
    this.emitAction({
      type: out.result,
      name: server.name,
      at,
      expiresAt: out.expiresAt,
      clearedCacheEntries: out.clearedCacheEntries ?? [],
    });
  }

  // ---- auto-unblock ----------------------------------------------------------------------------------

  private maybeUnblock(row: ServerRow, entry: TokenEntry | undefined, model: AuthModel): Promise<unknown> | undefined {
    if (this.o.autoClearStaleEntries === false || !row.key || !row.status.cache) return undefined;
    const name = row.config.name;
    const key = row.key;
    const now = this.now();
    const cache = row.status.cache;
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
      sighting: this.sightings.get(key),
      probe: this.probes.get(key),
      removed: this.removals.get(name),
      missingScopes: row.status.state === 'needs-scope' ? row.status.missingScopes : undefined,
    });
    switch (d.action) {
      case 'none':
        return undefined;
      case 'keep': {
        const sig = keptSignature(d.reason, cache.timestamp);
        if (this.kept.get(name)?.sig !== sig) {
          this.kept.set(name, { reason: d.reason, sig, entryTimestamp: cache.timestamp });
          this.log.info(`kept the needs-auth entry of ${name}: ${describeKept(d.reason, now)}`);
          this.emitAction({ type: 'kept', name, at: now, reason: d.reason, entryTimestamp: cache.timestamp });
        }
        return undefined;
      }
      case 'probe': {
        if (this.probing.has(key) || this.stopped) return undefined;
        this.probing.add(key);
        const probe =
          this.o.probe ??
          ((s: ServerConfig, t: string) =>
            probeServer(s, t, {
              fetch: this.o.fetch,
              timeoutMs: this.o.probeTimeoutMs,
              now: this.now,
              logger: this.o.logger,
            }));
        return this.track(
          (async () => {
            try {
              const result = await probe(row.config, at);
              this.probes.set(key, recordProbe(this.probes.get(key), tokenFingerprint(at), result));
              this.log.info(`probe of ${name}: ${describeProbe(result)}`);
            } catch (e) {
              this.log.warn(`probe of ${name} failed`, e);
              this.probes.set(
                key,
                recordProbe(this.probes.get(key), tokenFingerprint(at), {
                  verdict: 'unreachable',
                  code: 'network',
                  message: (e as Error)?.message ?? String(e),
                  at: now,
                  ms: 0,
                }),
              );
            } finally {
              this.probing.delete(key);
            }
            this.poke(0);
          })(),
        );
      }
      case 'remove':
        return this.track(this.removeEntry(name, cache.timestamp, token!.fingerprint, d, model));
    }
  }

  private async removeEntry(
    name: string,
    timestamp: number,
    fingerprint: string,
    d: Extract<ReturnType<typeof decideStale>, { action: 'remove' }>,
    model: AuthModel,
  ): Promise<void> {
    try {
      // only the entry judged: a newer one written meanwhile by Claude Code is judged on the next pass. One
      // removal at a time: two at once would each write back the other's entry (read, remove one, write)
      const r = await this.serialCache(() =>
        removeCacheEntries(
          this.o.paths.needsAuthCacheFile,
          (n, e) => n === name && isPlainObject(e) && e.timestamp === timestamp,
        ),
      );
      if (!r.removed.length) return;
      const at = this.now();
      this.removals.set(name, { timestamp, fingerprint, at });
      this.kept.delete(name);
      const why = d.because === 'accepted' ? describeProbe(d.probe) : `its token changed after the entry was written`;
      this.log.info(`removed the stale needs-auth entry of ${name} (${why})`);
      this.emitAction({
        type: 'unblocked',
        name,
        at,
        because: d.because,
        probe: d.because === 'accepted' ? d.probe : undefined,
        changedAfter: d.because === 'token-changed' ? d.changedAfter : undefined,
        entryTimestamp: timestamp,
      });
      // the row is no longer blocked
      const row = model.servers.find((x) => x.config.name === name);
      if (row?.status.cache) row.status.cache = undefined;
    } catch (e) {
      const code = isMcpAuthError(e) ? e.code : 'cache-write';
      this.log.warn(`could not remove the needs-auth entry of ${name}`, e);
      this.emitAction({ type: 'failed', name, at: this.now(), code, message: (e as Error)?.message ?? String(e) });
    }
  }

  private cacheQueue: Promise<unknown> = Promise.resolve();

  /** Run the cache writes of this keeper one after the other. */
  private serialCache<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.cacheQueue.then(fn, fn);
    this.cacheQueue = run.catch(() => {});
    return run;
  }

  // ---- timers and watchers ---------------------------------------------------------------------------

  /**
   * One timer: the earliest refresh due, probe allowed again, or backoff over; else a slow safety reload. Rows
   * the pass skipped on purpose set no timer (issue 22: a due token there meant a pass every 250 ms, for ever in
   * Restricted Mode): not acted on here (awaiting approval, Restricted Mode, unreadable); our own refresh under
   * way (its end pokes); a refresh lock held by someone else — then the lock's release (its file event, see
   * rewatch) or its stale time wakes us, and its heartbeats do not.
   */
  private planWake(model: AuthModel): void {
    const now = this.now();
    let soonest = now + (this.store.kind === 'keychain' ? KEYCHAIN_RELOAD_MS : SAFETY_RELOAD_MS);
    const locks = new Set<string>();
    for (const row of model.servers) {
      if (!row.key || !this.mayAct(row) || this.refreshing.has(row.key)) continue;
      const entry = storeEntry(model, row.key);
      if (lockHeld(row)) {
        const spec = refreshLock(this.o.paths.secureDir, row.key);
        locks.add(path.basename(lockDirOf(spec)));
        // stale once its heartbeat is older than `stale`: then a waiter may reclaim it
        soonest = Math.min(soonest, model.now - (row.status.lock?.ageMs ?? 0) + spec.stale);
      } else if (this.o.proactiveRefresh !== false && entry && row.status.hasRefreshToken) {
        const due = refreshDueAt(entry, this.windowMs);
        const b = this.backoff.get(row.key);
        if (due !== undefined) soonest = Math.min(soonest, Math.max(due, b?.until ?? 0));
      }
      const k = this.kept.get(row.config.name);
      if (k && 'nextProbeAt' in k.reason) soonest = Math.min(soonest, k.reason.nextProbeAt);
      // a fresh entry that lapses changes the row's state
      if (row.status.cache?.fresh) soonest = Math.min(soonest, row.status.cache.timestamp + row.status.cache.ttlMs);
    }
    this.heldLocks = locks;
    // released between the read and now (its event came before we listened for it): look again
    for (const name of locks)
      if (!fs.existsSync(path.join(this.o.paths.secureDir, name))) {
        this.poke();
        break;
      }
    if (this.wake) clearTimeout(this.wake);
    const delay = Math.min(Math.max(soonest - now + 50, 250), 2 ** 31 - 1);
    this.wake = setTimeout(() => {
      this.wake = undefined;
      void this.pass(false);
    }, delay);
  }

  /** The rows a pass acts on: approved, readable, and allowed here (Restricted Mode). */
  private mayAct(row: ServerRow): boolean {
    if (row.config.approval === 'pending' || row.status.state === 'not-approved' || row.status.state === 'error')
      return false;
    return !this.o.canAct || this.o.canAct(row.config);
  }

  /** Watch the folders of every file that matters (the nearest existing folder for those not there yet). */
  private rewatch(model: AuthModel): void {
    const p = this.o.paths;
    const dirs = new Set<string>([
      p.secureDir,
      p.configDir,
      path.dirname(p.userConfigFile),
      path.resolve(this.o.cwd),
      path.join(path.resolve(this.o.cwd), '.claude'),
      model.projectKey,
    ]);
    for (const f of model.configFiles) dirs.add(path.dirname(f));
    const want = new Set<string>();
    for (const d of dirs) {
      let dir = d;
      while (!isDir(dir)) {
        const up = path.dirname(dir);
        if (up === dir) break;
        dir = up;
      }
      want.add(dir);
    }
    for (const [d, w] of this.watchers)
      if (!want.has(d)) {
        w.close();
        this.watchers.delete(d);
      }
    for (const d of want) {
      if (this.watchers.has(d)) continue;
      try {
        const w = fs.watch(d, { persistent: true }, (_ev, file) => {
          const f = file?.toString();
          if (f && this.heldLocks.has(f)) {
            // a held refresh lock: its release (or reclaim) matters, not its heartbeat (a touch every 5 s)
            if (!fs.existsSync(path.join(d, f))) this.poke();
            return;
          }
          if (!f || WATCHED_NAMES.has(f) || !dirs.has(d)) this.poke();
        });
        w.on('error', () => {
          w.close();
          this.watchers.delete(d);
          this.poke(1000);
        });
        this.watchers.set(d, w);
      } catch (e) {
        this.log.debug(`cannot watch ${d}: ${(e as Error)?.message}`);
      }
    }
  }
}

/** Someone (Claude Code, another window, our own refresh) holds this row's refresh lock, and it is not stale. */
function lockHeld(row: ServerRow): boolean {
  return !!row.status.lock?.held && !row.status.lock.stale;
}

function isDir(d: string): boolean {
  try {
    return fs.statSync(d).isDirectory();
  } catch {
    return false;
  }
}

function storeEntry(model: AuthModel, key: string): TokenEntry | undefined {
  const m = model.store?.data.mcpOAuth;
  return m && Object.prototype.hasOwnProperty.call(m, key) ? m[key] : undefined;
}

function keptSignature(r: KeptReason, ts: number): string {
  const p = 'probe' in r ? r.probe : undefined;
  const v = p
    ? `${p.verdict}:${p.verdict === 'rejected' ? `${p.status}:${p.error ?? ''}:${p.challenge}` : p.verdict === 'unreachable' ? p.code : p.verdict === 'inconclusive' ? String(p.status) : ''}`
    : '';
  return `${ts}|${r.code}|${v}`;
}

/** Words for a kept reason (log lines, `watch`, doctor). */
export function describeKept(r: KeptReason, now: number): string {
  const secs = (t: number) => `${Math.max(0, Math.round((t - now) / 1000))} s`;
  switch (r.code) {
    case 'loop-guard':
      return 'it came back after we removed it while the token is unchanged: Claude Code really failed with this token';
    case 'needs-scope':
      return `the server asked for more access (403 insufficient_scope; the token lacks ${r.missingScopes.join(' ')}): sign in for the union of scopes, not a stale entry`;
    case 'rejected':
      return `${describeProbe(r.probe)}; next probe in ${secs(r.nextProbeAt)}`;
    case 'unreachable':
    case 'inconclusive':
      return `${describeProbe(r.probe)}; next probe in ${secs(r.nextProbeAt)}`;
    case 'newer-than-probe':
      return `written after the server last accepted this token; next probe in ${secs(r.nextProbeAt)}`;
    case 'probe-pending':
      return `a new token; the server is asked at most once a minute, next in ${secs(r.nextProbeAt)}`;
  }
}
