/**
 * npm run test:e2e — a real VS Code (code-server) in headless Chromium:
 *  1. the extension's integration tests inside a real extension host (test/vscode/suite.ts);
 *  2. the UI scenarios of test/e2e/ui.ts, with screenshots for the README.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, FIXTURES } from '../helpers/home';
import { startStack, type Stack } from '../helpers/oauth';
import { setup, fixtureHome, addLiveServers, startCodeServer, launchBrowser } from './harness';

let cache: string;
let stack: Stack;
before(async () => {
  cache = setup();
  stack = await startStack();
});
after(async () => { await stack?.close(); });

test('extension integration tests in a real VS Code extension host', { timeout: 240_000 }, async () => {
  const { home, project } = fixtureHome();
  await addLiveServers(home, project, stack);
  const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'home', 'expected.json'), 'utf8')).servers;
  delete expected.refreshing; // its lock directory is not part of the copied fixture
  expected.refreshing = 'expiring';
  expected.live = 'expired';
  const cs = await startCodeServer({ cache, home, folder: project, smoke: true, env: { MCP_AUTH_TEST_INFO: JSON.stringify({ home, expected }), API_TOKEN: 'x' } });
  const b = await launchBrowser(cache);
  try {
    const page = b.context.pages()[0] ?? (await b.context.newPage());
    const lines: string[] = [];
    let done!: (code: unknown) => void;
    const exited = new Promise((r) => (done = r));
    await page.exposeFunction('codeAutomationLog', () => {});
    await page.exposeFunction('codeAutomationExit', (code: unknown) => done(code));
    page.on('console', (m: { text(): string }) => {
      const s = m.text().replace(/^%c\s*\S+\s+color:\s*\S+\s*/, '');
      if (/^(ok|not ok) - |^\d+ passed, \d+ failed/.test(s)) { lines.push(s); console.log(`# ${s.split('\n')[0]}`); }
    });
    const auth = new URL(cs.base).host;
    const payload = [['extensionDevelopmentPath', `vscode-remote://${auth}${ROOT}`], ['extensionTestsPath', `vscode-remote://${auth}${path.join(ROOT, 'out/test/vscode/suite.js')}`]];
    await page.goto(`${cs.url}&payload=${encodeURIComponent(JSON.stringify(payload))}`);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise((r) => { timer = setTimeout(() => r('timeout'), 180_000); })]);
    clearTimeout(timer);
    assert.equal(code, 0, `extension tests exited with ${code}\n${lines.join('\n')}\n${cs.log.slice(-3000)}`);
    assert.ok(lines.some((l) => /^\d+ passed, 0 failed/.test(l)), lines.join('\n'));
  } finally {
    await b.close();
    cs.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
});
