import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withHome, runCliAsync, type TempHome } from '../helpers/home';
import { signedIn, entryOf, patchEntry, callWhoami } from '../helpers/oauth';
import { useStack } from '../helpers/stack';

const stack = useStack();

async function expiredHome(h: TempHome): Promise<void> {
  await signedIn({ demo: { type: 'http', url: stack.mcpUrl } })(h);
  patchEntry(h, 'demo', { expiresAt: Date.now() - 1000 });
}

/**
 * SIGKILL the holder at each step of the transaction. Always: the store is valid JSON holding the old or
 * the new generation (never torn), and the lock is reclaimed at once. After (a) the next refresh succeeds.
 * After (b), (c), (d) the authorization server has already rotated the refresh token we still hold (the
 * response was lost with the process). The intent record the dead process wrote before its POST says so: the
 * next refresh never sends that token (no replay, so no reuse detection and no revoked grant), drops it from
 * the entry so that Claude Code cannot replay it either, and the row asks for a sign-in (token-spent).
 */
for (const [step, label, expectNext] of [
  ['after-lock', '(a) after taking the lock', 'refreshed'],
  ['after-post', '(b) after the POST was sent', 'needs-auth'],
  ['after-response', '(c) after the response, before the write', 'needs-auth'],
  ['mid-write', '(d) between the temp write and the rename', 'needs-auth'],
] as const) {
  test(
    `crash ${label}: store intact (old or new generation), lock reclaimed, next refresh ${expectNext === 'refreshed' ? 'succeeds' : 'refuses the possibly spent token (no replay)'}`,
    { timeout: 60_000 },
    async () => {
      await withHome(expiredHome, async (h) => {
        const rt0 = entryOf(h, 'demo').entry.refreshToken;
        const reuses0 = stack.counters.reusesDetected;
        const revoked0 = stack.counters.grantsRevoked;
        stack.mode.tokenDelayMs = step === 'after-post' ? 300 : 0;
        const dead = await runCliAsync(['refresh', 'demo'], {
          env: { ...h.env, MCP_AUTH_TEST_CRASH_AT: step },
          cwd: h.project,
        });
        stack.mode.tokenDelayMs = 0;
        assert.equal(dead.code, 128, `killed (${dead.stderr})`);
        const text = fs.readFileSync(path.join(h.claudeDir, '.credentials.json'), 'utf8');
        const parsed = JSON.parse(text); // never torn
        const key = Object.keys(parsed.mcpOAuth)[0];
        assert.equal(parsed.mcpOAuth[key].refreshToken, rt0, 'the old generation (the new one was never written)');
        if (step === 'mid-write')
          assert.ok(
            fs.readdirSync(h.claudeDir).some((n) => n.startsWith('.credentials.json.tmp.')),
            'the temp file is what is left',
          );
        await new Promise((r) => setTimeout(r, step === 'after-post' ? 600 : 50)); // let the AS finish the orphaned request
        const next = await runCliAsync(['refresh', 'demo', '--json'], { env: h.env, cwd: h.project });
        assert.ok(next.ms < 15_000, `lock reclaimed at once (${next.ms} ms)`);
        const result = JSON.parse(next.stdout).results[0];
        if (expectNext === 'refreshed') {
          assert.equal(next.code, 0, next.stderr);
          assert.equal(result.result, 'refreshed');
          assert.equal((await callWhoami(stack.mcpUrl, entryOf(h, 'demo').entry.accessToken)).sub, 'test-user');
        } else {
          assert.equal(next.code, 1);
          assert.equal(result.code, 'token-spent');
          assert.equal(entryOf(h, 'demo').entry.refreshToken, undefined, 'the possibly spent token left the entry');
          const st = JSON.parse((await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project })).stdout);
          assert.equal(st.servers[0].state, 'needs-auth');
          assert.equal(st.servers[0].reason, 'token-spent');
          assert.equal(stack.counters.reusesDetected, reuses0, 'nothing replayed');
          assert.equal(stack.counters.grantsRevoked, revoked0, 'no grant revoked');
        }
        assert.deepEqual(
          fs.readdirSync(h.claudeDir).filter((n) => n.endsWith('.lock')),
          [],
          'no lock left',
        );
      });
    },
  );
}
