import { removeCacheEntries } from '../cache/needsAuthCache';
import type { ServerConfig } from '../config/types';
import { isMcpAuthError } from '../errors';
import { isPlainObject } from '../fsutil';
import { InFlight } from '../inflight';
import type { Logger } from '../log';
import type { AuthModel } from '../model';
import { refreshServer, type RefreshOutcome } from '../refresh';
import type { StoreBackend } from '../store/backend';
import { describeKept } from './describe';
import type { Kept, KeeperMemory, Plan, Step } from './plan';
import { describeProbe, probeServer } from './probe';
import { recordProbe, TokenSightings, tokenFingerprint, type ProbeMemo, type Removal } from './staleness';
import type { KeeperAction, KeeperOptions } from './types';

const FAILURE_BACKOFF_MIN_MS = 60_000;
const FAILURE_BACKOFF_MAX_MS = 30 * 60_000;

export interface ActorDeps {
  /** the keeper's options, live (configure() changes them between passes) */
  o: KeeperOptions;
  store: StoreBackend;
  log: Logger;
  now: () => number;
  windowMs: () => number;
  emit: (a: KeeperAction) => void;
  /** ask for a pass soon (a refresh or probe ended) */
  poke: (delayMs?: number) => void;
}

/**
 * Carries out the steps of a plan (plan.ts) and keeps what the keeper remembers between passes: the failure
 * backoff, the probes, the removals, the kept reasons, the sightings, and what is under way. Every refresh and
 * probe is tracked until it ends; stop() calls off the refreshes that have not sent their token yet (their
 * jitter, or the refresh itself up to its POST: RefreshDeps.signal) and waits for the rest.
 */
