import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withHome, runCliAsync, cliFor, sleep, waitFor, type TempHome } from '../helpers/home';
import { signedIn, entryOf, patchEntry } from '../helpers/oauth';
import { runClaude } from '../helpers/claude';
import { useStack } from '../helpers/stack';

/**
 * The interruption sweep (issue 20): a refresh interrupted once at every step of the protocol that matters, by
 * every interruption there is, then ours and a real Claude Code (`claude mcp list` against the same store) go on.
 * For every cell: 0 refresh-token reuse at the authorization server, 0 revoked grants, and either the stored
 * refresh token is live or the row honestly says a sign-in is needed. The table is printed (SECURITY.md).
 *
 * Steps, in protocol order. `process` steps: the refresher says `mcp-auth-test: at <step>` and waits there (test
 * build only). `as` steps: the authorization server has granted (the token sent is spent) and holds its answer:
 * before the status line (`post-sent`), or after the headers with the body on its way (`headers-read`).
 */
const STEPS = [
  ['metadata-resolved', 'process'],
  ['lock-taken', 'process'],
  ['intent-recorded', 'process'],
  ['post-sent', 'as'],
  ['headers-read', 'as'],
  ['body-read', 'process'],
  ['storage-lock-taken', 'process'],
  ['written', 'process'],
  ['renamed', 'process'],
] as const;
type Step = (typeof STEPS)[number][0];
type How = 'SIGINT' | 'SIGTERM' | 'SIGKILL' | 'watch-2xSIGINT' | 'deactivate';
const HOWS: How[] = ['SIGINT', 'SIGTERM', 'SIGKILL', 'watch-2xSIGINT', 'deactivate'];
const PAUSE_MS = 1500;

const stack = useStack();
const rows: { step: Step; how: How; exit: string; outcome: string }[] = [];

