import { after, before, beforeEach } from 'node:test';
import { freshCounters, startStack, type Stack } from '../fixtures/oauth-stack/stack';

/**
 * One oauth-stack for a test file: started before its tests, closed after them, and before each test its fault
 * modes set back to how it started (with `resetCounters`, its counters too). The object returned stands for the
 * stack once it is up.
 */
export function useStack(opts: { resetCounters?: boolean; start?: Parameters<typeof startStack>[0] } = {}): Stack {
  let stack: Stack | undefined;
  let initial: Stack['mode'];
  before(async () => {
    stack = await startStack(opts.start);
    initial = { ...stack.mode };
  });
  after(async () => {
    await stack?.close();
  });
  beforeEach(() => {
    if (!stack) return;
    Object.assign(stack.mode, initial);
    if (opts.resetCounters) Object.assign(stack.counters, freshCounters());
  });
  return new Proxy({} as Stack, {
    get: (_t, p) => {
      if (!stack) throw new Error('the oauth-stack is not started yet (use it inside a test)');
      return Reflect.get(stack, p);
    },
  });
}
