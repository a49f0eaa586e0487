/**
 * A stand-in for the VS Code extension host, for the interruption sweep: runs the background keeper as the
 * extension does (src/extension/scheduler.ts), then on the message "deactivate" does what VS Code does when a
 * window closes or reloads — calls the extension's deactivate, which returns the keeper's stop (it waits for a
 * refresh under way to store its answer), waits for it at most 5 s, then ends the process.
 *   node keeper-host.js <home> <cwd> <pauseAt> <pauseMs>
 * Says `started` once its first pass began. Test hooks are on in this process (as in the test CLI bundle).
 */
(globalThis as { __TEST_HOOKS__?: boolean }).__TEST_HOOKS__ = true;

async function main() {
  const [home, cwd, pauseAt, pauseMs] = process.argv.slice(2);
  process.env.HOME = home;
  // required after the switch above is set (build.ts reads it when it loads)
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { resolvePaths } = require('../../src/core/paths') as typeof import('../../src/core/paths');
  const { openStore } = require('../../src/core/store/backend') as typeof import('../../src/core/store/backend');
  const { Keeper } = require('../../src/core/keeper/keeper') as typeof import('../../src/core/keeper/keeper');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const paths = resolvePaths({ env: process.env });
  const keeper = new Keeper({
    paths,
    cwd,
    env: process.env,
    store: openStore(paths, { env: process.env }),
    jitterMs: 1,
    testHooks: { pauseAt: pauseAt as never, pauseMs: Number(pauseMs) },
  });
  process.on('message', (m) => {
    if (m !== 'deactivate') return;
    const deactivate = () => keeper.stop(); // what RefreshScheduler.stop() returns to deactivate()
    void Promise.race([deactivate(), new Promise((r) => setTimeout(r, 5_000))]).then(() => process.exit(0));
  });
  void keeper.start();
  process.stdout.write('started\n');
}
void main();
