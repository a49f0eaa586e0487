import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withHome, runCliAsync, sleep, waitFor } from '../helpers/home';
import { signedIn, entryOf } from '../helpers/oauth';
import { useStack } from '../helpers/stack';

/**
 * A window closed (deactivate) while a refresh a *command* started (Refresh, Refresh All) is under way — not the
 * keeper's: deactivate settles the window's in-flight registry (src/extension/operations.ts), so the answer is
 * stored before the host goes away, and the next refresher finds a live token. Before the registry, deactivate
 * awaited only the keeper's stop, and the host ended mid-refresh: the token sent stayed behind as possibly spent.
 * The extension host is the stand-in of the interruption sweep (test/helpers/keeper-host.ts), with real processes
 * against the real authorization server.
 */
const stack = useStack();
const PAUSE_MS = 1500;

for (const [step, where] of [
  ['intent-recorded', 'process'],
  ['post-sent', 'as'],
] as const) {
  test(
    `a command's refresh at ${step} when the window closes: deactivate waits, the answer is stored, no reuse`,
    {
      timeout: 60_000,
    },
    async () => {
      await withHome(signedIn({ demo: { type: 'http', url: stack.mcpUrl } }), async (h) => {
        const rt0 = entryOf(h, 'demo').entry.refreshToken as string;
        if (where === 'as') stack.mode.holdFor[rt0] = { afterMs: PAUSE_MS };
        const reuse0 = stack.counters.reusesDetected;
        const revoked0 = stack.counters.grantsRevoked;
        const granted0 = stack.counters.tokenSuccess.refresh_token ?? 0;
        const child = fork(
          path.join(__dirname, '..', 'helpers', 'keeper-host.js'),
          [h.home, h.project, where === 'process' ? step : '', String(PAUSE_MS), 'command', 'demo'],
          { env: { ...h.env, HOME: h.home }, cwd: h.project, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
        );
        let stderr = '';
        child.stderr!.on('data', (d) => (stderr += d));
        child.stdout!.resume();
        const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
        try {
          if (where === 'process')
            await waitFor(`step ${step}`, () => stderr.includes(`mcp-auth-test: at ${step}`), 30_000);
          else await waitFor('the grant', () => (stack.counters.tokenSuccess.refresh_token ?? 0) > granted0, 30_000);
          child.send('deactivate');
          assert.equal(await exited, 0, stderr);
        } finally {
          child.kill();
          delete stack.mode.holdFor[rt0];
        }
        await sleep(where === 'as' ? PAUSE_MS : 50);
        assert.match(stderr, /command refresh: refreshed/, 'the command saw its refresh through');
        const e = entryOf(h, 'demo').entry;
        assert.notEqual(e.refreshToken, rt0, `the answer was stored (${stderr})`);
        const next = await runCliAsync(['refresh', '--force', 'demo', '--json'], { env: h.env, cwd: h.project });
        assert.equal(JSON.parse(next.stdout).results[0].result, 'refreshed', next.stderr);
        assert.equal(stack.counters.reusesDetected - reuse0, 0, 'no refresh token presented twice');
        assert.equal(stack.counters.grantsRevoked - revoked0, 0, 'no grant revoked');
        assert.deepEqual(
          fs.readdirSync(h.claudeDir).filter((n) => n.endsWith('.lock')),
          [],
          'no lock left',
        );
      });
    },
  );
}
