import { spawn } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLAUDE_BIN } from './home';

export interface ClaudeRun { code: number; stdout: string; stderr: string }

/** Run the real Claude Code CLI (never with the machine's HOME: env must come from cleanEnv). */
export function runClaude(args: string[], opts: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs?: number }): Promise<ClaudeRun> {
  if (!opts.env.HOME || !opts.env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC) throw new Error('runClaude needs a throwaway HOME');
  return new Promise((resolve) => {
    const child = spawn(CLAUDE_BIN, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => { clearTimeout(t); resolve({ code: code ?? -1, stdout, stderr }); });
  });
}

/**
 * A loopback MCP endpoint that always answers 401 with an RFC 9728 challenge, and the minimum of AS metadata
 * and dynamic registration for Claude Code to conclude "needs authentication".
 */
export async function start401Server(): Promise<{ base: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const srv = http.createServer((req, res) => {
    const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    const url = new URL(req.url ?? '/', base);
    requests.push(`${req.method} ${url.pathname}`);
    const json = (code: number, o: unknown) => { res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(o)); };
    if (url.pathname.startsWith('/.well-known/oauth-protected-resource')) {
      return json(200, { resource: base + url.pathname.replace('/.well-known/oauth-protected-resource', ''), authorization_servers: [base] });
    }
    if (url.pathname.startsWith('/.well-known/oauth-authorization-server')) {
      return json(200, {
        issuer: base, authorization_endpoint: `${base}/authorize`, token_endpoint: `${base}/token`, registration_endpoint: `${base}/register`,
        response_types_supported: ['code'], code_challenge_methods_supported: ['S256'], grant_types_supported: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_methods_supported: ['none'],
      });
    }
    if (url.pathname === '/register') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => json(201, { ...JSON.parse(body || '{}'), client_id: `dcr-${requests.length}` }));
      return undefined;
    }
    req.resume();
    res.writeHead(401, { 'WWW-Authenticate': `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource${url.pathname}"`, 'content-type': 'application/json' });
    res.end('{"error":"invalid_token"}');
    return undefined;
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return { base, requests, close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(() => r()); }) };
}