/** Has the refresh token been sent (the request is under way) from this point on? */
const afterIntent = (s: Step) => STEPS.findIndex(([n]) => n === s) >= STEPS.findIndex(([n]) => n === 'intent-recorded');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function startInterruptible(
  h: TempHome,
  how: How,
  step: Step,
  where: 'process' | 'as',
): {
  child: ChildProcess;
  reached: Promise<void>;
  exited: Promise<Exit>;
} {
  const env = {
    ...h.env,
    ...(where === 'process' ? { MCP_AUTH_TEST_PAUSE_AT: step, MCP_AUTH_TEST_PAUSE_MS: String(PAUSE_MS) } : {}),
    MCP_AUTH_TEST_JITTER_MS: '1',
  };
  let child: ChildProcess;
  if (how === 'deactivate') {
    child = fork(
      path.join(__dirname, '..', 'helpers', 'keeper-host.js'),
      [h.home, h.project, where === 'process' ? step : '', String(PAUSE_MS)],
      { env: { ...env, HOME: h.home }, cwd: h.project, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
    );
  } else {
    const args = how === 'watch-2xSIGINT' ? ['watch'] : ['refresh', '--force', 'demo', '--json'];
    child = spawn(process.execPath, [cliFor(env), ...args], { env, cwd: h.project, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.resume();
  const exited = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
  const granted0 = stack.counters.tokenSuccess.refresh_token ?? 0;
  const reached = (async () => {
    if (where === 'process') await waitFor(`step ${step}`, () => stderr.includes(`mcp-auth-test: at ${step}`), 30_000);
    else {
      await waitFor('the grant', () => (stack.counters.tokenSuccess.refresh_token ?? 0) > granted0, 30_000);
      await sleep(step === 'headers-read' ? 200 : 50);
    }
  })();
  return { child, reached, exited };
}

async function interrupt(child: ChildProcess, how: How): Promise<void> {
  if (how === 'deactivate') child.send('deactivate');
  else if (how === 'watch-2xSIGINT') {
    child.kill('SIGINT');
    await sleep(150);
    child.kill('SIGINT');
  } else child.kill(how);
}

const storeOf = (h: TempHome) => JSON.parse(fs.readFileSync(path.join(h.claudeDir, '.credentials.json'), 'utf8'));

for (const [step, where] of STEPS) {
  for (const how of HOWS) {
    test(
      `interrupted at ${step} by ${how}: no reuse, no revoked grant, live token or an honest sign-in row`,
      { timeout: 120_000 },
      async () => {
        await withHome(signedIn({ demo: { type: 'http', url: stack.mcpUrl } }), async (h) => {
          const rt0 = entryOf(h, 'demo').entry.refreshToken as string;
          // the keeper (watch, deactivate) refreshes what is due: make it due; `refresh --force` needs nothing
          if (how === 'watch-2xSIGINT' || how === 'deactivate')
            patchEntry(h, 'demo', { expiresAt: Date.now() + 120_000 });
          if (where === 'as')
            stack.mode.holdFor[rt0] = step === 'post-sent' ? { afterMs: PAUSE_MS } : { bodyMs: PAUSE_MS };
          const reuse0 = stack.counters.reusesDetected;
          const revoked0 = stack.counters.grantsRevoked;
          const run = startInterruptible(h, how, step, where);
          await run.reached;
          await interrupt(run.child, how);
          const exit = await run.exited;
          delete stack.mode.holdFor[rt0];
          await sleep(where === 'as' ? PAUSE_MS : 50); // let the authorization server finish an orphaned answer

          const stored = storeOf(h);
          const key = Object.keys(stored.mcpOAuth)[0];
          const e = stored.mcpOAuth[key];
          const sent = afterIntent(step);
          const killed = how === 'SIGKILL';
          // graceful: a refresh whose request is under way finishes its write; SIGKILL after the intent leaves a
          // possibly spent token (the write was cut), unless the rename had already happened
          // deactivate waits for the keeper's refresh once its request is under way (it finishes); before the
          // intent the keeper's stop calls it off, and nothing is sent
          const expectNew = sent && (how === 'deactivate' || !killed || step === 'renamed');
          if (expectNew) assert.notEqual(e.refreshToken, rt0, `the answer was stored (${exit.stderr})`);
          else if (!sent) assert.equal(e.refreshToken, rt0, 'nothing was sent: the token is the one we had');
          if (how === 'SIGINT' || how === 'SIGTERM') assert.equal(exit.signal, how, `died of ${how} (${exit.code})`);
          if (how === 'watch-2xSIGINT')
            assert.equal(exit.code, 130, `watch exited 128 + SIGINT (${exit.code} ${exit.signal})`);
          if (how === 'watch-2xSIGINT' && sent)
            assert.match(exit.stderr, /SIGINT again: exiting once the answer under way is stored/);

          // ours goes on: a refresh either works (the stored refresh token is live) or refuses to send a
          // possibly spent one, and then the row says so
          const requests0 = stack.counters.tokenRequests.refresh_token ?? 0;
          const next = await runCliAsync(['refresh', '--force', 'demo', '--json'], { env: h.env, cwd: h.project });
          const r = JSON.parse(next.stdout).results[0];
          let outcome: string;
          if (!expectNew && sent) {
            assert.equal(r.code, 'token-spent', next.stderr);
            assert.equal(
              stack.counters.tokenRequests.refresh_token ?? 0,
              requests0,
              'the possibly spent token was not sent',
            );
            assert.equal(
              storeOf(h).mcpOAuth[key].refreshToken,
              undefined,
              'dropped from the entry: Claude Code cannot replay it',
            );
            const st = JSON.parse((await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project })).stdout);
            assert.equal(st.servers[0].state, 'needs-auth');
            assert.equal(st.servers[0].reason, 'token-spent');
            outcome = 'sign-in row (token-spent), 0 sent';
          } else {
            assert.equal(r.result, 'refreshed', next.stderr);
            outcome = expectNew ? 'answer stored; live' : 'untouched; live';
          }
          // and a real Claude Code against the same store: the access token in the store still works
          const list = await runClaude(['mcp', 'list'], { env: h.env, cwd: h.project, timeoutMs: 90_000 });
          assert.match(list.stdout, /demo: .*Connected/, list.stdout + list.stderr);
          assert.equal(stack.counters.reusesDetected - reuse0, 0, 'no refresh token presented twice');
          assert.equal(stack.counters.grantsRevoked - revoked0, 0, 'no grant revoked');
          assert.deepEqual(
            fs.readdirSync(h.claudeDir).filter((n) => n.endsWith('.lock')),
            [],
            'no lock left',
          );
          rows.push({ step, how, exit: exit.signal ?? String(exit.code), outcome });
        });
      },
    );
  }
}

after(() => {
  // the test runner shows a file's own output as `# …` lines (CI prints them)
  const lines = ['interruption sweep: step × interruption → outcome (0 reuse, 0 revoked in every cell)'];
  for (const [step] of STEPS) {
    const cells = HOWS.map((how) => {
      const c = rows.find((x) => x.step === step && x.how === how);
      return c ? `${how}: ${c.outcome}` : `${how}: (failed)`;
    });
    lines.push(`${step.padEnd(19)} ${cells.join(' | ')}`);
  }
  lines.push(`sweep cells passed: ${rows.length} of ${STEPS.length * HOWS.length}`);
  process.stdout.write(lines.join('\n') + '\n');
});
