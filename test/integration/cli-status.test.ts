import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withHome, runCli, hashTree, FIXTURES, type HomeSpec } from '../helpers/home';
import { refreshLockName } from '../../src/core/lock/lock';

const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'home', 'expected.json'), 'utf8')) as {
  now: number;
  servers: Record<string, string>;
  managed: Record<string, string>;
};

const fixtureHome: HomeSpec = {
  fixture: 'home',
  // the "refreshing" server: its refresh lock is held (a directory, as proper-lockfile makes it)
  setup: (h) => {
    fs.mkdirSync(path.join(h.claudeDir, `${refreshLockName('refreshing|' + keyHash(h, 'refreshing'))}.lock`));
  },
};
function keyHash(h: { home: string }, name: string): string {
  const creds = JSON.parse(fs.readFileSync(path.join(h.home, '.claude', '.credentials.json'), 'utf8'));
  return Object.keys(creds.mcpOAuth)
    .find((k) => k.startsWith(name + '|'))!
    .split('|')[1];
}

test('status --json on the fixture HOME: every server in its state, JSON shape as the contract says', async () => {
  await withHome(fixtureHome, async (h) => {
    const before = hashTree(h.home);
    const r = runCli(['status', '--json'], {
      env: { ...h.env, MCP_AUTH_NOW: String(expected.now), API_TOKEN: 'x' },
      cwd: h.project,
    });
    assert.equal(r.code, 1, 'needs-auth/blocked/error servers make the exit code 1');
    const out = JSON.parse(r.stdout) as { servers: Record<string, unknown>[]; errors: unknown[] };
    const states = Object.fromEntries(out.servers.map((s) => [s.name, s.state]));
    assert.deepEqual(states, expected.servers);
    // `errors`: the files that could not be read or parsed (here none: the malformed entry is a row's error)
    assert.deepEqual(Object.keys(out), ['servers', 'errors']);
    assert.deepEqual(out.errors, []);
    for (const s of out.servers) {
      // the contract's keys, in order; `missingScopes` (needs-scope rows) and `hints` (say why) only where they apply
      assert.deepEqual(
        Object.keys(s).filter((k) => k !== 'missingScopes' && k !== 'hints'),
        [
          'name',
          'scope',
          'transport',
          'url',
          'state',
          'reason',
          'expiresAt',
          'hasRefreshToken',
          'needsAuthCachedAt',
          'lockHeldBy',
        ],
      );
      if ('hints' in s) assert.ok(Array.isArray(s.hints) && s.hints.length > 0);
    }
    // `override` is defined twice (user and local scope, two URLs): one needs-auth entry name blocks both
    assert.deepEqual(out.servers.find((s) => s.name === 'override')!.hints, [
      { code: 'shared-cache-name', definitions: 2 },
    ]);
    assert.deepEqual(
      out.servers.filter((s) => 'hints' in s).map((s) => s.name),
      ['override'],
    );
    const blocked = out.servers.find((s) => s.name === 'blocked')!;
    assert.equal(blocked.needsAuthCachedAt, new Date(expected.now - 240_000).toISOString());
    assert.equal(blocked.reason, 'cache-entry');
    assert.equal(
      out.servers.find((s) => s.name === 'refreshing')!.lockHeldBy,
      'another process (Claude Code or an older mcp-auth)',
    );
    assert.equal(out.servers.find((s) => s.name === 'badentry')!.reason, 'store-invalid');
    assert.ok(!r.stdout.includes('fixture-') && !r.stderr.includes('fixture-'), 'no token in the output');
    assert.deepEqual(hashTree(h.home), before, 'status writes nothing');
  });
});

test('status --json with a managed-mcp.json: only the managed servers', async () => {
  await withHome(fixtureHome, async (h) => {
    const r = runCli(['status', '--json'], {
      env: { ...h.env, MCP_AUTH_NOW: String(expected.now), MCP_AUTH_MANAGED_DIR: path.join(h.home, 'managed') },
      cwd: h.project,
    });
    const out = JSON.parse(r.stdout) as { servers: { name: string; state: string; scope: string }[] };
    assert.deepEqual(Object.fromEntries(out.servers.map((s) => [s.name, s.state])), expected.managed);
    assert.ok(out.servers.every((s) => s.scope === 'managed'));
  });
});

test('status (human): aligned table without colour when not a TTY, with the fix for each server', async () => {
  await withHome(fixtureHome, async (h) => {
    const r = runCli(['status'], { env: { ...h.env, MCP_AUTH_NOW: String(expected.now) }, cwd: h.project });
    assert.equal(r.code, 1);
    assert.ok(!r.stdout.includes('\x1b['), 'no colour codes on a pipe');
    const lines = r.stdout.split('\n');
    assert.match(lines[0], /^NAME\s+SCOPE\s+STATE\s+DETAIL$/);
    const stateCol = lines[0].indexOf('STATE');
    const blocked = lines.find((l) => l.startsWith('blocked '))!;
    assert.equal(blocked.indexOf('blocked', 8), stateCol);
    assert.match(blocked, /stale needs-auth entry \(4 min old\)/);
    assert.match(r.stdout, /blocked: mcp-auth invalidate blocked/);
    assert.match(r.stdout, /stub: mcp-auth login stub/);
    assert.match(
      lines.find((l) => l.startsWith('signed '))!,
      /expires in 60 min/,
    );
  });
});