export class Actor implements KeeperMemory {
  readonly sightings = new TokenSightings();
  readonly probes = new Map<string, ProbeMemo>();
  readonly removals = new Map<string, Removal>();
  readonly kept = new Map<string, Kept>();
  readonly backoff = new Map<string, { until: number; delay: number }>();
  /** keys with a refresh under way, or waiting for its jitter (then: how to call it off) */
  readonly refreshing = new Map<string, (() => void) | true>();
  readonly probing = new Set<string>();
  private readonly underWay = new InFlight();
  private readonly halt = new AbortController();
  private cacheQueue: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: ActorDeps) {}

  /** Start every step of the plan; the promises of those that run on (refreshes, probes, removals). */
  carry(plan: Plan, model: AuthModel, once: boolean): Promise<unknown>[] {
    const all = model.servers.map((r) => r.config);
    const work: Promise<unknown>[] = [];
    for (const s of plan.steps) {
      if (s.do === 'keep') this.keep(s);
      else if (s.do === 'refresh') work.push(this.refresh(s, all, once));
      else if (s.do === 'probe') work.push(this.probe(s));
      else work.push(this.track(this.remove(s, model)));
    }
    // entries that went away are no longer kept
    for (const name of [...this.kept.keys()]) if (!plan.withEntries.has(name)) this.kept.delete(name);
    return work;
  }

  /** Call off what has not sent its token yet; resolves when everything under way has ended. */
  async stop(): Promise<void> {
    this.halt.abort();
    for (const cancel of [...this.refreshing.values()]) if (cancel !== true) cancel();
    await this.underWay.settle();
  }

  get busy(): boolean {
    return this.underWay.size > 0;
  }

  private get stopped(): boolean {
    return this.halt.signal.aborted;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    return this.underWay.track(p);
  }

  private keep(s: Extract<Step, { do: 'keep' }>): void {
    const now = this.d.now();
    this.kept.set(s.name, { reason: s.reason, sig: s.sig, entryTimestamp: s.entryTimestamp });
    this.d.log.info(`kept the needs-auth entry of ${s.name}: ${describeKept(s.reason, now)}`);
    this.d.emit({ type: 'kept', name: s.name, at: now, reason: s.reason, entryTimestamp: s.entryTimestamp });
  }

  // ---- proactive refresh ---------------------------------------------------------------------------

  private refresh(s: Extract<Step, { do: 'refresh' }>, all: ServerConfig[], once: boolean): Promise<void> {
    const { key } = s;
    const jitter = s.jitter ? Math.floor(Math.random() * (this.d.o.jitterMs ?? 5000)) : 0;
    return this.track(
      new Promise<void>((resolve) => {
        const go = () => {
          if (this.stopped) {
            this.refreshing.delete(key);
            resolve();
            return;
          }
          this.refreshing.set(key, true);
          const run = this.refreshNow(s.row.config, key, all);
          this.d.o.operations?.track(run);
          void run.finally(() => {
            this.refreshing.delete(key);
            resolve();
            if (!once) this.d.poke(0);
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
    const o = this.d.o;
    const out: RefreshOutcome = await refreshServer(server, {
      paths: o.paths,
      store: this.d.store,
      logger: o.logger,
      fetch: o.fetch,
      now: o.now,
      allServers: all,
      refreshWindowMs: this.d.windowMs(),
      lockTimeoutMs: o.lockTimeoutMs,
      httpTimeoutMs: o.httpTimeoutMs,
      autoClearStaleEntries: o.autoClearStaleEntries,
      testHooks: o.testHooks,
      signal: this.halt.signal,
    });
    const at = this.d.now();
    // called off by stop() before its token was sent: nothing happened, nothing to retry
    if (out.result === 'failed' && out.code === 'cancelled' && this.stopped) return;
    if (out.result === 'failed') {
      const delay = Math.min((this.backoff.get(key)?.delay ?? FAILURE_BACKOFF_MIN_MS / 2) * 2, FAILURE_BACKOFF_MAX_MS);
      this.backoff.set(key, { until: at + delay, delay });
      this.d.log.warn(
        `proactive refresh of ${server.name} failed (${out.code}); next try in ${Math.round(delay / 1000)} s`,
      );
      this.d.emit({
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
    this.d.log.info(`proactive refresh of ${server.name}: ${out.result}`);
    this.d.emit({
      type: out.result,
      name: server.name,
      at,
      expiresAt: out.expiresAt,
      clearedCacheEntries: out.clearedCacheEntries ?? [],
    });
  }

  // ---- auto-unblock ----------------------------------------------------------------------------------

  private probe(s: Extract<Step, { do: 'probe' }>): Promise<void> {
    const { key, accessToken: at, row } = s;
    const name = row.config.name;
    const o = this.d.o;
    this.probing.add(key);
    const probe =
      o.probe ??
      ((sv: ServerConfig, t: string) =>
        probeServer(sv, t, { fetch: o.fetch, timeoutMs: o.probeTimeoutMs, now: this.d.now, logger: o.logger }));
    const now = this.d.now();
    return this.track(
      (async () => {
        try {
          const result = await probe(row.config, at);
          this.probes.set(key, recordProbe(this.probes.get(key), tokenFingerprint(at), result));
          this.d.log.info(`probe of ${name}: ${describeProbe(result)}`);
        } catch (e) {
          this.d.log.warn(`probe of ${name} failed`, e);
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
        this.d.poke(0);
      })(),
    );
  }

  private async remove(s: Extract<Step, { do: 'remove' }>, model: AuthModel): Promise<void> {
    const name = s.row.config.name;
    const { timestamp, fingerprint, decision: d } = s;
    try {
      // only the entry judged: a newer one written meanwhile by Claude Code is judged on the next pass. One
      // removal at a time: two at once would each write back the other's entry (read, remove one, write)
      const r = await this.serialCache(() =>
        removeCacheEntries(
          this.d.o.paths.needsAuthCacheFile,
          (n, e) => n === name && isPlainObject(e) && e.timestamp === timestamp,
        ),
      );
      if (!r.removed.length) return;
      const at = this.d.now();
      this.removals.set(name, { timestamp, fingerprint, at });
      this.kept.delete(name);
      const why = d.because === 'accepted' ? describeProbe(d.probe) : `its token changed after the entry was written`;
      this.d.log.info(`removed the stale needs-auth entry of ${name} (${why})`);
      this.d.emit({
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
      this.d.log.warn(`could not remove the needs-auth entry of ${name}`, e);
      this.d.emit({ type: 'failed', name, at: this.d.now(), code, message: (e as Error)?.message ?? String(e) });
    }
  }

  /** Run the cache writes of this keeper one after the other. */
  private serialCache<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.cacheQueue.then(fn, fn);
    this.cacheQueue = run.catch(() => {});
    return run;
  }
}
