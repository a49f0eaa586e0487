import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMcpAuthError } from '../errors';
import { nullLogger, type Logger } from '../log';
import { loadModel, type AuthModel, type ModelIssue } from '../model';
import { DEFAULT_SETTINGS } from '../status';
import { openStore, type StoreBackend } from '../store/backend';
import { Actor } from './act';
import { mayAct, planPass, storeEntry } from './plan';
import type { KeptReason } from './staleness';
import type { KeeperEvents, KeeperOptions, PassSummary } from './types';

export { describeKept } from './describe';
export type { KeeperAction, KeeperEvents, KeeperOptions, PassSummary } from './types';

/**
 * The background keeper (design.md "Auto-unblock", issue 13 item 2), one for the extension and `mcp-auth watch`
 * alike. It watches Claude Code's files (the credential store's folder, the needs-auth cache, ~/.claude.json,
 * the project's .mcp.json and settings; fs.watch debounced ~100 ms, plus timers for what is due — no busy
 * polling), reloads the model, refreshes proactively through Claude Code's refresh lock when a token falls
 * due (random jitter; backoff on failure), and removes stale needs-auth entries by the truthful rule
 * (staleness.ts). It never acts on a .mcp.json server awaiting approval. Unreadable or malformed files are
 * reported (`issues`) and the keeper keeps running: the next change is read again.
 *
 * This file is the loop: read, plan (plan.ts, pure: what to refresh, probe, remove or keep, and when to wake),
 * act (act.ts), wait for a file event or the wake.
 */

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

export class Keeper extends EventEmitter<KeeperEvents> {
  private readonly o: KeeperOptions;
  private readonly store: StoreBackend;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly actor: Actor;
  private watchers = new Map<string, fs.FSWatcher>();
  /** names of the refresh-lock directories held by others at the last pass (their release wakes us) */
  private heldLocks = new Set<string>();
  private debounce: NodeJS.Timeout | undefined;
  private wake: NodeJS.Timeout | undefined;
  private running: Promise<PassSummary> | undefined;
  private again = false;
  private started = false;
  private stopped = false;
  private lastIssues = '';
  private current: AuthModel | undefined;

  constructor(opts: KeeperOptions) {
    super();
    this.o = opts;
    this.store = opts.store ?? openStore(opts.paths, { env: opts.env });
    this.log = (opts.logger ?? nullLogger).child('keeper');
    this.now = opts.now ?? Date.now;
    this.actor = new Actor({
      o: this.o,
      store: this.store,
      log: this.log,
      now: this.now,
      windowMs: () => this.windowMs,
      emit: (a) => this.emit('action', a),
      poke: (ms) => this.poke(ms),
    });
  }

  /** The last model read. */
  get model(): AuthModel | undefined {
    return this.current;
  }

  /** Why an entry is kept, by server name (for the tree and doctor). */
  keptReasons(): ReadonlyMap<string, { reason: KeptReason; entryTimestamp: number }> {
    return this.actor.kept;
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

  /**
   * Stop watching and acting; a refresh that has not sent its token yet is called off (nothing sent), and this
   * resolves when every refresh and probe under way has ended (their answers stored, their locks released).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.debounce) clearTimeout(this.debounce);
    if (this.wake) clearTimeout(this.wake);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    await this.actor.stop();
    while (this.actor.busy || this.running) await Promise.allSettled([this.actor.stop(), this.running]);
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
    const model = await this.read(readStartedAt);
    this.current = model;
    const sig = JSON.stringify(model.issues);
    if (sig !== this.lastIssues) {
      this.lastIssues = sig;
      this.emit('issues', model.issues);
    }
    this.emit('model', model);

    for (const row of model.servers) {
      if (!row.key || !mayAct(row, this.o.canAct)) continue;
      this.actor.sightings.observe(row.key, storeEntry(model, row.key)?.accessToken || undefined, readStartedAt);
    }
    const plan = planPass({
      model,
      now: this.now(),
      once,
      stopped: this.stopped,
      proactiveRefresh: this.o.proactiveRefresh !== false,
      autoClearStaleEntries: this.o.autoClearStaleEntries !== false,
      windowMs: this.windowMs,
      canAct: this.o.canAct,
      secureDir: this.o.paths.secureDir,
      storeKind: this.store.kind,
      memory: this.actor,
    });
    const work = this.actor.carry(plan, model, once);
    if (once) await Promise.allSettled(work);
    if (plan.wakeInMs !== undefined && !this.stopped) {
      this.heldLocks = plan.heldLocks;
      // released between the read and now (its event came before we listened for it): look again
      for (const name of plan.heldLocks)
        if (!fs.existsSync(path.join(this.o.paths.secureDir, name))) {
          this.poke();
          break;
        }
      if (this.wake) clearTimeout(this.wake);
      this.wake = setTimeout(() => {
        this.wake = undefined;
        void this.pass(false);
      }, plan.wakeInMs);
      this.rewatch(model);
    }
    const blocked = model.servers
      .filter((r) => r.status.state === 'blocked' && r.status.cache)
      .map((r) => r.config.name);
    return {
      model,
      blocked,
      failed: [...this.actor.backoff.keys()].map((k) => model.servers.find((r) => r.key === k)?.config.name ?? k),
    };
  }

  /** The model, or one that says why it could not be read (the keeper keeps running). */
  private async read(now: number): Promise<AuthModel> {
    try {
      return await loadModel({
        paths: this.o.paths,
        cwd: this.o.cwd,
        env: this.o.env,
        store: this.store,
        now,
        settings: { ...DEFAULT_SETTINGS, refreshWindowMs: this.windowMs },
      });
    } catch (e) {
      // loadModel reports file problems as issues; anything else is ours
      this.log.error("could not read Claude Code's files", e);
      const issue: ModelIssue = {
        code: isMcpAuthError(e) ? e.code : 'internal',
        message: (e as Error)?.message ?? String(e),
      };
      return {
        servers: [],
        issues: [issue],
        configFiles: [],
        projectKey: this.o.cwd,
        storeLocation: this.store.location,
        now,
      };
    }
  }

  private get windowMs(): number {
    return this.o.refreshWindowMs ?? 300_000;
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

function isDir(d: string): boolean {
  try {
    return fs.statSync(d).isDirectory();
  } catch {
    return false;
  }
}
