import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { Keeper, type KeeperAction, type KeeperOptions } from '../../../../src/core/keeper/keeper';
import type { ProbeResult } from '../../../../src/core/keeper/probe';
import { resolvePaths } from '../../../../src/core/paths';
import { serverKey } from '../../../../src/core/store/key';
import type { ServerConfig } from '../../../../src/core/config/types';
import { ROOT } from '../../../helpers/home';

const URL_ = 'http://127.0.0.1:9/mcp';

function home(servers: Record<string, unknown>, projectMcp?: Record<string, unknown>) {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'keeper-unit-')));
  const claude = path.join(dir, '.claude');
  fs.mkdirSync(claude);
  const project = path.join(dir, 'proj');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(dir, '.claude.json'), JSON.stringify({ mcpServers: servers }));
  if (projectMcp) fs.writeFileSync(path.join(project, '.mcp.json'), JSON.stringify({ mcpServers: projectMcp }));
  const env = { HOME: dir };
  const paths = resolvePaths({ env, home: dir, managedDirs: [] });
  const key = (name: string, url = URL_) =>
    serverKey({ name, scope: 'user', file: '', transport: 'http', url } as ServerConfig);
  const store = (entries: Record<string, unknown>) =>
    fs.writeFileSync(paths.credentialsFile, JSON.stringify({ mcpOAuth: entries }), { mode: 0o600 });
  const cache = (c: Record<string, unknown>) => fs.writeFileSync(paths.needsAuthCacheFile, JSON.stringify(c));
  const readCache = () => {
    try {
      return JSON.parse(fs.readFileSync(paths.needsAuthCacheFile, 'utf8'));
    } catch {
      return {};
    }
  };
  return {
    dir,
    project,
    paths,
    env,
    key,
    store,
    cache,
    readCache,
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

const tok = (at: string) => ({ accessToken: at, refreshToken: 'rt-0123456789', expiresAt: Date.now() + 3_600_000 });

function keeper(h: ReturnType<typeof home>, probe: (s: ServerConfig, t: string) => Promise<ProbeResult>) {
  const actions: KeeperAction[] = [];
  const probed: string[] = [];
  const k = new Keeper({
    paths: h.paths,
    cwd: h.project,
    env: h.env,
    proactiveRefresh: false,
    debounceMs: 20,
    probe: async (s, t) => {
      probed.push(s.name);
      return probe(s, t);
    },
  });
  k.on('action', (a) => actions.push(a));
  return { k, actions, probed };
}

const accepted = async (): Promise<ProbeResult> => ({ verdict: 'accepted', status: 200, at: Date.now(), ms: 1 });
const rejected = async (): Promise<ProbeResult> => ({
  verdict: 'rejected',
  status: 401,
  challenge: true,
  error: 'invalid_token',
  at: Date.now(),
  ms: 1,
});

test('runOnce: accepted → the entry is removed (one unblocked action), other names untouched', async () => {
  const h = home({ demo: { type: 'http', url: URL_ } });
  try {
    h.store({ [h.key('demo')]: tok('at-demo-0123456789') });
    h.cache({ demo: { timestamp: Date.now() - 1000 }, ghost: { timestamp: Date.now() } });
    const { k, actions, probed } = keeper(h, accepted);
    const s = await k.runOnce();
    await k.stop();
    assert.deepEqual(probed, ['demo']);
    assert.deepEqual(
      actions.map((a) => [a.type, a.name]),
      [['unblocked', 'demo']],
    );
    assert.deepEqual(Object.keys(h.readCache()), ['ghost']);
    assert.deepEqual(s.blocked, []);
  } finally {
    h.cleanup();
  }
});

test('runOnce: rejected → kept with the probe verdict; blocked remains', async () => {
  const h = home({ demo: { type: 'http', url: URL_ } });
  try {
    h.store({ [h.key('demo')]: tok('at-demo-0123456789') });
    h.cache({ demo: { timestamp: Date.now() - 1000 } });
    const { k, actions } = keeper(h, rejected);
    const s = await k.runOnce();
    await k.stop();
    assert.equal(actions.length, 1);
    const a = actions[0];
    assert.ok(a.type === 'kept' && a.reason.code === 'rejected', JSON.stringify(a));
    assert.deepEqual(s.blocked, ['demo']);
    assert.ok('demo' in h.readCache());
  } finally {
    h.cleanup();
  }
});

test('loop guard under watch: removed once, it comes back newer with the same token → kept (loop-guard), never removed again', async () => {
  const h = home({ demo: { type: 'http', url: URL_ } });
  const { k, actions, probed } = keeper(h, accepted);
  try {
    h.store({ [h.key('demo')]: tok('at-demo-0123456789') });
    h.cache({ demo: { timestamp: Date.now() - 1000 } });
    await k.start();
    const until = async (cond: () => boolean) => {
      const t = Date.now();
      while (!cond()) {
        if (Date.now() - t > 5000) throw new Error(JSON.stringify(actions));
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await until(() => actions.some((a) => a.type === 'unblocked'));
    // Claude Code fails with this very token and writes the entry again
    h.cache({ demo: { timestamp: Date.now() + 5 } });
    await until(() => actions.some((a) => a.type === 'kept'));
    const kept = actions.find((a) => a.type === 'kept');
    assert.ok(kept?.type === 'kept' && kept.reason.code === 'loop-guard');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok('demo' in h.readCache(), 'the returned entry stays');
    assert.equal(actions.filter((a) => a.type === 'unblocked').length, 1);
    assert.equal(probed.length, 1, 'no second probe');
    // a new token (another process stored one): the entry is older than it → removed by rule (b), no probe
    h.store({ [h.key('demo')]: tok('at-demo-NEW-0123456789') });
    await until(() => actions.filter((a) => a.type === 'unblocked').length === 2);
    const u = actions.filter((a) => a.type === 'unblocked')[1];
    assert.ok(u.type === 'unblocked' && u.because === 'token-changed');
    assert.equal(probed.length, 1);
  } finally {
    await k.stop();
    h.cleanup();
  }
});

test('a .mcp.json server awaiting approval is never probed nor touched; bad files are reported and the keeper keeps running', async () => {
  const h = home({}, { pend: { type: 'http', url: 'http://127.0.0.1:9/p' } });
  const { k, actions, probed } = keeper(h, accepted);
  const issues: string[][] = [];
  k.on('issues', (i) => issues.push(i.map((x) => x.code)));
  try {
    h.store({ [h.key('pend', 'http://127.0.0.1:9/p')]: tok('at-pend-0123456789') });
    h.cache({ pend: { timestamp: Date.now() } });
    await k.start();
    assert.equal(k.model?.servers.find((r) => r.config.name === 'pend')?.status.state, 'not-approved');
    fs.writeFileSync(h.paths.needsAuthCacheFile, 'not json');
    const t = Date.now();
    while (!issues.some((i) => i.includes('cache-parse'))) {
      if (Date.now() - t > 5000) throw new Error(JSON.stringify(issues));
      await new Promise((r) => setTimeout(r, 10));
    }
    h.cache({ pend: { timestamp: Date.now() } });
    while (issues[issues.length - 1].length) {
      if (Date.now() - t > 5000) throw new Error(JSON.stringify(issues));
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(probed, []);
    assert.deepEqual(actions, []);
    assert.ok('pend' in h.readCache());
  } finally {
    await k.stop();
    h.cleanup();
  }
});

test('step-up: a needs-scope row (stepUpScope the token lacks) is never an unblock candidate, even when a probe would accept', async () => {
  const h = home({ admin: { type: 'http', url: URL_ } });
  try {
    // what `claude mcp list` leaves after a 403 insufficient_scope: stepUpScope on the entry, a 90 s needs-auth entry
    h.store({
      [h.key('admin')]: { ...tok('at-admin-0123456789'), scope: 'mcp', stepUpScope: 'mcp mcp:admin offline_access' },
    });
    h.cache({ admin: { timestamp: Date.now() - 1000, ttlMs: 90_000 } });
    const { k, actions, probed } = keeper(h, accepted);
    const s = await k.runOnce();
    await k.stop();
    assert.deepEqual(probed, [], 'not probed');
    assert.ok('admin' in h.readCache(), 'the entry stays');
    assert.equal(actions.length, 1, JSON.stringify(actions));
    const a = actions[0];
    assert.ok(
      a.type === 'kept' && a.reason.code === 'needs-scope' && a.reason.missingScopes.join(' ') === 'mcp:admin',
      JSON.stringify(a),
    );
    assert.equal(s.model.servers[0].status.state, 'needs-scope');
  } finally {
    h.cleanup();
  }
});

test('step-up: a probe answered 403 insufficient_scope (no stepUpScope stored) → the entry is kept with that verdict', async () => {
  const h = home({ admin: { type: 'http', url: URL_ } });
  try {
    h.store({ [h.key('admin')]: { ...tok('at-admin-0123456789'), scope: 'mcp' } });
    h.cache({ admin: { timestamp: Date.now() - 1000 } });
    const insufficient = async (): Promise<ProbeResult> => ({
      verdict: 'rejected',
      status: 403,
      challenge: true,
      error: 'insufficient_scope',
      scope: 'mcp mcp:admin',
      at: Date.now(),
      ms: 1,
    });
    const { k, actions } = keeper(h, insufficient);
    await k.runOnce();
    await k.stop();
    assert.ok('admin' in h.readCache());
    const a = actions[0];
    assert.ok(
      a?.type === 'kept' &&
        a.reason.code === 'rejected' &&
        a.reason.probe.verdict === 'rejected' &&
        a.reason.probe.error === 'insufficient_scope',
      JSON.stringify(actions),
    );
  } finally {
    h.cleanup();
  }
});

// ---- no spinning on rows the pass skipped on purpose (issue 22) ------------------------------------------------

const CC_HOLDER = path.join(ROOT, 'out', 'test', 'helpers', 'cc-holder.js');

/** A keeper that counts its passes (one `model` event per pass) and what it did. */
function countingKeeper(h: ReturnType<typeof home>, extra: Partial<KeeperOptions> = {}) {
  const actions: KeeperAction[] = [];
  let passes = 0;
  const k = new Keeper({
    paths: h.paths,
    cwd: h.project,
    env: h.env,
    debounceMs: 20,
    jitterMs: 0,
    lockTimeoutMs: 2000,
    httpTimeoutMs: 2000,
    probe: accepted,
    ...extra,
  });
  k.on('model', () => passes++);
  k.on('action', (a) => actions.push(a));
  return { k, actions, passes: () => passes };
}

test('a due token whose refresh lock Claude Code holds for 5 s: a handful of passes, not one every 250 ms; its release wakes the keeper', async () => {
  const h = home({ demo: { type: 'http', url: URL_ } });
  const key = h.key('demo');
  // inside the refresh window: due now
  h.store({
    [key]: { accessToken: 'at-demo-0123456789', refreshToken: 'rt-0123456789', expiresAt: Date.now() + 60_000 },
  });
  // a Claude Code stand-in takes the refresh lock and sits on it for 5 s, then lets go without a write
  const holder = spawn(process.execPath, [CC_HOLDER, h.paths.secureDir, key, '-', URL_, '0', '5000'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exited = new Promise<number>((r) => holder.on('close', (c) => r(c ?? -1)));
  let out = '';
  holder.stdout!.on('data', (d) => (out += d));
  const { k, actions, passes } = countingKeeper(h);
  try {
    const t = Date.now();
    while (!out.includes('locked')) {
      if (Date.now() - t > 10_000) throw new Error(`the holder never took the lock: ${out}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await k.start();
    assert.ok(k.model?.servers[0].status.lock?.held, 'the keeper saw the lock held');
    await exited;
    const duringHold = passes();
    assert.ok(duringHold <= 4, `passes while Claude Code held the lock: ${duringHold} (one every 250 ms would be ~20)`);
    assert.equal(actions.length, 0, `nothing done while the lock was held: ${JSON.stringify(actions)}`);
    // the release (the lock directory's removal) wakes the keeper: it tries the refresh itself (the AS is not
    // there: a failure, then its backoff), long before the lock's stale time or the 5-minute safety reload
    const released = Date.now();
    while (!actions.some((a) => a.type === 'failed')) {
      if (Date.now() - released > 4000) throw new Error(`no refresh after the release: ${JSON.stringify(actions)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const after = passes();
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(passes() - after <= 2, `passes after the failure (backoff): ${passes() - after}`);
  } finally {
    holder.kill();
    await k.stop();
    h.cleanup();
  }
});

test('Restricted Mode with a due project token, and a due token awaiting approval: a pass or two, not one every 250 ms', async () => {
  const P_URL = 'http://127.0.0.1:9/p';
  const Q_URL = 'http://127.0.0.1:9/q';
  const h = home({}, { proj: { type: 'http', url: P_URL }, pend: { type: 'http', url: Q_URL } });
  // the folder is trusted by Claude Code and `proj` approved there (pend is not): Claude Code would connect proj
  const cj = path.join(h.dir, '.claude.json');
  fs.writeFileSync(cj, JSON.stringify({ mcpServers: {}, projects: { [h.project]: { hasTrustDialogAccepted: true } } }));
  fs.mkdirSync(path.join(h.project, '.claude'));
  fs.writeFileSync(
    path.join(h.project, '.claude', 'settings.local.json'),
    JSON.stringify({ enabledMcpjsonServers: ['proj'] }),
  );
  const due = { accessToken: 'at-p-0123456789', refreshToken: 'rt-p-0123456789', expiresAt: Date.now() + 60_000 };
  h.store({ [h.key('proj', P_URL)]: due, [h.key('pend', Q_URL)]: { ...due, refreshToken: 'rt-q-0123456789' } });
  // VS Code's Restricted Mode: the folder's own .mcp.json servers are not acted on
  const { k, actions, passes } = countingKeeper(h, { canAct: (s) => s.scope !== 'project' });
  try {
    await k.start();
    const states = Object.fromEntries(k.model!.servers.map((r) => [r.config.name, r.status.state]));
    assert.deepEqual(states, { proj: 'expiring', pend: 'not-approved' });
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok(passes() <= 2, `passes in 2.5 s: ${passes()} (one every 250 ms would be ~10)`);
    assert.deepEqual(actions, [], 'never acted on');
  } finally {
    await k.stop();
    h.cleanup();
  }
});

test('runOnce with ten blocked servers the server accepts: every entry removed exactly once (the removals do not overwrite each other)', async () => {
  const names = Array.from({ length: 10 }, (_, i) => `s${i}`);
  const h = home(Object.fromEntries(names.map((n) => [n, { type: 'http', url: URL_ }])));
  try {
    h.store(Object.fromEntries(names.map((n) => [h.key(n), tok(`at-${n}-0123456789`)])));
    h.cache(Object.fromEntries(names.map((n) => [n, { timestamp: Date.now() - 1000 }])));
    const { k, actions } = keeper(h, accepted);
    await k.runOnce();
    await k.stop();
    assert.deepEqual(h.readCache(), {});
    assert.deepEqual(
      actions
        .filter((a) => a.type === 'unblocked')
        .map((a) => a.name)
        .sort(),
      names,
    );
  } finally {
    h.cleanup();
  }
});

// ---- stop() calls off the refreshes of a pass that have not sent their token yet (issue 20 review) ------------

/** A loopback authorization server whose metadata answer is slow; it counts the token requests it gets. */
async function slowMetadataAs(delayMs: number) {
  const http = await import('node:http');
  let metadataAsked = 0;
  let tokenPosts = 0;
  const srv = http.createServer((req, res) => {
    const origin = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
    if (req.url?.startsWith('/.well-known/')) {
      metadataAsked++;
      setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ issuer: origin, token_endpoint: `${origin}/token` }));
      }, delayMs);
      return;
    }
    if (req.method === 'POST' && req.url === '/token') {
      tokenPosts++;
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          access_token: 'at-new-0123456789',
          refresh_token: 'rt-new-0123456789',
          token_type: 'Bearer',
          expires_in: 3600,
        }),
      );
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const origin = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  return {
    origin,
    metadataAsked: () => metadataAsked,
    tokenPosts: () => tokenPosts,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

test('stop() while a due refresh resolves its metadata: the refresh is called off before its token request (nothing sent, nothing stored)', async () => {
  const as = await slowMetadataAs(600);
  const h = home({ demo: { type: 'http', url: URL_ } });
  const key = h.key('demo');
  const entry = {
    accessToken: 'at-demo-0123456789',
    refreshToken: 'rt-0123456789',
    expiresAt: Date.now() + 60_000, // inside the refresh window: due now
    clientId: 'client-1',
    discoveryState: { authorizationServerUrl: as.origin },
  };
  h.store({ [key]: entry });
  const { k, actions } = countingKeeper(h, { autoClearStaleEntries: false });
  try {
    void k.start();
    const t = Date.now();
    while (as.metadataAsked() === 0) {
      if (Date.now() - t > 5000) throw new Error(`the keeper never asked for the metadata: ${JSON.stringify(actions)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await k.stop();
    // the metadata answer arrives after stop(): a stopped keeper's refresh must not go on to the token request
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(as.tokenPosts(), 0, 'no token request after stop()');
    const stored = JSON.parse(fs.readFileSync(h.paths.credentialsFile, 'utf8')).mcpOAuth[key];
    assert.equal(stored.refreshToken, 'rt-0123456789', 'the entry is as it was');
    assert.deepEqual(
      actions.filter((a) => a.type === 'refreshed'),
      [],
    );
  } finally {
    await k.stop();
    await as.close();
    h.cleanup();
  }
});
