/**
 * Termination signals (SIGINT, SIGTERM, SIGHUP) held while a refresh's answer is on its way and being stored.
 *
 * From just before a refresh token is sent until what the authorization server answered is stored (or known
 * failed), dying would leave a spent refresh token in the store for the next refresher to replay. So while a
 * hold is taken, a termination signal is noted and delivered when the last hold is released: the process
 * finishes the write, then dies of the signal as it would have (same exit status). Each hold has a bound (the
 * POST timeout plus the storage-lock wait) after which the signal is delivered anyway: a hung authorization
 * server never keeps Ctrl-C from working for long (the intent record, refresh.ts, covers what is cut short).
 *
 * A long-running command with its own stop logic (`mcp-auth watch`) registers it with `onTerminationSignal`
 * instead of `process.on`: it is called for every signal, and `exitWhenSafe` exits once no hold is taken.
 * A second signal while a hold is taken calls the notice set with `setHeldSignalNotice` (the CLI says what it
 * is waiting for). No prose here: the notice gets the holds and words them itself.
 */

export interface SignalHold {
  /** what the hold protects, as a machine-readable phrase ("refresh demo") */
  what: string;
  since: number;
  boundMs: number;
}

type Sig = 'SIGINT' | 'SIGTERM' | 'SIGHUP';
const SIGNALS: Sig[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

const holds = new Set<SignalHold>();
const appHandlers = new Set<(sig: Sig) => void>();
let pending: Sig | undefined;
let pendingExit: number | undefined;
let boundTimer: NodeJS.Timeout | undefined;
let installed = false;
let notice: ((sig: Sig, holds: SignalHold[]) => void) | undefined;

function listener(sig: Sig): void {
  if (appHandlers.size) {
    for (const h of [...appHandlers]) h(sig);
    return;
  }
  if (holds.size === 0) {
    deliver(sig);
    return;
  }
  if (pending === undefined) {
    pending = sig;
    armBound();
  } else notice?.(sig, [...holds]);
}

/** The longest any current hold may still last from now. */
function armBound(): void {
  if (boundTimer) clearTimeout(boundTimer);
  const now = Date.now();
  let left = 0;
  for (const h of holds) left = Math.max(left, h.since + h.boundMs - now);
  boundTimer = setTimeout(
    () => {
      boundTimer = undefined;
      holds.clear();
      settle();
    },
    Math.max(0, left),
  );
  boundTimer.unref?.();
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const s of SIGNALS) process.on(s, listener);
}

function uninstall(): void {
  if (!installed || holds.size || appHandlers.size) return;
  installed = false;
  for (const s of SIGNALS) process.removeListener(s, listener);
}

/** Deliver a signal as if nothing had caught it: whatever else listens (signal-exit) runs, then the default. */
function deliver(sig: Sig): void {
  uninstall();
  process.kill(process.pid, sig);
  // Another listener (signal-exit) handles it on a later turn of the event loop: keep the loop alive until
  // then, or a process with nothing left to do would exit 0 before the signal is dispatched.
  setTimeout(() => {}, 2000);
}

/** No hold left: do what was put off. */
function settle(): void {
  if (holds.size) return;
  if (boundTimer) clearTimeout(boundTimer);
  boundTimer = undefined;
  if (pendingExit !== undefined) {
    const code = pendingExit;
    pendingExit = undefined;
    process.exit(code);
  }
  const sig = pending;
  pending = undefined;
  if (sig !== undefined && appHandlers.size === 0) deliver(sig);
  else uninstall();
}

/**
 * Hold termination signals until the returned function is called (at most `boundMs` after a signal comes).
 * Calling the release twice is harmless.
 */
export function holdSignals(what: string, boundMs: number): () => void {
  const h: SignalHold = { what, since: Date.now(), boundMs };
  holds.add(h);
  install();
  if (pending !== undefined || pendingExit !== undefined) armBound();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holds.delete(h);
    settle();
  };
}

/** Run `fn` with signals held (see holdSignals). */
export async function withSignalsHeld<T>(what: string, boundMs: number, fn: () => Promise<T>): Promise<T> {
  const release = holdSignals(what, boundMs);
  try {
    return await fn();
  } finally {
    release();
  }
}

/** The holds taken now (for a notice or a test). */
export function currentHolds(): SignalHold[] {
  return [...holds];
}

/** Called when a signal comes while holds are taken and one is already pending (a second Ctrl-C). */
export function setHeldSignalNotice(fn: ((sig: Sig, holds: SignalHold[]) => void) | undefined): void {
  notice = fn;
}

/** A command's own handler for termination signals (instead of process.on). Returns the unregister function. */
export function onTerminationSignal(handler: (sig: Sig) => void): () => void {
  appHandlers.add(handler);
  install();
  return () => {
    appHandlers.delete(handler);
    uninstall();
  };
}

/** process.exit(code) now, or, while holds are taken, once they are released (the notice says so). */
export function exitWhenSafe(code: number, sig?: Sig): void {
  if (holds.size === 0) process.exit(code);
  if (pendingExit === undefined) {
    pendingExit = code;
    armBound();
  }
  if (sig) notice?.(sig, [...holds]);
}
