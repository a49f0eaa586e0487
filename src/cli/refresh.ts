import { discoverServers, openStore, serverToActOn, type ServerConfig } from '../core';
import { refreshServer, type CrashPoint, type RefreshOutcome, type RefreshStep } from '../core/refresh';
import type { CliContext } from './commands';
import { duration } from './format';
import { redact } from '../core/log';
import { TEST_HOOKS } from '../core/build';
import { isRemote } from '../core/config/types';

/** Settings shared by the commands that talk to servers; env variables make them reachable in CI and tests. */
export function netSettings(ctx: CliContext) {
  const num = (v: string | undefined, d: number) =>
    v !== undefined && Number.isFinite(Number(v)) && Number(v) > 0 ? Number(v) : d;
  return {
    lockTimeoutMs: num(ctx.env.MCP_AUTH_LOCK_TIMEOUT, 30) * 1000,
    httpTimeoutMs: num(ctx.env.MCP_AUTH_HTTP_TIMEOUT, 15) * 1000,
    testHooks: TEST_HOOKS
      ? {
          crashAt: (ctx.env.MCP_AUTH_TEST_CRASH_AT || undefined) as CrashPoint | undefined,
          noLock: ctx.env.MCP_AUTH_TEST_NO_LOCK === '1',
          pauseMs: ctx.env.MCP_AUTH_TEST_PAUSE_MS ? Number(ctx.env.MCP_AUTH_TEST_PAUSE_MS) : undefined,
          pauseAt: (ctx.env.MCP_AUTH_TEST_PAUSE_AT || undefined) as RefreshStep | undefined,
        }
      : undefined,
  };
}

export async function selectServers(
  ctx: CliContext,
  allowAll: boolean,
): Promise<{ all: ServerConfig[]; chosen: ServerConfig[] }> {
  const cfg = await discoverServers({ paths: ctx.paths, cwd: ctx.cwd, env: ctx.env });
  for (const i of cfg.issues) process.stderr.write(redact(`mcp-auth: ${i.code}: ${i.message}\n`));
  // a .mcp.json server awaiting approval is never acted on: left out of "all", refused by name (not-approved)
  const remote = cfg.servers.filter((s) => isRemote(s) && s.approval !== 'pending');
  if (ctx.names.length === 0 || (allowAll && ctx.values.all)) return { all: cfg.servers, chosen: remote };
  const chosen = ctx.names.map((n) => serverToActOn(cfg, n));
  return { all: cfg.servers, chosen };
}

export async function runRefresh(ctx: CliContext): Promise<number> {
  const { all, chosen } = await selectServers(ctx, true);
  const store = openStore(ctx.paths, { env: ctx.env });
  const explicit = ctx.names.length > 0;
  const net = netSettings(ctx);
  const results: RefreshOutcome[] = [];
  const elapsed = new Map<RefreshOutcome, number>();
  const finished = new Map<RefreshOutcome, string>();
  for (const s of chosen) {
    const t0 = performance.now();
    const r = await refreshServer(
      s,
      {
        paths: ctx.paths,
        store,
        logger: ctx.logger,
        allServers: all,
        ...net,
        now: ctx.now !== undefined ? () => ctx.now! : undefined,
      },
      { force: ctx.values.force === true },
    );
    elapsed.set(r, Math.round(performance.now() - t0));
    finished.set(r, new Date().toISOString());
    // with --all / no names, servers that were never signed in are not ours to report as failures
    if (!explicit && r.result === 'failed' && r.code === 'no-credentials') continue;
    results.push(r);
  }
  ctx.wrote = results.some((r) => r.result === 'refreshed' || (r.clearedCacheEntries?.length ?? 0) > 0);
  const now = ctx.now ?? Date.now();
  if (ctx.values.json) {
    ctx.out(
      JSON.stringify(
        {
          results: results.map((r) => ({
            name: r.name,
            result: r.result,
            code: r.code ?? null,
            expiresAt: r.expiresAt ? new Date(r.expiresAt).toISOString() : null,
            clearedCacheEntries: r.clearedCacheEntries ?? [],
            warnings: r.warnings ?? [],
            elapsedMs: elapsed.get(r) ?? null,
            finishedAt: finished.get(r) ?? null,
          })),
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    if (results.length === 0) ctx.out('Nothing to refresh.\n');
    for (const r of results) {
      const exp = r.expiresAt ? `, expires in ${duration(r.expiresAt - now)}` : '';
      const cleared = r.clearedCacheEntries?.length
        ? `; cleared needs-auth entry ${r.clearedCacheEntries.join(', ')}`
        : '';
      // a failure is said once, on stderr (below), with its code and why
      if (r.result !== 'failed') ctx.out(`${r.name}: ${r.result}${exp}${cleared}\n`);
    }
  }
  for (const r of results)
    if (r.result === 'failed') process.stderr.write(redact(`mcp-auth: ${r.code}: ${r.name}: ${r.message}\n`));
  for (const r of results) {
    const odd = r.warnings?.filter((w) => w !== 'lock-lost') ?? [];
    if (odd.length)
      process.stderr.write(
        `mcp-auth: warning: ${r.name}: the authorization server's answer was odd (${odd.join(', ')}); the new token was stored anyway\n`,
      );
    if (r.warnings?.includes('lock-lost'))
      process.stderr.write(
        `mcp-auth: warning: ${r.name}: lock-lost: the refresh lock was taken over while the answer was on its way; the new token was stored anyway and the other holder's lock left alone\n`,
      );
  }
  if (results.some((r) => r.code === 'lock-timeout')) return 3;
  return results.some((r) => r.result === 'failed') ? 1 : 0;
}
