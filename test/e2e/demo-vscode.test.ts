/**
 * `npm run demo:vscode -- --no-open` as a newcomer runs it: it prints an address; that address in Chromium shows
 * the MCP Auth view with its rows (the stale entry cleared with no click); Ctrl-C stops everything and removes
 * the demo HOME.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { ROOT } from '../helpers/home';
import { launchBrowser, openView, rowsOf, screenshotDir, setup, waitRow } from './harness';

test(
  'demo:vscode: the printed address shows the tree with its rows; Ctrl-C stops it and removes its HOME',
  { timeout: 300_000 },
  async () => {
    const cache = setup();
    const demo = spawn(process.execPath, [path.join(ROOT, 'out', 'scripts', 'demo-vscode.js'), '--no-open'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    demo.stdout.on('data', (d) => (out += d));
    demo.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => demo.on('close', r));
    const url = await new Promise<string>((resolve, reject) => {
      const t = setInterval(() => {
        const m = /^Open (http\S+)$/m.exec(out);
        if (m) {
          clearInterval(t);
          resolve(m[1]);
        }
        if (demo.exitCode !== null) {
          clearInterval(t);
          reject(new Error(`the demo ended: ${out}`));
        }
      }, 100);
    });
    const home = /^HOME (\S+)$/m.exec(out)![1];
    const b = await launchBrowser(cache);
    try {
      const page = b.context.pages()[0] ?? (await b.context.newPage());
      await page.setViewportSize({ width: 1400, height: 860 });
      await page.goto(url);
      const view = await openView(page);
      // the keeper clears the stale entry with no click: `blocked` turns signed-in
      await waitRow(page, view, 'blocked', (d) => /^expires in/.test(d), 60_000);
      const rows = await rowsOf(view);
      assert.match(rows.linear?.description ?? '', /^expires in/);
      assert.match(rows['short-lived']?.description ?? '', /^expires in/);
      assert.match(rows['sign-me-in']?.description ?? '', /needs sign-in/);
      assert.equal(rows.admin?.icon, 'shield');
      assert.match(rows.files?.description ?? '', /stdio/);
      await page.screenshot({ path: path.join(screenshotDir(), 'demo-vscode.png') });
    } finally {
      await b.close();
      demo.kill('SIGINT');
    }
    assert.equal(await exited, 0, out);
    assert.equal(fs.existsSync(home), false, 'the demo HOME is removed');
    await assert.rejects(fetch(url), 'code-server is stopped');
  },
);
