/**
 * Sign-in where the browser cannot reach this machine's loopback callback (SSH, containers, headless CI
 * runners): `login --device` (RFC 8628, against oidc-provider's device flow) and `login --no-browser` (the
 * address the browser ended on, pasted on stdin). Real processes, the real authorization server.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { CLI, hashTree, makeHome, type TempHome } from '../helpers/home';
import { approveDevice, browse, callWhoami, entryOf, writeServers } from '../helpers/oauth';
import { useStack } from '../helpers/stack';

const stack = useStack();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `mcp-auth login NAME …` with a pipe on stdin; `onStderr` sees the text so far and may answer. */
function login(
  h: TempHome,
  name: string,
  args: string[],
  onStderr: (text: string, stdin: NodeJS.WritableStream) => void,
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'login', name, ...args], {
      env: h.env,
      cwd: h.project,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      onStderr(stderr, child.stdin);
    });
    child.stdin.on('error', () => {});
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Once the authorization URL is on stderr: a browser elsewhere walks it and stops at the callback address. */
function pasteWhenReady(transform: (end: URL) => string): (text: string, stdin: NodeJS.WritableStream) => void {
  let done = false;
  return (text, stdin) => {
    const m = /^(https?:\/\/\S+\/auth\S*)$/m.exec(text);
    if (!m || done) return;
    done = true;
    void browse(m[1], { stopAt: (u) => u.pathname === '/callback' }).then(
      (end) => stdin.write(`${transform(end.url)}\n`),
      () => stdin.write('(the test browser failed)\n'),
    );
  };
}

const noTokens = (h: TempHome, r: Run) => {
  const { entry } = entryOf(h, 'demo');
  for (const t of [entry.accessToken, entry.refreshToken])
    assert.ok(!r.stdout.includes(t) && !r.stderr.includes(t), 'no token in the output');
};

test(
  'login --device: prints a code and an address, polls, and stores the tokens once the user approves elsewhere',
  { timeout: 60_000 },
  async () => {
    const h = makeHome();
    try {
      writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });
      const regs = stack.counters.registrations;
      let approval: Promise<{ status: number; body: string }> | undefined;
      const r = await login(h, 'demo', ['--device', '--timeout', '60'], (text) => {
        const m = /\(or open (\S+)\)/.exec(text);
        if (m && !approval) approval = approveDevice(m[1]).catch((e) => ({ status: 0, body: String(e) }));
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /open http:\/\/127\.0\.0\.1:\d+\/device on any device and enter the code [A-Z-]+/);
      assert.equal((await approval!).status, 200);
      assert.match(r.stdout, /^demo: signed in/m);
      assert.equal(stack.counters.registrations, regs + 1, 'a client registered with the device grant');
      const { entry } = entryOf(h, 'demo');
      assert.ok(entry.refreshToken && entry.expiresAt > Date.now());
      assert.equal(entry.issuer, stack.issuer);
      assert.equal((await callWhoami(stack.mcpUrl, entry.accessToken)).sub, 'test-user');
      noTokens(h, r);
    } finally {
      h.cleanup();
    }
  },
);

test(
  'login --no-browser: the address the browser ended on, pasted on stdin, completes the sign-in',
  { timeout: 60_000 },
  async () => {
    const h = makeHome();
    try {
      writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });
      // a browser on another machine: it ends on the loopback address, which it cannot load
      const r = await login(
        h,
        'demo',
        ['--no-browser', '--timeout', '60'],
        pasteWhenReady((end) => end.href),
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /paste here the whole address the browser ended on/);
      assert.equal((await callWhoami(stack.mcpUrl, entryOf(h, 'demo').entry.accessToken)).sub, 'test-user');
      noTokens(h, r);
    } finally {
      h.cleanup();
    }
  },
);

for (const [label, paste, code] of [
  [
    'an address with a wrong state',
    (u: URL) => {
      u.searchParams.set('state', 'forged');
      return u.href;
    },
    'state-mismatch',
  ],
  ['something that is not an address', () => 'not an address', 'bad-callback'],
  ['an address with no code', (u: URL) => `${u.origin}${u.pathname}`, 'bad-callback'],
] as const) {
  test(`login --no-browser: pasting ${label} → ${code}, exit 1, nothing written`, { timeout: 60_000 }, async () => {
    const h = makeHome();
    try {
      writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });
      const before = hashTree(h.home);
      const r = await login(h, 'demo', ['--no-browser', '--timeout', '30'], pasteWhenReady(paste));
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, new RegExp(`^mcp-auth: ${code}: `, 'm'));
      assert.deepEqual(hashTree(h.home), before, 'no file changed');
    } finally {
      h.cleanup();
    }
  });
}

/** A loopback MCP server + authorization server whose device endpoints answer as the test says. */
async function deviceServer(mode: {
  device?: (res: http.ServerResponse) => void;
  token?: (res: http.ServerResponse) => void;
  noDevice?: boolean;
}) {
  let base = '';
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const srv = http.createServer((req, res) => {
    req.resume();
    const p = new URL(req.url ?? '/', base).pathname;
    if (p === '/mcp') {
      res.writeHead(401, {
        'www-authenticate': `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`,
      });
      return res.end();
    }
    if (p === '/.well-known/oauth-protected-resource/mcp')
      return json(res, 200, { resource: `${base}/mcp`, authorization_servers: [base] });
    if (p === '/.well-known/oauth-authorization-server') {
      return json(res, 200, {
        issuer: base,
        authorization_endpoint: `${base}/authorize`,
        token_endpoint: `${base}/token`,
        ...(mode.noDevice ? {} : { device_authorization_endpoint: `${base}/device` }),
      });
    }
    if (p === '/device' && mode.device) return mode.device(res);
    if (p === '/token' && mode.token) return mode.token(res);
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return {
    url: `${base}/mcp`,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

const deviceOk = (res: http.ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      device_code: 'dev-code-123456',
      user_code: 'ABCD-EFGH',
      verification_uri: 'http://127.0.0.1/device',
      expires_in: 30,
      interval: 1,
    }),
  );
};

for (const [label, mode, code] of [
  ['no device endpoint in the metadata', { noDevice: true }, 'device-unsupported'],
  [
    'a device endpoint that answers garbage',
    {
      device: (res: http.ServerResponse) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>oops</html>');
      },
    },
    'bad-response',
  ],
  [
    'a token endpoint that answers expired_token',
    {
      device: deviceOk,
      token: (res: http.ServerResponse) => {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end('{"error":"expired_token"}');
      },
    },
    'login-timeout',
  ],
  [
    'a token endpoint that answers access_denied',
    {
      device: deviceOk,
      token: (res: http.ServerResponse) => {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end('{"error":"access_denied"}');
      },
    },
    'authorization-denied',
  ],
] as const) {
  test(`login --device against ${label} → ${code}, exit 1, nothing written`, { timeout: 30_000 }, async () => {
    const srv = await deviceServer(mode);
    const h = makeHome();
    try {
      writeServers(h, { demo: { type: 'http', url: srv.url, oauth: { clientId: 'static-client' } } });
      const before = hashTree(h.home);
      const r = await login(h, 'demo', ['--device', '--timeout', '20'], () => {});
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, new RegExp(`^mcp-auth: ${code}: `, 'm'));
      assert.deepEqual(hashTree(h.home), before, 'no file changed');
    } finally {
      h.cleanup();
      await srv.close();
    }
  });
}
