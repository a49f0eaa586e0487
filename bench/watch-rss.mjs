// `mcp-auth watch` memory: RSS idle, and after the keeper probed 10 servers (each blocked by a fresh needs-auth
// entry while a token they accept is stored: one probe each, then the entry is removed). Goal: < 60 MB after
// the probes, at 3 s and once settled. Bare Node is printed for scale. Run: npm run bench:watch-rss (after `npm run build:prod` or any build).
import { createRequire } from 'node:module';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
const require = createRequire(import.meta.url);
const { startStack } = require('../out/test/fixtures/oauth-stack/stack.js');
const { makeHome, CLI } = require('../out/test/helpers/home.js');
const { cliLogin, writeServers, entryOf, readStore, writeStore } = require('../out/test/helpers/oauth.js');

const SERVERS = Number(process.env.SERVERS ?? 10);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssMb = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

const bare = spawnSync(
  process.execPath,
  [
    '-e',
    "setTimeout(()=>console.log(require('fs').readFileSync('/proc/self/status','utf8').match(/VmRSS:\\s+(\\d+)/)[1]),300)",
  ],
  { encoding: 'utf8' },
);
const stack = await startStack();
const h = makeHome();
let watch;
try {
  writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });
  const login = await cliLogin(h, 'demo', ['--timeout', '30']);
  if (login.code !== 0) throw new Error(login.stderr);
  const { key, entry } = entryOf(h, 'demo');
  const hash = key.split('|')[1];
  const names = Array.from({ length: SERVERS }, (_, i) => `s${i}`);
  // SERVERS servers of the same URL (the key is name|hash of type, url, headers), each holding the good token
  writeServers(h, Object.fromEntries(names.map((n) => [n, { type: 'http', url: stack.mcpUrl }])));
  const s = readStore(h);
  s.mcpOAuth = Object.fromEntries(names.map((n) => [`${n}|${hash}`, { ...entry, serverName: n }]));
  writeStore(h, s);
  const cache = path.join(h.claudeDir, 'mcp-needs-auth-cache.json');
  watch = spawn(process.execPath, [CLI, 'watch', '--json'], {
    env: h.env,
    cwd: h.project,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  watch.stdout.on('data', (d) => (out += d));
  await sleep(3000);
  const idle = rssMb(watch.pid);
  fs.writeFileSync(cache, JSON.stringify(Object.fromEntries(names.map((n) => [n, { timestamp: Date.now() }]))));
  const t = Date.now();
  const unblocked = () => new Set([...out.matchAll(/"action":"unblocked","name":"([^"]+)"/g)].map((m) => m[1])).size;
  while (unblocked() < SERVERS) {
    if (Date.now() - t > 60_000) throw new Error(`not all unblocked: ${out}`);
    await sleep(50);
  }
  // resident after the probes, each second for SETTLE_S s: V8 gives back the pass's garbage pages a few seconds
  // after the work ends (its memory reducer), so both the peak and the figure it settles at are printed
  const SETTLE_S = Number(process.env.SETTLE_S ?? 15);
  const series = [];
  for (let i = 0; i < SETTLE_S; i++) {
    await sleep(1000);
    series.push(rssMb(watch.pid));
  }
  const peak = Math.max(...series);
  const at3 = series[Math.min(2, series.length - 1)];
  const settled = series[series.length - 1];
  console.log(
    `mcp-auth watch RSS: idle ${idle.toFixed(1)} MB; after probing ${SERVERS} servers: ${at3.toFixed(1)} MB at 3 s, peak ${peak.toFixed(1)} MB, ${settled.toFixed(1)} MB at ${SETTLE_S} s (goal < 60 MB); bare node ${(Number(bare.stdout) / 1024).toFixed(1)} MB`,
  );
  console.log(`  each second after the probes: ${series.map((x) => x.toFixed(1)).join(' ')}`);
} finally {
  watch?.kill('SIGTERM');
  await sleep(300);
  h.cleanup();
  await stack.close();
}
