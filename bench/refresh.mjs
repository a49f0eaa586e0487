// Coordinated refresh under contention: N = 2, 8, 32, 64 real processes race to refresh one expired token
// against the oauth-stack fixture with its token endpoint delayed 200 ms. Prints, per N: refreshes per
// rotation (goal 1), and the waiters' p50/p95 time-to-fresh-token divided by a lone refresh's time
// (goal p95 <= 1.3 at N = 32). Run: npm run bench:refresh
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { startStack } = require('../out/test/fixtures/oauth-stack/stack.js');
const { makeHome, runCliAsync } = require('../out/test/helpers/home.js');
const { cliLogin, writeServers, patchEntry } = require('../out/test/helpers/oauth.js');

const sizes = (process.env.SIZES ?? '2,8,32,64').split(',').map(Number);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const stack = await startStack();
stack.mode.tokenDelayMs = 200;
const h = makeHome();
try {
  writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });
  const login = await cliLogin(h, 'demo', ['--timeout', '30']);
  if (login.code !== 0) throw new Error(login.stderr);
  const once = async (n) => {
    patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
    const before = stack.counters.tokenRequests.refresh_token ?? 0;
    const rs = await Promise.all(
      Array.from({ length: n }, () => runCliAsync(['refresh', 'demo', '--json'], { env: h.env, cwd: h.project })),
    );
    const out = rs.map((r) => {
      if (r.code !== 0) throw new Error(r.stderr);
      return JSON.parse(r.stdout).results[0];
    });
    return { refreshes: (stack.counters.tokenRequests.refresh_token ?? 0) - before, out };
  };
  // a lone refresh, median of 5
  const lone = [];
  for (let i = 0; i < 5; i++) lone.push((await once(1)).out[0].elapsedMs);
  const loneMs = pct(lone, 50);
  console.log(`lone refresh (token endpoint delayed 200 ms): median ${loneMs} ms`);
  console.log('N   refreshes/rotation  waiters  p50 ratio  p95 ratio  p95 lag after the write (ms)  reuses');
  for (const n of sizes) {
    const reuse0 = stack.counters.reusesDetected;
    const { refreshes, out } = await once(n);
    const waiters = out.filter((o) => o.result === 'adopted').map((o) => o.elapsedMs);
    const p50 = waiters.length ? (pct(waiters, 50) / loneMs).toFixed(2) : '-';
    const p95 = waiters.length ? (pct(waiters, 95) / loneMs).toFixed(2) : '-';
    const landed = Date.parse(out.find((o) => o.result === 'refreshed').finishedAt);
    const lags = out.filter((o) => o.result === 'adopted').map((o) => Date.parse(o.finishedAt) - landed);
    const lag = lags.length ? String(pct(lags, 95)) : '-';
    console.log(
      `${String(n).padEnd(4)}${String(refreshes).padEnd(20)}${String(waiters.length).padEnd(9)}${String(p50).padEnd(11)}${String(p95).padEnd(11)}${lag.padEnd(30)}${stack.counters.reusesDetected - reuse0}`,
    );
  }
} finally {
  h.cleanup();
  await stack.close();
}
