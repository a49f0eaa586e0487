import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { withHome, runCliAsync } from '../helpers/home';
import { cliLogin, browse, writeServers, entryOf, patchEntry } from '../helpers/oauth';
import { useStack } from '../helpers/stack';

const stack = useStack();

/** Listening sockets on a port, from /proc/net/tcp{,6}: the local addresses in hex. */
function listeners(port: number): string[] {
  const out: string[] = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== '0A') continue; // 0A = LISTEN
      const [addr, p] = cols[1].split(':');
      if (parseInt(p, 16) === port) out.push(addr);
    }
  }
  return out;
}

const connects = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });

test(
  'the sign-in callback listens on 127.0.0.1 only, and is closed once the sign-in ends',
  { timeout: 60_000 },
  async () => {
    await withHome(async (h) => {
      writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });
      let port = 0;
      let seen: string[] = [];
      const r = await cliLogin(h, 'demo', ['--timeout', '30'], {
        onUrl: async (u) => {
          port = Number(new URL(new URL(u).searchParams.get('redirect_uri')!).port);
          seen = listeners(port);
          await browse(u);
        },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(seen, ['0100007F'], `listening addresses for port ${port}: ${seen.join(',')}`); // 127.0.0.1, nothing else
      assert.equal(await connects(port), false, 'closed after use');
    });
  },
);

test('tokens never appear in any output, --verbose and --json included', { timeout: 60_000 }, async () => {
  await withHome(async (h) => {
    writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });
    const outputs: string[] = [];
    const secrets = new Set<string>();
    const collect = () => {
      const { entry } = entryOf(h, 'demo');
      for (const k of ['accessToken', 'refreshToken', 'clientSecret']) if (entry[k]) secrets.add(entry[k]);
    };
    const login = await cliLogin(h, 'demo', ['--timeout', '30', '--verbose']);
    outputs.push(login.stdout, login.stderr);
    collect();
    patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
    for (const args of [
      ['refresh', 'demo', '--verbose', '--json'],
      ['refresh', 'demo', '--force', '--verbose'],
      ['status', '--json'],
      ['status', '--verbose'],
      ['doctor', '--json'],
      ['doctor', 'demo', '--verbose'],
    ]) {
      const r = await runCliAsync(args, { env: h.env, cwd: h.project });
      outputs.push(r.stdout, r.stderr);
      collect();
    }
    // a failing refresh logs the error path too
    stack.mode.tokenStatus = 503;
    const fail = await runCliAsync(['refresh', 'demo', '--force', '--verbose'], { env: h.env, cwd: h.project });
    stack.mode.tokenStatus = 0;
    outputs.push(fail.stdout, fail.stderr);
    const out = await runCliAsync(['logout', 'demo', '--verbose'], { env: h.env, cwd: h.project });
    outputs.push(out.stdout, out.stderr);
    assert.ok(secrets.size >= 5, `collected ${secrets.size} secrets`);
    const all = outputs.join('\n');
    assert.ok(all.includes('[refresh demo]'), 'verbose logging was on');
    for (const s of secrets) assert.ok(!all.includes(s), `a token leaked into the output: ${s.slice(0, 6)}…`);
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/.test(all), 'no JWT in the output');
  });
});

test(
  "new files are 0600; the store never becomes wider than 0600; temp files are made in the store's folder",
  { timeout: 60_000 },
  async () => {
    await withHome(async (h) => {
      writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });
      assert.equal((await cliLogin(h, 'demo', ['--timeout', '30'])).code, 0);
      const store = path.join(h.claudeDir, '.credentials.json');
      assert.equal(fs.statSync(store).mode & 0o777, 0o600);
      fs.chmodSync(store, 0o400);
      assert.equal((await runCliAsync(['refresh', 'demo', '--force'], { env: h.env, cwd: h.project })).code, 0);
      assert.equal(fs.statSync(store).mode & 0o777, 0o400, 'a stricter mode is kept');
      fs.chmodSync(store, 0o644);
      assert.equal((await runCliAsync(['refresh', 'demo', '--force'], { env: h.env, cwd: h.project })).code, 0);
      assert.equal(fs.statSync(store).mode & 0o777, 0o600, 'a wider mode is narrowed to 0600, as Claude Code does');
    });
  },
);
