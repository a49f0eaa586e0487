import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withHome, type TempHome, sleep } from '../helpers/home';
import {
  configured,
  cliLogin,
  browse,
  entryOf,
  callWhoami,
  readStore,
  writeStore,
  type LoginRun,
} from '../helpers/oauth';
import { useStack } from '../helpers/stack';
import { serverKey } from '../../src/core/store/key';

const stack = useStack();

/** The loopback callback origin, taken from the authorization URL's redirect_uri. */
function callbackBase(authUrl: string): string {
  const r = new URL(new URL(authUrl).searchParams.get('redirect_uri')!);
  return `http://127.0.0.1:${r.port}`;
}

/**
 * `mcp-auth login` with a test-driven browser step: `step` runs once the URL is printed; its failure is
 * reported by the test (not lost as an unhandled rejection). `running()` says whether the process is alive.
 */
async function loginWith(
  h: TempHome,
  name: string,
  args: string[],
  step: (authUrl: string, running: () => boolean) => Promise<void>,
): Promise<LoginRun> {
  let exited = false;
  let stepDone: Promise<void> = Promise.resolve();
  const run = cliLogin(h, name, args, {
    onUrl: async (u) => {
      stepDone = step(u, () => !exited);
      await stepDone.catch(() => {});
    },
  });
  const r = await run.finally(() => {
    exited = true;
  });
  await stepDone;
  return r;
}

const noSecretsIn = (r: LoginRun, entry: Record<string, string>) => {
  for (const s of [entry.accessToken, entry.refreshToken].filter(Boolean)) {
    assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), 'no token in the output');
  }
};

// ---- a static confidential client, signing in again -----------------------------------------------------

test(
  'static confidential client: the second and third sign-in still authenticate with the secret from mcpOAuthClientConfig',
  { timeout: 60_000 },
  async () => {
    const url = stack.mcpUrl;
    await withHome(
      configured({ conf: { type: 'http', url, oauth: { clientId: 'mcp-auth-confidential' } } }),
      async (h) => {
        const key = serverKey({ name: 'conf', transport: 'http', rawType: 'http', url });
        writeStore(h, { mcpOAuthClientConfig: { [key]: { clientSecret: 'confidential-secret-for-tests' } } });
        const regs = stack.counters.registrations;
        for (const round of [1, 2, 3]) {
          const r = await cliLogin(h, 'conf', ['--timeout', '30']);
          assert.equal(r.code, 0, `sign-in #${round}: ${r.stderr}`);
          const { entry } = entryOf(h, 'conf');
          assert.equal(entry.clientId, 'mcp-auth-confidential');
          assert.equal(entry.clientSecret, undefined, 'the static secret is never copied into the mcpOAuth entry');
          assert.ok(
            !r.stderr.includes('confidential-secret-for-tests') && !r.stdout.includes('confidential-secret-for-tests'),
          );
          noSecretsIn(r, entry);
          assert.equal((await callWhoami(url, entry.accessToken)).client_id, 'mcp-auth-confidential');
        }
        assert.equal(stack.counters.registrations, regs, 'no dynamic registration');
        assert.deepEqual(readStore(h).mcpOAuthClientConfig, {
          [key]: { clientSecret: 'confidential-secret-for-tests' },
        });
      },
    );
  },
);

// ---- the callback listener ------------------------------------------------------------------------------

test(
  'callback: wrong, missing or error-with-wrong state → 400 and the sign-in keeps listening; the real callback then signs in',
  { timeout: 60_000 },
  async () => {
    await withHome(configured({ demo: { type: 'http', url: stack.mcpUrl } }), async (h) => {
      let realState = '';
      const answers: { q: string; status: number; body: string }[] = [];
      let stillRunning = false;
      let final: { status: number; body: string } | undefined;
      const r = await loginWith(h, 'demo', ['--timeout', '30'], async (u, running) => {
        realState = new URL(u).searchParams.get('state')!;
        const base = callbackBase(u);
        for (const q of [
          'code=x&state=wrong',
          'code=x',
          'code=x&state=',
          'error=access_denied&state=wrong',
          'error=access_denied',
          `code=x&state=${encodeURIComponent(realState.slice(0, -1))}`,
        ]) {
          const res = await fetch(`${base}/callback?${q}`);
          answers.push({ q, status: res.status, body: await res.text() });
        }
        await sleep(300);
        stillRunning = running();
        final = await browse(u);
      });
      for (const a of answers) {
        assert.equal(a.status, 400, `GET /callback?${a.q}`);
        assert.ok(a.body.length < 600, 'a short page');
        assert.ok(!a.body.includes(realState) && !/\bstate\b/i.test(a.body), 'no details about the expected state');
        assert.ok(!a.body.includes('You are signed in'));
      }
      assert.equal(stillRunning, true, 'the sign-in is still waiting after the bad callbacks');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(final?.status, 200);
      assert.match(final!.body, /You are signed in/);
      const { entry } = entryOf(h, 'demo');
      assert.ok(entry.accessToken);
      noSecretsIn(r, entry);
      assert.ok(
        !r.stderr.replace(r.authUrl!, '').includes(realState),
        'the state appears only in the authorization URL',
      );
      assert.equal(
        r.stderr.split('\n').filter((l) => /warn: .*not the redirect of this sign-in/.test(l)).length,
        1,
        'one warning for the ignored requests',
      );
    });
  },
);

