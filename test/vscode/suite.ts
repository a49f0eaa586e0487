/**
 * Runs inside a real VS Code extension host (code-server, extensionTestsPath). Prints TAP-like lines and
 * "N passed, N failed"; rejects when anything failed (code-server then exits the run with code 1).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { McpAuthApi } from '../../src/extension/main';

const info = JSON.parse(process.env.MCP_AUTH_TEST_INFO ?? '{}') as {
  home: string;
  expected: Record<string, string>;
  /** the real Claude Code (node_modules/.bin/claude), through a wrapper that sets the test browser as BROWSER */
  claudeBin: string;
  /** where the test browser (the code-server environment's BROWSER) writes how each sign-in ended */
  browserLog: string;
  /** an MCP server on an oauth-stack at 127.0.0.1 (Claude Code refuses plain http to any other address) */
  claudeLoginUrl: string;
};

async function until<T>(what: string, fn: () => T | undefined | false, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Run `fn` with one of our settings changed (user scope), then set it back. */
async function withSetting(key: string, value: unknown, fn: () => Promise<void>): Promise<void> {
  const config = () => vscode.workspace.getConfiguration('mcpAuth');
  const before = config().inspect(key)?.globalValue;
  await config().update(key, value, vscode.ConfigurationTarget.Global);
  try {
    await fn();
  } finally {
    await config().update(key, before, vscode.ConfigurationTarget.Global);
  }
}

export async function run(): Promise<void> {
  let passed = 0;
  let failed = 0;
  const t = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
      passed++;
      console.log(`ok - ${name}`);
    } catch (e) {
      failed++;
      console.log(`not ok - ${name}: ${(e as Error).stack ?? e}`);
    }
  };
  const claudeDir = path.join(info.home, '.claude');
  const cacheFile = path.join(claudeDir, 'mcp-needs-auth-cache.json');
  const storeFile = path.join(claudeDir, '.credentials.json');
  let api!: McpAuthApi;

  await t('the extension activates and loads the fixture model', async () => {
    const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'mcp-auth-status');
    assert.ok(ext, 'extension present');
    api = (await ext.activate()) as McpAuthApi;
    assert.ok(ext.isActive);
    await until('a model', () => api.model());
    console.log(`ok - activation of our code took ${api.activationMs.toFixed(1)} ms (goal <= 30 ms)`);
  });

  await t('every command in package.json is registered', async () => {
    const all = await vscode.commands.getCommands(true);
    const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'mcp-auth-status')!;
    for (const c of ext.packageJSON.contributes.commands as { command: string }[])
      assert.ok(all.includes(c.command), c.command);
  });

  await t('the tree model has each fixture server in its state', async () => {
    const m = await api.reload();
    const states = Object.fromEntries(m.servers.map((r) => [r.config.name, r.status.state]));
    for (const [name, state] of Object.entries(info.expected))
      assert.equal(states[name], state, `${name}: ${states[name]}`);
  });

  await t('Clear Stale Entry on the blocked row removes its cache entry, and only that', async () => {
    const before = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
    assert.ok(before.blocked);
    const removed = await vscode.commands.executeCommand<string[]>('mcpAuth.clearServerEntry', { name: 'blocked' });
    assert.deepEqual(removed, ['blocked']);
    const after = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
    assert.equal(after.blocked, undefined);
    delete before.blocked;
    assert.deepEqual(after, before);
    await until(
      'blocked → signed-in',
      () => api.model()?.servers.find((r) => r.config.name === 'blocked')?.status.state === 'signed-in',
    );
  });

  await t(
    'Refresh on the expired live server refreshes against the real authorization server and updates the store',
    async () => {
      const key = Object.keys(JSON.parse(fs.readFileSync(storeFile, 'utf8')).mcpOAuth).find((k) =>
        k.startsWith('live|'),
      )!;
      const rt0 = JSON.parse(fs.readFileSync(storeFile, 'utf8')).mcpOAuth[key].refreshToken;
      const out = await vscode.commands.executeCommand<{ result: string }>('mcpAuth.refreshServer', { name: 'live' });
      assert.ok(out && (out.result === 'refreshed' || out.result === 'adopted'), JSON.stringify(out));
      const e = JSON.parse(fs.readFileSync(storeFile, 'utf8')).mcpOAuth[key];
      assert.notEqual(e.refreshToken, rt0);
      assert.ok(e.expiresAt > Date.now() + 600_000);
      await until(
        'live → signed-in',
        () => api.model()?.servers.find((r) => r.config.name === 'live')?.status.state === 'signed-in',
      );
    },
  );

  await t(
    'Sign In with Claude Code on a needs-auth row: the real claude mcp login in a terminal, then signed-in and its entry gone',
    async () => {
      const rowOf = (name: string) => api.model()?.servers.find((r) => r.config.name === name);
      const cj = path.join(info.home, '.claude.json');
      const conf = JSON.parse(fs.readFileSync(cj, 'utf8'));
      conf.mcpServers['cc-login'] = { type: 'http', url: info.claudeLoginUrl };
      fs.writeFileSync(cj, JSON.stringify(conf, null, 2));
      fs.writeFileSync(
        cacheFile,
        JSON.stringify({ ...JSON.parse(fs.readFileSync(cacheFile, 'utf8')), 'cc-login': { timestamp: Date.now() } }),
      );
      await api.reload();
      await until('cc-login needs-auth, with a needs-auth entry', () => {
        const r = rowOf('cc-login');
        return r?.status.state === 'needs-auth' && !!r.status.cache;
      });
      const opened: vscode.Terminal[] = [];
      const sub = vscode.window.onDidOpenTerminal((term) => opened.push(term));
      try {
        await withSetting('claudePath', info.claudeBin, async () => {
          let timer: NodeJS.Timeout | undefined;
          const out = await Promise.race([
            vscode.commands.executeCommand<{ signedIn: boolean; cleared: string[]; exitCode?: number }>(
              'mcpAuth.signInWithClaudeCode',
              { name: 'cc-login' },
            ),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => {
                const log = fs.existsSync(info.browserLog)
                  ? fs.readFileSync(info.browserLog, 'utf8')
                  : '(no browser log)';
                reject(
                  new Error(`the command did not resolve in 90 s; terminals: ${opened.map((x) => x.name)}; ${log}`),
                );
              }, 90_000);
            }),
          ]).finally(() => clearTimeout(timer));
          const term = opened.find((x) => x.name === 'Claude Code: sign in to cc-login');
          assert.ok(term, `a terminal named for the server: ${opened.map((x) => x.name)}`);
          assert.ok(term.exitStatus, 'the command resolved after its terminal closed');
          const diag = () => {
            const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : `(no ${f})`);
            return read(info.browserLog)
              .replace(/[A-Za-z0-9_.~-]{24,}/g, '…')
              .replace(/\n/g, ' | ');
          };
          assert.equal(term.exitStatus.code, 0, diag());
          assert.ok(out, 'an outcome');
          assert.equal(out.exitCode, 0);
          assert.equal(out.signedIn, true);
        });
      } finally {
        sub.dispose();
      }
      assert.match(
        fs.readFileSync(info.browserLog, 'utf8'),
        /^done 200 \/callback$/m,
        'the test browser reached the callback',
      );
      assert.equal(
        JSON.parse(fs.readFileSync(cacheFile, 'utf8'))['cc-login'],
        undefined,
        'its needs-auth entry is gone',
      );
      const store = JSON.parse(fs.readFileSync(storeFile, 'utf8'));
      const key = Object.keys(store.mcpOAuth).find((k) => k.startsWith('cc-login|'))!;
      assert.ok(store.mcpOAuth[key].accessToken && store.mcpOAuth[key].refreshToken, 'Claude Code stored the tokens');
      assert.equal(rowOf('cc-login')?.status.state, 'signed-in', 'the model was reloaded before the command resolved');
    },
  );

  await t('the status-bar item follows the cache file on disk (no command involved)', async () => {
    // leave only servers that are fine, then write and remove a needs-auth entry from outside
    const cj = path.join(info.home, '.claude.json');
    const conf = JSON.parse(fs.readFileSync(cj, 'utf8'));
    conf.mcpServers = { live: conf.mcpServers.live };
    conf.projects = {};
    fs.writeFileSync(cj, JSON.stringify(conf, null, 2));
    fs.rmSync(path.join(info.home, 'code', 'proj', '.mcp.json'), { force: true });
    await until('status bar hidden', () => api.model()?.servers.length === 1 && !api.statusBar().visible);
    fs.writeFileSync(cacheFile, JSON.stringify({ live: { timestamp: Date.now() + 5000 } }));
    await until('status bar shown', () => api.statusBar().visible && api.statusBar().text.includes('1 blocked'));
    fs.writeFileSync(cacheFile, '{}');
    await until('status bar hidden again', () => !api.statusBar().visible);
  });

  await t(
    'proactive refresh: a token entering the window is refreshed by the window itself, through the lock',
    async () => {
      const store = JSON.parse(fs.readFileSync(storeFile, 'utf8'));
      const key = Object.keys(store.mcpOAuth).find((k) => k.startsWith('live|'))!;
      store.mcpOAuth[key].expiresAt = Date.now() + 60_000; // inside the 300 s window
      const rt0 = store.mcpOAuth[key].refreshToken;
      fs.writeFileSync(storeFile, JSON.stringify(store, null, 2), { mode: 0o600 });
      await withSetting('proactiveRefresh', true, async () => {
        await until(
          'the scheduler refreshed live',
          () => {
            const e = JSON.parse(fs.readFileSync(storeFile, 'utf8')).mcpOAuth[key];
            return e.refreshToken !== rt0 && e.expiresAt > Date.now() + 600_000;
          },
          30_000,
        );
        await until(
          'live → signed-in',
          () => api.model()?.servers.find((r) => r.config.name === 'live')?.status.state === 'signed-in',
        );
      });
    },
  );

  await t(
    'auto-unblock: a blocked row whose server accepts the stored token turns signed-in with no click',
    async () => {
      fs.writeFileSync(cacheFile, JSON.stringify({ live: { timestamp: Date.now() } }));
      await until(
        'live blocked',
        () => api.model()?.servers.find((r) => r.config.name === 'live')?.status.state === 'blocked',
      );
      await withSetting('autoClearStaleEntries', true, async () => {
        await until(
          'the keeper removed the stale entry',
          () => !JSON.parse(fs.readFileSync(cacheFile, 'utf8')).live,
          20_000,
        );
        await until(
          'live → signed-in',
          () => api.model()?.servers.find((r) => r.config.name === 'live')?.status.state === 'signed-in',
        );
      });
    },
  );

  await t('Copy Diagnostics is redacted', async () => {
    const text = await vscode.commands.executeCommand<string>('mcpAuth.copyDiagnostics');
    assert.match(text ?? '', /live \[signed-in\]/);
    const store = JSON.parse(fs.readFileSync(storeFile, 'utf8'));
    for (const e of Object.values<{ accessToken?: string; refreshToken?: string }>(store.mcpOAuth)) {
      if (e.accessToken) assert.ok(!text!.includes(e.accessToken));
      if (e.refreshToken) assert.ok(!text!.includes(e.refreshToken));
    }
  });

  console.log(`${passed} passed, ${failed} failed`);
  if (failed) throw new Error(`${failed} extension test(s) failed`);
}
