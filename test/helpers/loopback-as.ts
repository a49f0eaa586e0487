import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A minimal loopback authorization server for unit tests that need one real HTTP round trip without
 * oidc-provider: any GET answers RFC 8414 metadata naming this origin as the issuer, any POST answers a rotated
 * token set. Every request is recorded (`METHOD path`), so a test can assert that nothing was sent.
 */
export async function withLoopbackAs(fn: (issuer: string, requests: string[]) => Promise<void>): Promise<void> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.method === 'POST')
      res.end(
        JSON.stringify({ access_token: 'at-new', refresh_token: 'rt-new', token_type: 'Bearer', expires_in: 3600 }),
      );
    else
      res.end(
        JSON.stringify({
          issuer,
          token_endpoint: `${issuer}/token`,
          authorization_endpoint: `${issuer}/auth`,
          code_challenge_methods_supported: ['S256'],
        }),
      );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests);
  } finally {
    server.close();
  }
}

export const posts = (requests: string[]) => requests.filter((r) => r.startsWith('POST'));
