import { McpAuthError } from '../errors';
import { TEST_HOOKS } from '../build';
import type { RefreshDeps, RefreshStep, CrashPoint } from './types';
// Test builds only: the crash points and pauses of the protocol (the interruption sweep), and calling a refresh off.

export const crash = (deps: RefreshDeps, at: CrashPoint) => {
  if (TEST_HOOKS && deps.testHooks?.crashAt === at) process.kill(process.pid, 'SIGKILL');
};

/** Test builds only: stop at a step of the protocol for a while (see RefreshStep). */
export async function stepHook(deps: RefreshDeps, at: RefreshStep): Promise<void> {
  if (!TEST_HOOKS || deps.testHooks?.pauseAt !== at) return;
  process.stderr.write(`mcp-auth-test: at ${at}\n`);
  await new Promise((r) => setTimeout(r, deps.testHooks?.pauseMs ?? 3000));
}

/** The caller called the refresh off (deps.signal) before its token was sent: stop here, nothing spent. */
export function calledOff(deps: RefreshDeps): void {
  if (deps.signal?.aborted) throw new McpAuthError('cancelled', 'the refresh was called off before its token was sent');
}
