/**
 * A process that takes a signal hold (core/signals.ts) the way a refresh does, for the signals unit test:
 *   node signal-holder.js <mode> <marker file>
 * hold: hold 800 ms, write the marker, release. bound: hold with a 300 ms bound, never release.
 * second: like hold (1200 ms), with a notice that prints `notice <what>`. app: a command's own handler
 * (`onTerminationSignal`): first signal prints `stopping`, the second calls exitWhenSafe(1).
 * Prints `held` once the hold is taken.
 */
import * as fs from 'node:fs';
import { exitWhenSafe, holdSignals, onTerminationSignal, setHeldSignalNotice } from '../../src/core/signals';

const [mode, marker] = process.argv.slice(2);
setHeldSignalNotice((sig, holds) => process.stdout.write(`notice ${sig} ${holds.map((h) => h.what).join(',')}\n`));
if (mode === 'app') {
  let n = 0;
  onTerminationSignal((sig) => {
    n++;
    if (n === 1) process.stdout.write('stopping\n');
    else exitWhenSafe(1, sig);
  });
}
const release = holdSignals('refresh demo', mode === 'bound' ? 300 : 10_000);
process.stdout.write('held\n');
if (mode !== 'bound') {
  setTimeout(
    () => {
      fs.writeFileSync(marker, 'written');
      release();
      if (mode === 'app') setTimeout(() => process.exit(0), 2000);
    },
    mode === 'hold' ? 800 : 1200,
  );
}
setTimeout(() => {}, 20_000);
