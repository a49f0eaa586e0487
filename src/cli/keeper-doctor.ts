import type { AuthModel } from '../core';
import { describeKept } from '../core/keeper/keeper';
import { describeProbe, probeServer } from '../core/keeper/probe';
import { readKeeperRecord } from '../core/keeper/record';
import type { CliContext } from './commands';
import type { DoctorReport } from './doctor-report';
import { duration } from './format';
import { actionLine } from './watch';

/**
 * Doctor's view of the keeper: what a running (or the last) `mcp-auth watch` did and why it keeps an entry,
 * from its record file; with `--probe`, one probe now of each blocked server (what the keeper would ask).
 */
export async function keeperLines(ctx: CliContext, model: AuthModel, report: DoctorReport): Promise<void> {
  const now = model.now;
  const rec = await readKeeperRecord(ctx.paths);
  let alive = false;
  if (rec) {
    try {
      process.kill(rec.pid, 0);
      alive = true;
    } catch {
      alive = false;
    }
  }
  for (const s of report.servers) {
    const row = model.servers.find((r) => r.config.name === s.name);
    const r = rec?.servers[s.name];
    if (r) {
      const who = `keeper (mcp-auth watch pid ${rec!.pid}${alive ? '' : ', not running'})`;
      const entryTs = row?.status.cache?.timestamp;
      if (r.kept && entryTs === r.kept.entryTimestamp) {
        s.lines.push(`${who}, ${duration(now - r.last.at)} ago: kept: ${describeKept(r.kept.reason, now)}`);
        const p = 'probe' in r.kept.reason ? r.kept.reason.probe : undefined;
        if (p?.verdict === 'rejected' && p.challenge) s.fix = `mcp-auth login ${s.name}`;
      } else {
        s.lines.push(`${who}, ${duration(now - r.last.at)} ago: ${actionLine(r.last, now)}`);
      }
    }
    if (ctx.values.probe && row && s.state === 'unchecked') {
      // never contacted: does it ask for a sign-in? (an unauthenticated initialize, as Claude Code's first connect)
      const v = await probeServer(row.config, undefined, { logger: ctx.logger });
      if (v.verdict === 'accepted')
        s.lines.push(`probe now: the server answered without a sign-in (HTTP ${v.status}): it needs none`);
      else if (v.verdict === 'rejected' && v.status === 401) {
        s.lines.push(`probe now: the server asks for a sign-in (HTTP 401${v.error ? ` ${v.error}` : ''})`);
        s.fix = `mcp-auth login ${s.name}`;
      } else s.lines.push(`probe now: ${describeProbe(v)}`);
    }
    if (ctx.values.probe && row && s.state === 'blocked' && row.key) {
      const at = model.store?.data.mcpOAuth?.[row.key]?.accessToken;
      if (at) {
        const v = await probeServer(row.config, at, { logger: ctx.logger });
        s.lines.push(
          `probe now: ${describeProbe(v)}${v.verdict === 'accepted' ? ' — the entry is stale (mcp-auth watch --once removes it)' : ' — the entry is not stale'}`,
        );
      } else {
        s.lines.push('probe now: skipped (no access token to send; refresh first)');
      }
    }
  }
}
