import * as vscode from 'vscode';
import type { AuthModel, Logger } from '../core';
import { refreshServer } from '../core/refresh';
import type { AuthModelService } from './service';
import { canActOn } from './trust';

/**
 * Proactive refresh (mcpAuth.proactiveRefresh): a server entering the refresh window is refreshed after a
 * random 0–5 s jitter, through Claude Code's refresh lock, so N windows cause one POST (the others adopt).
 * A failure backs off (1 min, doubling to 30 min) so a rejecting server is not hammered. In Restricted Mode a
 * project-scope server is skipped (trust.ts).
 */
export class RefreshScheduler implements vscode.Disposable {
  private readonly sub: vscode.Disposable;
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly backoff = new Map<string, { until: number; delay: number }>();
  private nextCheck: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(private readonly service: AuthModelService, private readonly log: Logger) {
    this.sub = service.onDidChange((m) => this.plan(m));
  }

  private plan(m: AuthModel): void {
    if (this.disposed || !this.service.settings.proactiveRefresh) return;
    const now = Date.now();
    let soonest = Infinity;
    for (const row of m.servers) {
      const s = row.status;
      if (!row.key || !s.hasRefreshToken || !canActOn(row, vscode.workspace.isTrusted)) continue;
      const id = row.key;
      if ((s.state === 'expiring' || s.state === 'expired') && !this.pending.has(id)) {
        const b = this.backoff.get(id);
        if (b && b.until > now) { soonest = Math.min(soonest, b.until); continue; }
        const jitter = Math.floor(Math.random() * 5000);
        this.pending.set(id, setTimeout(() => void this.run(row.config.name, id), jitter));
      } else if (s.state === 'signed-in' && s.expiresAt !== undefined) {
        // when the refresh falls due (short-lived tokens: half their lifetime, not the whole window)
        soonest = Math.min(soonest, s.refreshDueAt ?? s.expiresAt - this.service.settings.refreshWindowMs);
      }
    }
    if (this.nextCheck) clearTimeout(this.nextCheck);
    if (soonest !== Infinity) {
      const delay = Math.min(Math.max(1000, soonest - now + 50), 2 ** 31 - 1);
      this.nextCheck = setTimeout(() => this.service.schedule(0), delay);
    }
  }

  private async run(name: string, id: string): Promise<void> {
    try {
      const row = this.service.model?.servers.find((r) => r.key === id);
      if (!row || this.disposed) return;
      const out = await refreshServer(row.config, this.service.coreDeps(this.log));
      if (out.result === 'failed') {
        const prev = this.backoff.get(id)?.delay ?? 30_000;
        const delay = Math.min(prev * 2, 30 * 60_000);
        this.backoff.set(id, { until: Date.now() + delay, delay });
        this.log.warn(`proactive refresh of ${name} failed (${out.code}); next try in ${Math.round(delay / 1000)} s`);
      } else {
        this.backoff.delete(id);
        this.log.info(`proactive refresh of ${name}: ${out.result}`);
      }
    } finally {
      this.pending.delete(id);
      this.service.schedule();
    }
  }

  dispose(): void {
    this.disposed = true;
    this.sub.dispose();
    for (const t of this.pending.values()) clearTimeout(t);
    if (this.nextCheck) clearTimeout(this.nextCheck);
  }
}
