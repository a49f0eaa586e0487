/**
 * One process of the storm: `refresher` and `forcer` loop on the coordinated refresh (a forcer forces one
 * refresh in three), checking every token it obtained on the MCP server; `writer` keeps rewriting its own
 * key of the store under Claude Code's storage lock, as Claude Code does for other servers. Stops when the
 * stop file appears; prints a JSON summary.
 */
import * as fs from 'node:fs';
import { resolvePaths } from '../../src/core/paths';
import { openStore } from '../../src/core/store/backend';
import { updateEntry } from '../../src/core/store/write';
import { refreshServer } from '../../src/core/refresh';
import type { ServerConfig } from '../../src/core/config/types';
import { callWhoami } from '../helpers/oauth';

const [role, id, stopFile, mcpUrl] = process.argv.slice(2);
const paths = resolvePaths({ env: process.env });
const store = openStore(paths, { platform: 'linux' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const server: ServerConfig = {
  name: 'demo',
  scope: 'user',
  file: paths.userConfigFile,
  transport: 'http',
  rawType: 'http',
  url: mcpUrl,
};

async function main() {
  const summary: Record<string, number> = {
    refreshed: 0,
    adopted: 0,
    fresh: 0,
    failed: 0,
    whoamiOk: 0,
    whoamiFailed: 0,
    writes: 0,
    lastCounter: -1,
  };
  const failures: string[] = [];
  while (!fs.existsSync(stopFile)) {
    if (role === 'writer') {
      const n = summary.writes;
      await updateEntry(store, paths, `writer-${id}|0000000000000000`, (cur) => ({
        ...(cur ?? {}),
        serverName: `writer-${id}`,
        accessToken: `w${id}-${n}`,
        counter: n,
      }));
      summary.writes++;
      summary.lastCounter = n;
      await sleep(10 + Math.random() * 20);
      continue;
    }
    const force = role === 'forcer' && Math.random() < 1 / 3;
    const out = await refreshServer(server, { paths, store, refreshWindowMs: 1500, lockTimeoutMs: 60_000 }, { force });
    summary[out.result]++;
    if (out.result === 'failed') failures.push(`${out.code}: ${out.message}`);
    if (out.result === 'refreshed') {
      const e = (await store.read()).data.mcpOAuth!;
      const key = Object.keys(e).find((k) => k.startsWith('demo|'))!;
      try {
        await callWhoami(mcpUrl, e[key].accessToken!);
        summary.whoamiOk++;
      } catch (err) {
        // on a loaded 2-core machine a few-second token can expire before the check runs (the JWT exp is whole
        // seconds from the AS clock, up to 1 s before our expiresAt): that is not a failure
        if (typeof e[key].expiresAt === 'number' && Date.now() >= e[key].expiresAt! - 1500)
          summary.whoamiExpiredFirst = (summary.whoamiExpiredFirst ?? 0) + 1;
        else {
          summary.whoamiFailed++;
          failures.push(`whoami: ${(err as Error).message}`);
        }
      }
    }
    await sleep(out.result === 'fresh' ? 100 + Math.random() * 100 : Math.random() * 50);
  }
  process.stdout.write(JSON.stringify({ role, id, ...summary, failures: failures.slice(0, 5) }) + '\n');
}
main().catch((e) => {
  process.stdout.write(JSON.stringify({ role, id, crashed: String(e?.stack ?? e) }) + '\n');
  process.exitCode = 1;
});
