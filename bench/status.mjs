// Wall time of `mcp-auth status --json` on 50 servers, as a ratio to `node -e 0` (median of 20 runs each).
// Run: npm run build && node bench/status.mjs
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const RUNS = Number(process.env.RUNS ?? 20);
const N = 50;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-bench-'));
const now = Date.now();
const servers = {};
const mcpOAuth = {};
const cache = {};
for (let i = 0; i < N; i++) {
  const name = `srv${i}`;
  const url = `https://mcp${i}.example.invalid/mcp`;
  servers[name] = i % 10 === 9 ? { command: 'node', args: ['x.js'] } : { type: 'http', url };
  const key = `${name}|${createHash('sha256')
    .update(JSON.stringify({ type: 'http', url, headers: {} }))
    .digest('hex')
    .slice(0, 16)}`;
  if (i % 10 !== 9)
    mcpOAuth[key] = {
      serverName: name,
      serverUrl: url,
      accessToken: `at${i}`,
      refreshToken: `rt${i}`,
      expiresAt: now + i * 60_000,
      clientId: `c${i}`,
    };
  if (i % 7 === 0) cache[name] = { timestamp: now - 1000 };
}
fs.mkdirSync(path.join(home, '.claude'));
fs.writeFileSync(path.join(home, '.claude.json'), JSON.stringify({ mcpServers: servers }));
fs.writeFileSync(path.join(home, '.claude', '.credentials.json'), JSON.stringify({ mcpOAuth }), { mode: 0o600 });
fs.writeFileSync(path.join(home, '.claude', 'mcp-needs-auth-cache.json'), JSON.stringify(cache));
const env = { ...process.env, HOME: home, MCP_AUTH_MANAGED_DIR: path.join(home, 'none') };
delete env.CLAUDE_CONFIG_DIR;

function median(cmd) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(process.execPath, cmd, { env, cwd: home, encoding: 'utf8' });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (r.error) throw r.error;
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
const check = spawnSync(process.execPath, [path.join(root, 'dist/cli.js'), 'status', '--json'], {
  env,
  cwd: home,
  encoding: 'utf8',
});
const count = JSON.parse(check.stdout).servers.length;
if (count !== N) throw new Error(`expected ${N} servers, got ${count}`);
const base = median(['-e', '0']);
const ours = median([path.join(root, 'dist/cli.js'), 'status', '--json']);
console.log(
  `status --json, ${N} servers: median ${ours.toFixed(1)} ms; node -e 0: ${base.toFixed(1)} ms; ratio ${(ours / base).toFixed(2)}x (goal <= 3x)`,
);
fs.rmSync(home, { recursive: true, force: true });