test(
  'callback: the matching callback with an error → the sign-in ends (authorization-denied) with the failure page',
  { timeout: 60_000 },
  async () => {
    await withHome(configured({ demo: { type: 'http', url: stack.mcpUrl } }), async (h) => {
      let page: { status: number; body: string } | undefined;
      const r = await loginWith(h, 'demo', ['--timeout', '30'], async (u) => {
        const state = new URL(u).searchParams.get('state')!;
        const res = await fetch(
          `${callbackBase(u)}/callback?error=access_denied&state=${encodeURIComponent(state)}&iss=${encodeURIComponent(stack.issuer)}`,
        );
        page = { status: res.status, body: await res.text() };
      });
      assert.match(r.stderr, /^mcp-auth: authorization-denied: /m, r.stderr);
      assert.equal(page?.status, 400);
      assert.match(page!.body, /Sign-in did not complete/);
    });
  },
);

test(
  'callback: "You are signed in" only once the token is stored (held while Claude Code\'s storage lock is taken)',
  { timeout: 60_000 },
  async () => {
    await withHome(configured({ demo: { type: 'http', url: stack.mcpUrl } }), async (h) => {
      const lockDir = path.join(h.claudeDir, '.storage-write.lock');
      try {
        const seen: {
          exchangedWhileHeld?: boolean;
          earlyAnswer?: boolean;
          storedWhileHeld?: boolean;
          page?: { status: number; body: string };
          storedAtAnswer?: boolean;
        } = {};
        const r = await loginWith(h, 'demo', ['--timeout', '30'], async (u) => {
          const stop = await browse(u, { stopAt: (x) => x.pathname === '/callback' });
          const codes0 = stack.counters.tokenSuccess.authorization_code ?? 0;
          fs.mkdirSync(lockDir); // a foreign holder (Claude Code), fresh mtime
          let answered = false;
          const answer = fetch(stop.url).then(async (res) => {
            answered = true;
            const page = { status: res.status, body: await res.text() };
            let stored = false;
            try {
              stored = !!entryOf(h, 'demo').entry.accessToken;
            } catch {
              /* no entry */
            }
            return { page, stored };
          });
          // wait for the code exchange to have happened, then one more second
          for (let i = 0; i < 100 && (stack.counters.tokenSuccess.authorization_code ?? 0) === codes0; i++)
            await sleep(50);
          seen.exchangedWhileHeld = (stack.counters.tokenSuccess.authorization_code ?? 0) > codes0;
          await sleep(1000);
          seen.earlyAnswer = answered;
          seen.storedWhileHeld = fs.existsSync(path.join(h.claudeDir, '.credentials.json'));
          fs.rmdirSync(lockDir);
          const a = await answer;
          seen.page = a.page;
          seen.storedAtAnswer = a.stored;
        });
        assert.equal(seen.exchangedWhileHeld, true, 'the code was exchanged while the lock was held');
        assert.equal(seen.storedWhileHeld, false);
        assert.equal(seen.earlyAnswer, false, 'no answer to the browser before the token is stored');
        assert.equal(r.code, 0, r.stderr);
        assert.equal(seen.page?.status, 200);
        assert.match(seen.page!.body, /You are signed in/);
        assert.equal(seen.storedAtAnswer, true, 'the token was in the store when the page arrived');
      } finally {
        try {
          fs.rmdirSync(lockDir);
        } catch {
          /* released */
        }
      }
    });
  },
);

// ---- an odd 200 from the real authorization server is stored, with a warning ----------------------------

const oddAnswers: { name: string; fields: Record<string, unknown>; warning: RegExp; expiresNow?: boolean }[] = [
  { name: 'no token_type', fields: { token_type: null }, warning: /no-token-type/ },
  { name: 'an unknown token_type', fields: { token_type: 'mac' }, warning: /unknown-token-type/ },
  { name: 'expires_in: 0', fields: { expires_in: 0 }, warning: /expires-in-not-positive/, expiresNow: true },
  { name: 'an id_token that does not parse', fields: { id_token: 'not-a-jwt' }, warning: /id-token-not-validated/ },
];

for (const odd of oddAnswers) {
  test(
    `sign-in: the AS's real 200 for the code has ${odd.name} → exit 0, stored, a warning, the token works`,
    { timeout: 60_000 },
    async () => {
      await withHome(configured({ demo: { type: 'http', url: stack.mcpUrl } }), async (h) => {
        stack.mode.tokenMutate = { fields: odd.fields, grantTypes: ['authorization_code'] };
        try {
          const codes0 = stack.counters.tokenRequests.authorization_code ?? 0;
          const t0 = Date.now();
          const r = await cliLogin(h, 'demo', ['--timeout', '30']);
          const t1 = Date.now();
          assert.equal(r.code, 0, r.stderr);
          assert.equal((stack.counters.tokenRequests.authorization_code ?? 0) - codes0, 1, 'one code exchange');
          const warn = r.stderr.split('\n').filter((l) => /^mcp-auth: warn: /.test(l) && odd.warning.test(l));
          assert.equal(warn.length, 1, r.stderr);
          const { entry } = entryOf(h, 'demo');
          assert.ok(entry.accessToken && entry.refreshToken);
          noSecretsIn(r, entry);
          assert.ok(!/eyJ[A-Za-z0-9_-]{5,}\./.test(r.stderr + r.stdout), 'no JWT in the output');
          if (odd.expiresNow) assert.ok(entry.expiresAt >= t0 && entry.expiresAt <= t1, 'expiresAt ≈ now');
          else assert.ok(entry.expiresAt > Date.now() + 3000_000, 'expiresAt from expires_in');
          stack.mode.tokenMutate = null;
          assert.equal((await callWhoami(stack.mcpUrl, entry.accessToken)).sub, 'test-user');
        } finally {
          stack.mode.tokenMutate = null;
        }
      });
    },
  );
}
