/**
 * A process of ours that takes a lock with acquireLock and then leaves in the way the test asks:
 *   node lock-holder.js <lock target> exit|throw|signal|wait
 * Prints `held` once it holds the lock. `exit`: process.exit(0) without releasing; `throw`: an uncaught
 * error; `wait`: waits (the test sends a signal).
 */
import { acquireLock } from '../../src/core/lock/lock';

async function main() {
  const [target, how] = process.argv.slice(2);
  await acquireLock({ target, stale: 60_000, update: 5_000 }, { timeoutMs: 5_000 });
  process.stdout.write('held\n');
  if (how === 'exit') process.exit(0);
  if (how === 'throw')
    setTimeout(() => {
      throw new Error('boom');
    }, 10);
  if (how === 'wait') setTimeout(() => {}, 60_000);
}
void main();
