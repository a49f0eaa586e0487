import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeHome } from '../helpers/home';
import { startStack, cliLogin, writeServers, readStore, writeStore, entryOf, callWhoami } from '../helpers/oauth';

export interface StormResult {
  rotations: number;
  reusesDetected: number;
  grantsRevoked: number;
  refreshed: number;
  adopted: number;
  fresh: number;
  failed: number;
  whoamiOk: number;
  whoamiFailed: number;
  whoamiExpiredFirst: number;
  writerWrites: number;
  writersIntact: boolean;
  unknownKeysIntact: boolean;
  finalTokenWorks: boolean;
  seconds: number;
  failures: string[];
}

/** N refresh processes (a third of them forcing) and W writer processes against the oauth-stack until R rotations. */
export async function runStorm(o: {
  workers: number;
  rotations: number;
  writers: number;
  ttlSeconds: number;
}): Promise<StormResult> {
  const stack = await startStack({ accessTokenTTL: o.ttlSeconds });
  const h = makeHome();
  const stop = path.join(h.home, 'stop');
  try {
    writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });
    const login = await cliLogin(h, 'demo', ['--timeout', '30']);
    if (login.code !== 0) throw new Error(login.stderr);
    const s = readStore(h);
    s.claudeAiOauth = { accessToken: 'sk-ant-keep-me', scopes: ['user:inference'] };
    s.unknownTopLevel = { nested: [1, 2, 3] };
    writeStore(h, s);
    const worker = path.join(__dirname, 'worker.js');
    const t0 = Date.now();
    const procs = [
      ...Array.from({ length: o.workers }, (_, i) => ['refresher', 'forcer', 'refresher'][i % 3]),
      ...Array.from({ length: o.writers }, () => 'writer'),
    ].map((role, i) => {
      const child = spawn(process.execPath, [worker, role, String(i), stop, stack.mcpUrl], {
        env: h.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      return new Promise<Record<string, unknown>>((resolve) =>
        child.on('close', () => {
          try {
            resolve(JSON.parse(out.trim().split('\n').pop()!));
          } catch {
            resolve({ role, crashed: `${out}\n${err}` });
          }
        }),
      );
    });
    const deadline = Date.now() + 20 * 60_000;
    while ((stack.counters.tokenSuccess.refresh_token ?? 0) < o.rotations && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    fs.writeFileSync(stop, '');
    const results = await Promise.all(procs);
    const sum = (k: string) => results.reduce((a, r) => a + (typeof r[k] === 'number' ? (r[k] as number) : 0), 0);
    const store = readStore(h);
    const writersIntact = results
      .filter((r) => r.role === 'writer')
      .every((r) => store.mcpOAuth[`writer-${r.id}|0000000000000000`]?.counter === r.lastCounter);
    const finalTokenWorks = await callWhoami(stack.mcpUrl, entryOf(h, 'demo').entry.accessToken).then(
      () => true,
      () => false,
    );
    return {
      rotations: stack.counters.tokenSuccess.refresh_token ?? 0,
      reusesDetected: stack.counters.reusesDetected,
      grantsRevoked: stack.counters.grantsRevoked,
      refreshed: sum('refreshed'),
      adopted: sum('adopted'),
      fresh: sum('fresh'),
      failed: sum('failed'),
      whoamiOk: sum('whoamiOk'),
      whoamiFailed: sum('whoamiFailed'),
      whoamiExpiredFirst: sum('whoamiExpiredFirst'),
      writerWrites: sum('writes'),
      writersIntact,
      unknownKeysIntact:
        JSON.stringify(store.claudeAiOauth) ===
          JSON.stringify({ accessToken: 'sk-ant-keep-me', scopes: ['user:inference'] }) &&
        JSON.stringify(store.unknownTopLevel) === '{"nested":[1,2,3]}',
      finalTokenWorks,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
      failures: results
        .flatMap((r) => [...((r.failures as string[]) ?? []), ...(r.crashed ? [String(r.crashed)] : [])])
        .slice(0, 10),
    };
  } finally {
    fs.writeFileSync(stop, '');
    h.cleanup();
    await stack.close();
  }
}

if (require.main === module) {
  const [workers, rotations, writers] = (process.argv[2] ?? '64,100,4').split(',').map(Number);
  runStorm({ workers, rotations, writers, ttlSeconds: 5 }).then(
    (r) => {
      console.log(JSON.stringify(r, null, 2));
      const ok =
        r.reusesDetected === 0 &&
        r.grantsRevoked === 0 &&
        r.whoamiFailed === 0 &&
        r.failed === 0 &&
        r.writersIntact &&
        r.unknownKeysIntact &&
        r.finalTokenWorks &&
        r.rotations >= rotations;
      console.log(ok ? 'STORM PASS' : 'STORM FAIL');
      process.exitCode = ok ? 0 : 1;
    },
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
