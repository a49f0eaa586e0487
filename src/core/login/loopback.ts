import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpAuthError } from '../errors';
import type { Logger } from '../log';
import type { SignIn } from './types';

export function constantTimeEqual(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb) && a.length === b.length;
}

/** The loopback port: MCP_OAUTH_CALLBACK_PORT, else the config's callbackPort, else the stored redirect's, else any. */
export function callbackPort(si: SignIn, redirectUri: string | undefined): number {
  const envPort = Number(si.deps.env?.MCP_OAUTH_CALLBACK_PORT ?? '');
  if (Number.isInteger(envPort) && envPort > 0) return envPort;
  return si.server.oauth?.callbackPort ?? (redirectUri ? Number(new URL(redirectUri).port) || 0 : 0);
}

const page = (title: string, h1: string, p: string) => `<!doctype html><meta charset="utf-8"><title>${title}</title>
<body style="font-family:system-ui,sans-serif;margin:4em auto;max-width:32em;text-align:center">
<h1>${h1}</h1><p>${p}</p></body>`;
const DONE_PAGE = page(
  'Signed in',
  'You are signed in',
  'MCP Auth Status stored the token where Claude Code reads it. You can close this tab.',
);
const FAIL_PAGE = page(
  'Sign-in failed',
  'Sign-in did not complete',
  'Go back to your terminal or VS Code for details. You can close this tab.',
);
/** for a request that is not the redirect of the sign-in in progress: says nothing about what was expected */
const BAD_PAGE = page('Not recognised', 'This link is not part of a sign-in in progress', 'You can close this tab.');
const SLOW_PAGE = page(
  'Still finishing',
  'Sign-in is still finishing',
  'Go back to your terminal or VS Code to see whether it completed. You can close this tab.',
);

/** The longest the browser's request for the redirect is held open while the code is exchanged and stored. */
const HOLD_MAX_MS = 120_000;

export interface CallbackServer {
  port: number;
  /** only a callback carrying this state ends the wait; any other request to /callback gets a 400 */
  expectState(state: string): void;
  waitForCallback(timeoutMs: number, signal?: AbortSignal): Promise<URLSearchParams>;
  /** answer the held redirect request: the success page only once the token is stored */
  finish(ok: boolean): void;
  /** answers a still-held request with the failure page, then stops listening */
  close(): Promise<void>;
}

/**
 * The listener on 127.0.0.1 for the redirect; closed as soon as the sign-in ends. Requests to /callback
 * without this sign-in's `state` (forged, stale, another tab's, or an `error` with no or a wrong state) are
 * answered 400 and ignored: they cannot end the sign-in. The matching request is held open until finish().
 */
export async function startCallbackServer(port: number, log: Logger): Promise<CallbackServer> {
  let waitTimer: NodeJS.Timeout | undefined;
  let resolveParams!: (p: URLSearchParams) => void;
  const got = new Promise<URLSearchParams>((r) => (resolveParams = r));
  let expected: string | undefined;
  let matched = false;
  let ignored = 0;
  let held: { res: http.ServerResponse; timer: NodeJS.Timeout; flushed: Promise<void> } | undefined;

  const answer = (res: http.ServerResponse, status: number, body: string): Promise<void> =>
    new Promise((resolve) => {
      if (res.writableEnded || res.destroyed) return resolve();
      res.on('close', () => resolve());
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(body, () => resolve());
    });
  const answerHeld = (status: number, body: string) => {
    if (!held) return;
    clearTimeout(held.timer);
    const { res } = held;
    held = { ...held, flushed: answer(res, status, body) };
  };

  const srv = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback' || matched) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const state = url.searchParams.get('state');
    if (expected === undefined || state === null || !constantTimeEqual(state, expected)) {
      // never say why: no hint about the expected value to whoever is probing
      if (ignored++ === 0)
        log.warn('ignored a request to the sign-in callback that is not the redirect of this sign-in; still waiting');
      else log.debug('ignored another request to the sign-in callback');
      void answer(res, 400, BAD_PAGE);
      return;
    }
    matched = true;
    // held until the token is stored (finish) or the sign-in ends (close); bounded in any case
    const timer = setTimeout(() => answerHeld(202, SLOW_PAGE), HOLD_MAX_MS);
    timer.unref();
    held = { res, timer, flushed: Promise.resolve() };
    resolveParams(url.searchParams);
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', (e) =>
      reject(
        new McpAuthError(
          'internal',
          `cannot listen on 127.0.0.1:${port} for the sign-in callback (${(e as NodeJS.ErrnoException).code})`,
        ),
      ),
    );
    srv.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (srv.address() as AddressInfo).port;
  log.debug(`callback listener on 127.0.0.1:${actual}`);
  return {
    port: actual,
    expectState(state) {
      expected = state;
    },
    async waitForCallback(timeoutMs, signal) {
      const timeout = new Promise<never>((_, reject) => {
        waitTimer = setTimeout(
          () =>
            reject(new McpAuthError('login-timeout', `no sign-in completed within ${Math.round(timeoutMs / 1000)} s`)),
          timeoutMs,
        );
        signal?.addEventListener('abort', () => reject(new McpAuthError('cancelled', 'sign-in cancelled')));
      });
      try {
        return await Promise.race([got, timeout]);
      } finally {
        clearTimeout(waitTimer);
      }
    },
    finish(ok) {
      answerHeld(ok ? 200 : 400, ok ? DONE_PAGE : FAIL_PAGE);
    },
    async close() {
      // the wait may have lost a race (a pasted address): its timer must not keep the process alive
      clearTimeout(waitTimer);
      if (held && !held.res.writableEnded) answerHeld(400, FAIL_PAGE);
      if (held) {
        // let the last page reach the browser, but not for long
        let t: NodeJS.Timeout | undefined;
        await Promise.race([
          held.flushed,
          new Promise<void>((r) => {
            t = setTimeout(r, 2_000);
          }),
        ]);
        clearTimeout(t);
      }
      await new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      });
    },
  };
}
