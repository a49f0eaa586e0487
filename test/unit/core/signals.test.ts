import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const HOLDER = path.join(__dirname, '..', '..', 'helpers', 'signal-holder.js');

/** Start the holder, wait for `held`, send the signals, and report how it ended. */
async function run(mode: string, signals: NodeJS.Signals[], gapMs = 100) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-signals-'));
  const marker = path.join(dir, 'marker');
  const child = spawn(process.execPath, [HOLDER, mode, marker], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const t0 = Date.now();
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; marker: boolean }>(
    (resolve) =>
      child.on('close', (code, signal) =>
        resolve({ code, signal, ms: Date.now() - t0, marker: fs.existsSync(marker) }),
      ),
  );
  while (!out.includes('held')) await new Promise((r) => setTimeout(r, 10));
  for (const s of signals) {
    child.kill(s);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  const r = await ended;
  fs.rmSync(dir, { recursive: true, force: true });
  return { ...r, out };
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  test(`${sig} during a hold is delivered after the write: the process dies of ${sig}, the marker is written`, async () => {
    const r = await run('hold', [sig]);
    assert.equal(r.signal, sig, r.out);
    assert.ok(r.marker, 'the write finished before the process died');
  });
}

test('a hold is bounded: a signal is delivered once the bound passes, even if the hold is never released', async () => {
  const r = await run('bound', ['SIGINT']);
  assert.equal(r.signal, 'SIGINT', r.out);
  assert.ok(r.ms < 5_000, `delivered after the 300 ms bound (${r.ms} ms)`);
});

test('a second signal during a hold calls the notice (what it waits for), and the process still finishes the write', async () => {
  const r = await run('second', ['SIGINT', 'SIGINT']);
  assert.match(r.out, /notice SIGINT refresh demo/);
  assert.equal(r.signal, 'SIGINT');
  assert.ok(r.marker);
});

test("a command's own handler: its second signal exits with 1 only after the hold is released", async () => {
  const r = await run('app', ['SIGINT', 'SIGINT']);
  assert.match(r.out, /stopping/);
  assert.equal(r.code, 1, r.out);
  assert.ok(r.marker, 'exited after the write');
});
