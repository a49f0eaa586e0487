import { createHash } from 'node:crypto';
import type { ServerConfig } from '../config/types';

/**
 * Claude Code's credential-store key for a server: `<name>|<first 16 hex of sha256(JSON{type,url,headers})>`,
 * computed on the resolved config (streamable-http → http, ${VAR} already expanded, headers in file order).
 */
export function serverKey(server: Pick<ServerConfig, 'name' | 'transport' | 'rawType' | 'url' | 'headers'>): string {
  const type = server.rawType === 'streamable-http' ? 'http' : (server.rawType ?? server.transport);
  const json = JSON.stringify({ type, url: server.url, headers: server.headers ?? {} });
  return `${server.name}|${createHash('sha256').update(json).digest('hex').slice(0, 16)}`;
}
