import { InFlight } from '../core/inflight';
import { refreshServer, type RefreshDeps, type RefreshOutcome } from '../core/refresh';
import type { ServerConfig } from '../core/config/types';

/**
 * The window's operations under way whose end matters (no vscode import: the extension-host stand-in of the
 * tests runs this very code). Commands track their refreshes, sign-ins and sign-outs here, the keeper its
 * refreshes; deactivate() settles them, so closing or reloading a window never cuts a refresh between its POST
 * and its write (issue 20).
 */
export const operations = new InFlight();

/** VS Code gives an extension's deactivate() about 5 s; we return before it gives up on us. */
export const DEACTIVATE_BOUND_MS = 4_500;

/** A refresh a command starts: tracked until its answer is stored (or known failed). */
export function refreshTracked(
  server: ServerConfig,
  deps: RefreshDeps,
  opts: { force?: boolean } = {},
): Promise<RefreshOutcome> {
  return operations.track(refreshServer(server, deps, opts));
}

/**
 * What deactivate() does: stop the keeper (it calls off what has not sent its token yet and waits for the rest)
 * and settle every operation a command started, within `boundMs`. Never rejects.
 */
export async function settleWindow(stopKeeper: () => Promise<void>, boundMs = DEACTIVATE_BOUND_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((r) => (timer = setTimeout(r, boundMs)));
  try {
    await Promise.race([Promise.all([stopKeeper().catch(() => {}), operations.settle()]), bound]);
  } finally {
    clearTimeout(timer);
  }
}