test('status exits 0 when every server is fine', async () => {
  await withHome(async (h) => {
    fs.writeFileSync(path.join(h.home, '.claude.json'), JSON.stringify({ mcpServers: { s: { command: 'x' } } }));
    const r = runCli(['status'], { env: h.env, cwd: h.project });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^s\s+user\s+no-auth/m);
  });
});

test('doctor: explains why, checks the store mode and stale locks, writes nothing', async () => {
  await withHome(fixtureHome, async (h) => {
    fs.chmodSync(path.join(h.claudeDir, '.credentials.json'), 0o644);
    const lockDir = fs.readdirSync(h.claudeDir).find((n) => n.startsWith('mcp-refresh-'))!;
    const old = new Date(expected.now - 120_000);
    fs.utimesSync(path.join(h.claudeDir, lockDir), old, old);
    const before = hashTree(h.home);
    const r = runCli(['doctor', '--json'], { env: { ...h.env, MCP_AUTH_NOW: String(expected.now) }, cwd: h.project });
    const rep = JSON.parse(r.stdout) as {
      checks: { check: string; ok: boolean; message: string }[];
      servers: { name: string; lines: string[]; fix?: string }[];
    };
    assert.equal(r.code, 1);
    assert.ok(rep.checks.some((c) => c.check === 'store-mode' && !c.ok && /0644/.test(c.message)));
    assert.ok(rep.checks.some((c) => c.check === 'lock' && !c.ok && /stale/.test(c.message)));
    const blocked = rep.servers.find((s) => s.name === 'blocked')!;
    assert.equal(blocked.fix, 'mcp-auth invalidate blocked');
    const text = runCli(['doctor', 'blocked'], {
      env: { ...h.env, MCP_AUTH_NOW: String(expected.now) },
      cwd: h.project,
    });
    assert.match(text.stdout, /needs-auth cache entry written .* 4 min old, TTL 15 min: in force/);
    assert.match(text.stdout, /fix: mcp-auth invalidate blocked/);
    assert.ok(!text.stdout.includes('signed '), 'doctor NAME shows only that server');
    assert.deepEqual(hashTree(h.home), before);
  });
});

test('--help, --version, unknown command', async () => {
  await withHome(async (h) => {
    const help = runCli(['--help'], { env: h.env });
    assert.equal(help.code, 0);
    for (const c of ['status', 'refresh', 'login', 'logout', 'invalidate', 'watch', 'doctor']) {
      assert.match(help.stdout, new RegExp(`^  ${c} +\\S`, 'm'), `${c} listed with one line`);
      const page = runCli([c, '--help'], { env: h.env });
      assert.equal(page.code, 0, `${c} --help`);
      assert.match(page.stdout, new RegExp(`^mcp-auth ${c}`), `${c} --help starts with its usage`);
      assert.match(page.stdout, /Examples:\n {2}mcp-auth /);
      assert.match(page.stdout, /Exit codes: 0 /);
    }
    assert.equal(runCli(['frobnicate', '--help'], { env: h.env }).code, 2);
    assert.match(runCli(['--version'], { env: h.env }).stdout, /^\d+\.\d+\.\d+/);
    const u = runCli(['frobnicate'], { env: h.env });
    assert.equal(u.code, 2);
    assert.match(u.stderr, /^mcp-auth: usage: unknown command/);
  });
});

test('status --json: a needs-auth cache that does not parse is in "errors" (code, message, file, line), exit 1', async () => {
  await withHome(
    {
      fixture: 'home',
      setup: (h) =>
        fs.writeFileSync(path.join(h.claudeDir, 'mcp-needs-auth-cache.json'), '{"blocked": {"timestamp": 1,'),
    },
    async (h) => {
      const r = runCli(['status', '--json'], {
        env: { ...h.env, MCP_AUTH_NOW: String(expected.now), API_TOKEN: 'x' },
        cwd: h.project,
      });
      assert.equal(r.code, 1);
      const out = JSON.parse(r.stdout) as { errors: { code: string; message: string; file: string; line: number }[] };
      assert.deepEqual(
        out.errors.map((e) => [e.code, e.file, e.line]),
        [['cache-parse', path.join(h.claudeDir, 'mcp-needs-auth-cache.json'), 1]],
      );
      assert.match(out.errors[0].message, /not valid JSON/);
      // the same line on stderr
      assert.match(r.stderr, /^mcp-auth: cache-parse: /m);
    },
  );
});

test('status: a refresh lock held over a blocked server shows blocked (exit 1), the refresh in progress as a detail', async () => {
  const spec: HomeSpec = {
    fixture: 'home',
    setup: (h) => {
      fs.mkdirSync(path.join(h.claudeDir, `${refreshLockName('blocked|' + keyHash(h, 'blocked'))}.lock`));
    },
  };
  await withHome(spec, async (h) => {
    const env = { ...h.env, MCP_AUTH_NOW: String(expected.now) };
    const j = runCli(['status', '--json'], { env, cwd: h.project });
    const blocked = (JSON.parse(j.stdout) as { servers: Record<string, unknown>[] }).servers.find(
      (s) => s.name === 'blocked',
    )!;
    assert.deepEqual([blocked.state, blocked.reason], ['blocked', 'cache-entry']);
    assert.equal(blocked.lockHeldBy, 'another process (Claude Code or an older mcp-auth)');
    const r = runCli(['status'], { env, cwd: h.project });
    assert.equal(r.code, 1);
    assert.match(
      r.stdout.split('\n').find((l) => l.startsWith('blocked '))!,
      /blocked\s+stale needs-auth entry \(4 min old\) blocks new sessions, refresh in progress \(another process/,
    );
  });
});
