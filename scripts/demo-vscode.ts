/**
 * npm run demo:vscode [-- --no-open] — see the extension in a real VS Code (code-server) in one command.
 *
 * A local OAuth server and MCP servers (the oauth-stack fixture), a throwaway HOME with MCP servers in every
 * state that matters, code-server on 127.0.0.1 with the freshly built extension installed and that HOME; it
 * prints the address to open (and opens it unless --no-open). Ctrl-C stops everything and removes the HOME.
 * The first run on a machine installs Chromium, code-server and Node 24 once (test/e2e/setup.sh, cached; it runs
 * the nested npm installs without the outer `npm run`'s npm_config_* description of itself).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openBrowser } from '../src/cli/auth';
import { makeHome } from '../test/helpers/home';
import { cliLogin, entryOf, readStore, startStack, writeServers, writeStore } from '../test/helpers/oauth';
import { buildVsix, setup, startCodeServer } from '../test/e2e/harness';

const say = (s: string) => process.stdout.write(`${s}\n`);

async function main(): Promise<void> {
  const noOpen = process.argv.includes('--no-open');
  const cacheDir =
    process.env.MCP_AUTH_E2E_CACHE ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(process.env.HOME ?? '', '.cache'), 'mcp-auth-e2e');
  if (!fs.existsSync(path.join(cacheDir, 'cs', 'node_modules', '.bin', 'code-server'))) {
    say(
      'First run: installing Chromium and libkrb5-dev from Debian (apt-get, as root or through sudo), Node 24 and code-server from npm, once (about 1.2 GB, 4–5 min)…',
    );
  }
  const cache = setup();
  // 127.0.0.2: loopback, but not an address code-server rewrites through its port proxy when VS Code opens it
  const stack = await startStack({ host: '127.0.0.2' });
  const shortLived = await startStack({ host: '127.0.0.2', accessTokenTTL: 60 });
  const h = makeHome();
  let stopping = false;
  let stopCs = () => {};
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    stopCs();
    await stack.close();
    await shortLived.close();
    h.cleanup();
    say('Stopped; the demo HOME is removed.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  try {
    say(`HOME ${h.home}`);
    const login = async (name: string) => {
      const r = await cliLogin(h, name, ['--timeout', '30']);
      if (r.code !== 0) throw new Error(`signing in ${name} failed: ${r.stderr}`);
    };
    writeServers(h, {
      linear: { type: 'http', url: stack.mcpUrl },
      'short-lived': { type: 'http', url: shortLived.mcpUrl },
      blocked: { type: 'http', url: stack.mcpUrl },
      admin: { type: 'http', url: `${stack.issuer}/mcp-admin` },
      'sign-me-in': { type: 'http', url: stack.mcpUrl, oauth: { scopes: 'mcp' } },
      files: { type: 'stdio', command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', h.home] },
    });
    for (const name of ['linear', 'short-lived', 'blocked', 'admin']) await login(name);
    // admin: Claude Code saw a 403 insufficient_scope and asked for more (as `claude mcp list` writes it)
    const s = readStore(h);
    s.mcpOAuth[entryOf(h, 'admin').key].stepUpScope = 'mcp mcp:admin offline_access';
    writeStore(h, s);
    // blocked: a fresh needs-auth entry although the stored token works; the keeper will clear it by itself
    fs.writeFileSync(
      path.join(h.claudeDir, 'mcp-needs-auth-cache.json'),
      JSON.stringify({ blocked: { timestamp: Date.now() } }),
    );
    say('Building the extension (.vsix)…');
    const vsix = buildVsix();
    const cs = await startCodeServer({
      cache,
      home: h.home,
      folder: h.project,
      vsix,
      settings: { 'mcpAuth.proactiveRefresh': true, 'mcpAuth.autoClearStaleEntries': true },
    });
    stopCs = () => cs.stop();
    say('');
    say('MCP servers in this demo: linear (signed in), short-lived (60-s tokens: watch it refresh itself),');
    say('blocked (a stale needs-auth entry: watch it clear itself), admin (needs an extra scope: Grant Additional');
    say('Access), sign-me-in (click Sign In: the local authorization page approves), files (stdio).');
    say('');
    say(`Open ${cs.url}`);
    say('Ctrl-C stops everything.');
    if (!noOpen) openBrowser(cs.url);
  } catch (e) {
    process.stderr.write(`demo:vscode: ${(e as Error).message}\n`);
    await stop(1);
  }
}

void main();
