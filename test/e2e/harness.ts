/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * A real VS Code (code-server from npm, on Node 24 from npm) with our .vsix installed, a throwaway HOME
 * seeded from test/fixtures/home (time-shifted to now), the oauth-stack for the refreshable servers, and
 * headless Debian Chromium driven by playwright-core. See ../shared/vscode-e2e.md for the recipe.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, FIXTURES, cleanEnv } from '../helpers/home';
import { cliLogin, writeServers, patchEntry, type Stack } from '../helpers/oauth';

export const EXT_ID = 'mcp-auth-status.mcp-auth-status';

let shots: string | undefined;
/**
 * Where the screenshots go: the README's own (media/readme, tracked) only with UPDATE_SCREENSHOTS=1, else a
 * temporary folder (named once on stdout), so that a test run leaves the clone clean.
 */
export function screenshotDir(): string {
  if (!shots) {
    if (process.env.UPDATE_SCREENSHOTS === '1') shots = path.join(ROOT, 'media', 'readme');
    else {
      shots = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-e2e-shots-'));
      console.log(`screenshots in ${shots} (UPDATE_SCREENSHOTS=1 writes media/readme)`);
    }
    fs.mkdirSync(shots, { recursive: true });
  }
  return shots;
}

export function setup(): string {
  const out = execFileSync('bash', [path.join(ROOT, 'test/e2e/setup.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.trim().split('\n').pop()!;
}

export function buildVsix(): string {
  execFileSync('npm', ['run', '--silent', 'package'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  return path.join(ROOT, 'mcp-auth-status.vsix');
}

export function playwright(cache: string): any {
  return createRequire(path.join(cache, 'cs', 'package.json'))('playwright-core');
}

const FIXTURE_NOW = 1795550000000;

/** Copy the fixture HOME and move every timestamp in it by (now - the fixture's now). */
export function fixtureHome(): { home: string; project: string } {
  const home = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-e2e-home-')));
  fs.cpSync(path.join(FIXTURES, 'home'), home, { recursive: true });
  const cj = path.join(home, '.claude.json');
  fs.writeFileSync(cj, fs.readFileSync(cj, 'utf8').split('__HOME__').join(home));
  const delta = Date.now() - FIXTURE_NOW;
  const credsFile = path.join(home, '.claude', '.credentials.json');
  const creds = JSON.parse(fs.readFileSync(credsFile, 'utf8'));
  for (const e of Object.values<any>(creds.mcpOAuth)) {
    if (typeof e.expiresAt === 'number' && e.expiresAt > 0) e.expiresAt += delta;
    if (e.discoveryState?.tokenlessRejectedAt) e.discoveryState.tokenlessRejectedAt += delta;
  }
  fs.writeFileSync(credsFile, JSON.stringify(creds, null, 2), { mode: 0o600 });
  const cacheFile = path.join(home, '.claude', 'mcp-needs-auth-cache.json');
  const cache = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
  for (const e of Object.values<any>(cache)) e.timestamp += delta;
  fs.writeFileSync(cacheFile, JSON.stringify(cache));
  fs.rmSync(path.join(home, 'managed'), { recursive: true, force: true });
  return { home, project: path.join(home, 'code', 'proj') };
}

/**
 * The fixture's `expiring` and `refreshing` entries expire 120 s and 30 s after the copy: on a loaded machine the
 * window has not shown them yet when they already expired. Right before code-server starts, give both 4 min (still
 * inside the 5-min refresh window, so still `expiring`).
 */
export function restartExpiringClock(home: string): void {
  const credsFile = path.join(home, '.claude', '.credentials.json');
  const creds = JSON.parse(fs.readFileSync(credsFile, 'utf8'));
  for (const [key, e] of Object.entries<any>(creds.mcpOAuth))
    if (/^(expiring|refreshing)\|/.test(key)) e.expiresAt = Date.now() + 240_000;
  fs.writeFileSync(credsFile, JSON.stringify(creds, null, 2), { mode: 0o600 });
}

/** Add the live servers (on the oauth-stack) to a HOME: `live` signed in then expired, `fresh-login` never signed in. */
export async function addLiveServers(home: string, project: string, stack: Stack): Promise<void> {
  const h = { home, claudeDir: path.join(home, '.claude'), project, env: cleanEnv(home), cleanup() {} };
  writeServers(h, { live: { type: 'http', url: stack.mcpUrl } });
  const r = await cliLogin(h, 'live', ['--timeout', '30']);
  if (r.code !== 0) throw new Error(`seeding login failed: ${r.stderr}`);
  patchEntry(h, 'live', { expiresAt: Date.now() - 60_000 });
  writeServers(h, { 'fresh-login': { type: 'http', url: `${stack.issuer}/mcp`, oauth: { scopes: 'mcp' } } });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export interface CodeServer {
  url: string;
  base: string;
  stop(): void;
  log: string;
}

export const SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'workbench.tips.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'workbench.enableExperiments': false,
  'git.enabled': false,
  'security.workspace.trust.enabled': false,
  'workbench.colorTheme': 'Default Dark Modern',
  'window.commandCenter': false,
  'workbench.layoutControl.enabled': false,
  // the tests drive every refresh and clearing themselves; the keeper (proactive refresh, auto-unblock) is
  // covered by tests of its own that turn it on
  'mcpAuth.proactiveRefresh': false,
  'mcpAuth.autoClearStaleEntries': false,
};

/** Start code-server (its own process group) with the .vsix installed, HOME = the fixture HOME. */
export async function startCodeServer(o: {
  cache: string;
  home: string;
  folder: string;
  vsix?: string;
  smoke?: boolean;
  env?: NodeJS.ProcessEnv;
  /** user settings over SETTINGS */
  settings?: Record<string, unknown>;
}): Promise<CodeServer> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-cs-'));
  const node24 = path.join(o.cache, 'node24', 'node_modules', 'node', 'bin');
  const cs = path.join(o.cache, 'cs', 'node_modules', '.bin', 'code-server');
  const env: NodeJS.ProcessEnv = {
    ...cleanEnv(o.home),
    PATH: `${node24}:${process.env.PATH}`,
    XDG_CONFIG_HOME: path.join(work, 'xdg', 'config'),
    XDG_DATA_HOME: path.join(work, 'xdg', 'data'),
    XDG_CACHE_HOME: path.join(work, 'xdg', 'cache'),
    ...o.env,
  };
  const udd = path.join(work, 'udd');
  const exts = path.join(work, 'exts');
  fs.mkdirSync(exts, { recursive: true });
  // code-server windows are remote windows: a `machine`-scoped setting (mcpAuth.autoClearStaleEntries,
  // pasteAfterSeconds, …) is read from the remote's Machine/settings.json only, never from User/settings.json
  for (const dir of ['User', 'Machine']) {
    fs.mkdirSync(path.join(udd, dir), { recursive: true });
    fs.writeFileSync(path.join(udd, dir, 'settings.json'), JSON.stringify({ ...SETTINGS, ...o.settings }, null, 2));
  }
  if (o.vsix)
    execFileSync(cs, ['--extensions-dir', exts, '--user-data-dir', udd, '--install-extension', o.vsix], {
      env,
      stdio: 'ignore',
    });
  const port = await freePort();
  const args = [
    '--auth',
    'none',
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--user-data-dir',
    udd,
    '--extensions-dir',
    exts,
    '--config',
    path.join(work, 'cs.yaml'),
    '--reconnection-grace-time',
    '30',
  ];
  if (o.smoke) args.push('--vscode-option', 'enable-smoke-test-driver');
  const child: ChildProcess = spawn(cs, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`code-server did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `${base}/?folder=${encodeURIComponent(o.folder)}`,
    base,
    get log() {
      return log;
    },
    stop: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}

export const CHROME_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchBrowser(cache: string): Promise<{ context: any; close(): Promise<void> }> {
  const pw = playwright(cache);
  const udd = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-chrome-'));
  const context = await pw.chromium.launchPersistentContext(udd, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 860 },
    args: CHROME_ARGS,
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      fs.rmSync(udd, { recursive: true, force: true });
    },
  };
}

/** Open the MCP Auth view in the workbench (and widen the side bar); returns its pane. */
export async function openView(page: any): Promise<any> {
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  const tab = page.locator('.part.activitybar').getByRole('tab', { name: /MCP Auth/ });
  await tab.waitFor({ timeout: 60_000 });
  await tab.click();
  const view = page.locator('.pane:has(.pane-header[aria-label^="Servers"])');
  await view.locator('.monaco-list-row').first().waitFor({ timeout: 60_000 });
  // widen the side bar so descriptions are readable in the screenshots (drag the sash, as a user would)
  const sash = await page.locator('.part.sidebar').boundingBox();
  if (sash && sash.width < 500) {
    const x = sash.x + sash.width + 1;
    await page.mouse.move(x, 400);
    await page.mouse.down();
    await page.mouse.move(x + 260, 400, { steps: 8 });
    await page.mouse.up();
  }
  await page.mouse.move(1000, 600);
  return view;
}

/** The view's rows by label: description and codicon. */
export async function rowsOf(view: any): Promise<Record<string, { description: string; icon: string }>> {
  return view.evaluate((el: any) => {
    const out: Record<string, { description: string; icon: string }> = {};
    for (const r of el.querySelectorAll('.monaco-list-row') as any[]) {
      const name = r.querySelector('.label-name')?.textContent ?? '';
      const icon =
        [...(r.querySelector('.custom-view-tree-node-item-icon')?.classList ?? [])].find(
          (c) => c.startsWith('codicon-') && c !== 'codicon-',
        ) ?? '';
      out[name] = {
        description: r.querySelector('.label-description')?.textContent ?? '',
        icon: icon.replace('codicon-', ''),
      };
    }
    return out;
  });
}

/** Wait until a row's description satisfies `pred`. */
export async function waitRow(
  page: any,
  view: any,
  name: string,
  pred: (d: string) => boolean,
  ms = 30_000,
): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const d = (await rowsOf(view))[name]?.description ?? '';
    if (pred(d)) return d;
    if (Date.now() > end) throw new Error(`row ${name}: "${d}"`);
    await page.waitForTimeout(50);
  }
}
