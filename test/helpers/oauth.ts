import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { startStack, type Stack } from '../fixtures/oauth-stack/stack';
import { CLI, type HomeSetup, type TempHome } from './home';

export { startStack, type Stack };

/**
 * A test "browser": follows redirects with a cookie jar (the AS's interaction cookies) until the
 * authorization server sends it to the loopback callback, then loads the callback. Returns the final URL.
 */
export async function browse(
  start: string,
  opts: { stopAt?: (u: URL) => boolean; maxHops?: number } = {},
): Promise<{ url: URL; status: number; body: string }> {
  const jar = new Map<string, string>();
  let url = new URL(start);
  for (let hop = 0; hop < (opts.maxHops ?? 20); hop++) {
    if (opts.stopAt?.(url)) return { url, status: 0, body: '' };
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      const k = pair.slice(0, i).trim();
      const v = pair.slice(i + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(c) || v === '') jar.delete(k);
      else jar.set(k, v);
    }
    const loc = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && loc) {
      await res.arrayBuffer();
      url = new URL(loc, url);
      continue;
    }
    return { url, status: res.status, body: await res.text() };
  }
  throw new Error('too many redirects in the test browser');
}

/**
 * A test user approving a device sign-in (RFC 8628): open the verification address (with the user code in it),
 * submit oidc-provider's confirm form, and follow the interactions (auto-approved by the stack) to the end.
 * Returns the last page's status and body.
 */
export async function approveDevice(verificationUriComplete: string): Promise<{ status: number; body: string }> {
  const jar = new Map<string, string>();
  const send = async (url: URL, init: RequestInit = {}) => {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers ?? {}), ...(cookie ? { cookie } : {}) },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
    return res;
  };
  let url = new URL(verificationUriComplete);
  let res = await send(url);
  // the pages post forms (an auto-submitting one, then the confirmation): submit each with its hidden fields,
  // follow the redirects (interactions the stack approves), until a page without a form
  for (let step = 0; step < 10; step++) {
    for (let hop = 0; hop < 20 && res.status >= 300 && res.status < 400; hop++) {
      await res.arrayBuffer();
      url = new URL(res.headers.get('location')!, url);
      res = await send(url);
    }
    const body = await res.text();
    const form = /<form[^>]*method="post"[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/i.exec(body);
    if (!form) return { status: res.status, body };
    const fields = new URLSearchParams();
    for (const m of form[2].matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) fields.set(m[1], m[2]);
    url = new URL(form[1], url);
    res = await send(url, {
      method: 'POST',
      body: fields,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
  }
  throw new Error('the device pages did not end');
}

export interface LoginRun {
  code: number;
  stdout: string;
  stderr: string;
  authUrl?: string;
}

/** `mcp-auth login NAME --no-open` in its own process, with the test browser completing the sign-in. */
export function cliLogin(
  h: TempHome,
  name: string,
  extraArgs: string[] = [],
  opts: { browse?: boolean; env?: NodeJS.ProcessEnv; onUrl?: (u: string) => Promise<void> } = {},
): Promise<LoginRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'login', name, '--no-open', ...extraArgs], {
      env: opts.env ?? h.env,
      cwd: h.project,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let authUrl: string | undefined;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /^(https?:\/\/\S+\/auth\S*)$/m.exec(stderr);
      if (m && !authUrl) {
        authUrl = m[1];
        if (opts.onUrl) void opts.onUrl(authUrl);
        else if (opts.browse !== false)
          void browse(authUrl).catch((e) => {
            stderr += `\n[test browser] ${e}`;
          });
      }
    });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, authUrl }));
  });
}

export function writeServers(h: TempHome, servers: Record<string, unknown>): void {
  const f = path.join(h.home, '.claude.json');
  const cur = fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : {};
  fs.writeFileSync(f, JSON.stringify({ ...cur, mcpServers: { ...(cur.mcpServers ?? {}), ...servers } }, null, 2));
}

/** A `withHome` setup: these servers in ~/.claude.json. */
export function configured(servers: Record<string, unknown>): HomeSetup {
  return (h) => writeServers(h, servers);
}

/** A `withHome` setup: these servers in ~/.claude.json, and `name` signed in through `mcp-auth login` (asserted). */
export function signedIn(servers: Record<string, unknown>, name = 'demo'): HomeSetup {
  return async (h) => {
    writeServers(h, servers);
    const r = await cliLogin(h, name, ['--timeout', '30']);
    assert.equal(r.code, 0, r.stderr);
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function readStore(h: TempHome): Record<string, any> {
  return JSON.parse(fs.readFileSync(path.join(h.claudeDir, '.credentials.json'), 'utf8'));
}

export function writeStore(h: TempHome, data: unknown): void {
  fs.writeFileSync(path.join(h.claudeDir, '.credentials.json'), JSON.stringify(data, null, 2), { mode: 0o600 });
}

/** The single entry whose key starts with `name|`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function entryOf(h: TempHome, name: string): { key: string; entry: Record<string, any> } {
  const s = readStore(h);
  const key = Object.keys(s.mcpOAuth ?? {}).find((k) => k.startsWith(`${name}|`));
  if (!key) throw new Error(`no entry for ${name}`);
  return { key, entry: s.mcpOAuth[key] };
}

/** Set fields of one entry (e.g. make it expired) the way a test would, without a lock. */
export function patchEntry(h: TempHome, name: string, patch: Record<string, unknown>): void {
  const s = readStore(h);
  const { key } = entryOf(h, name);
  s.mcpOAuth[key] = { ...s.mcpOAuth[key], ...patch };
  writeStore(h, s);
}

/** tools/call whoami on the real MCP server with a bearer token, through the MCP SDK client. */
export async function callWhoami(mcpUrl: string, accessToken: string): Promise<{ sub: string; client_id: string }> {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  const client = new Client({ name: 'test', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${accessToken}` } },
  });
  await client.connect(transport);
  try {
    const r = await client.callTool({ name: 'whoami', arguments: {} });
    const text = (r.content as { type: string; text: string }[])[0].text;
    return JSON.parse(text);
  } finally {
    await client.close();
  }
}

export async function setMode(stack: Stack, mode: Partial<Stack['mode']>): Promise<void> {
  Object.assign(stack.mode, mode);
}
