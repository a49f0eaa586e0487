/**
 * A stand-in for the VS Code extension host, for the interruption sweep: runs the background keeper as the
 * extension does (src/extension/scheduler.ts), then on the message "deactivate" does what VS Code does when a
 * window closes or reloads — calls what the extension's deactivate calls (src/extension/operations.ts
 * settleWindow: the keeper's stop, and every operation a command started), waits for it at most 5 s, then ends
 * the process.
 *   node keeper-host.js <home> <cwd> <pauseAt> <pauseMs> [command <server>]
 * With `command <server>`: also refreshes that server (--force) as the extension's Refresh command does
 * (operations.ts refreshTracked). Says `started` once its first pass began (and the command's refresh started).
 * Test hooks are on in this process (as in the test CLI bundle).
 */
(globalThis as { __TEST_HOOKS__?: boolean }).__TEST_HOOKS__ = true;

async function main() {
  const [home, cwd, pauseAt, pauseMs, mode, name] = process.argv.slice(2);
  process.env.HOME = home;
  // required after the switch above is set (build.ts reads it when it loads)
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { resolvePaths } = require('../../src/core/paths') as typeof import('../../src/core/paths');
  const { openStore } = require('../../src/core/store/backend') as typeof import('../../src/core/store/backend');
  const { Keeper } = require('../../src/core/keeper/keeper') as typeof import('../../src/core/keeper/keeper');
  const { operations, refreshTracked, settleWindow } =
    require('../../src/extension/operations') as typeof import('../../src/extension/operations');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const paths = resolvePaths({ env: process.env });
  const store = openStore(paths, { env: process.env });
  const testHooks = { pauseAt: (pauseAt || undefined) as never, pauseMs: Number(pauseMs) };
  const keeper = new Keeper({ paths, cwd, env: process.env, store, jitterMs: 1, testHooks, operations });
  process.on('message', (m) => {
    if (m !== 'deactivate') return;
    const deactivate = () => settleWindow(() => keeper.stop()); // what the extension's deactivate() returns
    void Promise.race([deactivate(), new Promise((r) => setTimeout(r, 5_000))]).then(() => process.exit(0));
  });
  if (mode === 'command') {
    await keeper.start();
    const row = keeper.model?.servers.find((r) => r.config.name === name);
    if (!row) throw new Error(`no server ${name}`);
    void refreshTracked(row.config, { paths, store, testHooks }, { force: true }).then((out) =>
      process.stderr.write(`command refresh: ${out.result} ${out.code ?? ''}\n`),
    );
  } else void keeper.start();
  process.stdout.write('started\n');
}
void main();
