/** One server definition of a Claude Code config file → a ServerConfig (its transport, url, headers, oauth). */
import { isPlainObject } from '../fsutil';
import { expandVars } from './expand';
import type { OAuthConfig, Scope, ServerConfig, Transport } from './types';

export function normalizeTransport(def: Record<string, unknown>): { transport: Transport; rawType?: string } {
  const t = def.type;
  if (t === undefined)
    return { transport: typeof def.url === 'string' && typeof def.command !== 'string' ? 'unknown' : 'stdio' };
  if (typeof t !== 'string') return { transport: 'unknown' };
  switch (t) {
    case 'stdio':
      return { transport: 'stdio', rawType: t };
    case 'http':
    case 'streamable-http':
      return { transport: 'http', rawType: t };
    case 'sse':
      return { transport: 'sse', rawType: t };
    case 'ws':
      return { transport: 'ws', rawType: t };
    case 'sdk':
      return { transport: 'sdk', rawType: t };
    default:
      return { transport: 'unknown', rawType: t };
  }
}

export function parseServer(
  name: string,
  def: Record<string, unknown>,
  scope: Scope,
  file: string,
  env: NodeJS.ProcessEnv,
): ServerConfig {
  const { transport, rawType } = normalizeTransport(def);
  const s: ServerConfig = { name, scope, file, transport, rawType };
  if (transport === 'stdio') {
    if (typeof def.command === 'string') s.command = expandVars(def.command, env);
    if (Array.isArray(def.args))
      s.args = def.args.filter((a): a is string => typeof a === 'string').map((a) => expandVars(a, env));
    if (typeof def.command !== 'string')
      s.problem = { code: 'config-invalid', message: 'stdio server without a "command"' };
    return s;
  }
  if (typeof def.url !== 'string') {
    s.problem = { code: 'config-invalid', message: 'remote server without a "url"' };
    return s;
  }
  // a `${VAR}` unset here stays as written (as in Claude Code), but Claude Code's own process may have it set: the
  // entry key hashes the expanded url and headers, so ours would name an entry Claude Code never reads
  const unset = new Set<string>();
  s.url = expandVars(def.url, env, unset);
  try {
    const u = new URL(s.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:' && u.protocol !== 'ws:' && u.protocol !== 'wss:')
      throw new Error('scheme');
  } catch {
    s.problem = { code: 'invalid-url', message: `"url" is not an http(s) URL` };
  }
  if (def.headers !== undefined) {
    if (isPlainObject(def.headers)) {
      s.headers = {};
      for (const [k, v] of Object.entries(def.headers))
        if (typeof v === 'string') s.headers[k] = expandVars(v, env, unset);
    } else {
      s.problem ??= { code: 'config-invalid', message: '"headers" is not an object' };
    }
  }
  if (unset.size && !s.problem) {
    const variables = [...unset];
    s.problem = {
      code: 'unset-variable',
      message: `${variables.map((v) => '${' + v + '}').join(', ')} in the url or headers is not set in this process's environment`,
      variables,
    };
  }
  if (typeof def.headersHelper === 'string') s.headersHelper = def.headersHelper;
  if (isPlainObject(def.oauth)) {
    const o = def.oauth;
    const oauth: OAuthConfig = {};
    if (typeof o.clientId === 'string') oauth.clientId = o.clientId;
    if (typeof o.callbackPort === 'number' && Number.isInteger(o.callbackPort)) oauth.callbackPort = o.callbackPort;
    if (typeof o.authServerMetadataUrl === 'string') oauth.authServerMetadataUrl = o.authServerMetadataUrl;
    if (typeof o.scopes === 'string') oauth.scopes = o.scopes;
    else if (Array.isArray(o.scopes)) oauth.scopes = o.scopes.filter((x) => typeof x === 'string').join(' ');
    s.oauth = oauth;
  }
  return s;
}
