import * as os from 'node:os';
import { recordProfile } from '../core/profiles';
import { redact, type AuthModel } from '../core';
import { TEST_HOOKS } from '../core/build';
import { currentHolds, exitWhenSafe, onTerminationSignal } from '../core/signals';
import { describeKept, Keeper, type KeeperAction } from '../core/keeper/keeper';
import { describeProbe } from '../core/keeper/probe';
import { openStore } from '../core/store/backend';
import type { CliContext } from './commands';
import { duration } from './format';
import { netSettings } from './refresh';
import { writeKeeperRecord } from '../core/keeper/record';

const iso = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString());

/** One line per action: `unblocked NAME: …`, `refreshed NAME …`, `adopted NAME …`, `kept NAME: <reason>`, `failed NAME: <code>`. */
export function actionLine(a: KeeperAction, now: number): string {
  switch (a.type) {
    case 'unblocked':
      return `unblocked ${a.name}: ${a.because === 'accepted' && a.probe ? describeProbe(a.probe) : 'its token changed after the entry was written'} — stale needs-auth entry removed`;
    case 'refreshed':
    case 'adopted': {
      const exp = a.expiresAt ? `, expires in ${duration(a.expiresAt - now)}` : '';
      return `${a.type} ${a.name}${exp}${a.clearedCacheEntries.length ? `; cleared needs-auth entry ${a.clearedCacheEntries.join(', ')}` : ''}`;
    }
    case 'kept':
      return `kept ${a.name}: ${describeKept(a.reason, now)}`;
    case 'failed':
      return `failed ${a.name}: ${a.code}`;
  }
}

export function actionJson(a: KeeperAction, now: number): Record<string, unknown> {
  const base: Record<string, unknown> = { action: a.type, name: a.name, at: iso(a.at) };
  switch (a.type) {
    case 'unblocked':
      return {
        ...base,
        because: a.because,
        probe: a.probe
          ? { verdict: a.probe.verdict, status: 'status' in a.probe ? (a.probe.status ?? null) : null }
          : null,
        entryTimestamp: iso(a.entryTimestamp),
        message: actionLine(a, now),
      };
    case 'refreshed':
    case 'adopted':
      return { ...base, expiresAt: iso(a.expiresAt), clearedCacheEntries: a.clearedCacheEntries };
    case 'kept': {
      const p = 'probe' in a.reason ? a.reason.probe : undefined;
      return {
        ...base,
        reason: a.reason.code,
        entryTimestamp: iso(a.entryTimestamp),
        message: describeKept(a.reason, now),
        probe: p
          ? {
              verdict: p.verdict,
              status: 'status' in p ? (p.status ?? null) : null,
              error: p.verdict === 'rejected' ? (p.error ?? null) : null,
              scope: p.verdict === 'rejected' ? (p.scope ?? null) : null,
              challenge: p.verdict === 'rejected' ? p.challenge : null,
            }
          : null,
        nextProbeAt: 'nextProbeAt' in a.reason ? iso(a.reason.nextProbeAt) : null,
      };
    }
    case 'failed':
      return { ...base, code: a.code, message: a.message, retryAt: iso(a.retryAt) };
  }
}

/** The same problem lines as `status` (printIssues), once per change of the set. */
function issueLines(model: AuthModel): string[] {
  const lines = model.issues.map((i) => `mcp-auth: ${i.code}: ${i.message}`);
  for (const r of model.servers) {
    if (r.status.state === 'error' && r.status.reason === 'entry-invalid')
      lines.push(`mcp-auth: ${r.status.code}: ${r.config.name}: the stored entry is malformed (${r.status.message})`);
  }
  return lines;
}

/**
 * `mcp-auth watch [--json] [--once]`: the background keeper in the foreground. Until SIGINT/SIGTERM (then: stop,
 * let every refresh under way finish and release its lock and owner file, exit 0; a second signal exits at
 * once with 1). `--once`: one pass, exit 0 when nothing it could fix is left (no server still blocked, no
 * failed refresh, no file problem), 1 otherwise.
 */
export async function runWatch(ctx: CliContext): Promise<number> {
  const store = openStore(ctx.paths, { env: ctx.env });
  const net = netSettings(ctx);
  const keeper = new Keeper({
    paths: ctx.paths,
    cwd: ctx.cwd,
    env: ctx.env,
    store,
    logger: ctx.logger,
    ...net,
    now: ctx.now !== undefined ? () => ctx.now! : undefined,
    proactiveRefresh: !(TEST_HOOKS && ctx.env.MCP_AUTH_TEST_NO_PROACTIVE === '1'),
    jitterMs: TEST_HOOKS && ctx.env.MCP_AUTH_TEST_JITTER_MS ? Number(ctx.env.MCP_AUTH_TEST_JITTER_MS) : undefined,
  });
  const now = () => ctx.now ?? Date.now();
  keeper.on('action', (a) => {
    ctx.out(redact(ctx.values.json ? JSON.stringify(actionJson(a, now())) : actionLine(a, now())) + '\n');
    void writeKeeperRecord(ctx.paths, keeper, a).catch(() => {
      /* a hint for doctor, never worth failing for */
    });
  });
  let lastIssues = '';
  let issuesNow = false;
  keeper.on('model', (m) => {
    const lines = issueLines(m);
    issuesNow = lines.length > 0;
    const sig = lines.join('\n');
    if (sig !== lastIssues) {
      lastIssues = sig;
      for (const l of lines) process.stderr.write(redact(l) + '\n');
    }
  });

  if (ctx.values.once) {
    const s = await keeper.runOnce();
    await keeper.stop();
    const code = s.blocked.length || s.failed.length || issuesNow ? 1 : 0;
    if (code === 0) await recordProfile(ctx.paths);
    return code;
  }

  let stopping = false;
  // stopped by a signal: 128 + its number, as a shell expects of a process a signal ended (130 for Ctrl-C), so
  // that a script running `mcp-auth watch` in a loop stops with it
  let exitCode = 0;
  const stopped = new Promise<void>((resolve) => {
    // through core/signals: a signal that comes while a refresh's answer is being stored waits for the write
    onTerminationSignal((sig) => {
      if (stopping) {
        process.stderr.write(
          `mcp-auth: ${sig} again: exiting ${currentHolds().length ? 'once the answer under way is stored' : 'now'}\n`,
        );
        exitWhenSafe(128 + (os.constants.signals[sig] ?? 0), sig);
        return;
      }
      stopping = true;
      exitCode = 128 + (os.constants.signals[sig] ?? 0);
      ctx.logger.info(`${sig}: stopping`);
      void keeper.stop().then(resolve, resolve);
    });
  });
  await keeper.start();
  // a keeper of this profile: noted beside the shared cache (core/profiles.ts), best effort
  await recordProfile(ctx.paths);
  if (ctx.values.verbose)
    process.stderr.write(`mcp-auth: watching ${ctx.paths.secureDir} and ${ctx.paths.configDir} (pid ${process.pid})\n`);
  await stopped;
  return exitCode;
}
