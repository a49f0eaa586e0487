import { McpAuthError } from '../errors';
import { isPlainObject } from '../fsutil';
import type { StoreData, TokenEntry } from './types';

const STRING_FIELDS = [
  'serverName',
  'serverUrl',
  'accessToken',
  'refreshToken',
  'scope',
  'clientId',
  'clientSecret',
  'issuer',
  'redirectUri',
  'stepUpScope',
];

/** Check the store's shape where we rely on it; throw store-invalid naming the place. */
export function validateStore(data: unknown, file: string): StoreData {
  if (!isPlainObject(data))
    throw new McpAuthError('store-invalid', `${file}: the credential store is not a JSON object`, { file });
  for (const k of ['mcpOAuth', 'mcpOAuthClientConfig']) {
    if (data[k] !== undefined && !isPlainObject(data[k])) {
      throw new McpAuthError('store-invalid', `${file}: "${k}" is not an object`, { file });
    }
  }
  return data as StoreData;
}

/** Problem with one entry, or undefined when it is usable. Entries are checked one by one so one bad entry spoils only its server. */
export function entryProblem(entry: unknown): string | undefined {
  if (!isPlainObject(entry)) return 'entry is not an object';
  for (const f of STRING_FIELDS) {
    if (entry[f] !== undefined && typeof entry[f] !== 'string') return `"${f}" is not a string`;
  }
  if (entry.expiresAt !== undefined && (typeof entry.expiresAt !== 'number' || !Number.isFinite(entry.expiresAt))) {
    return '"expiresAt" is not a number';
  }
  if (entry.discoveryState !== undefined && !isPlainObject(entry.discoveryState))
    return '"discoveryState" is not an object';
  return undefined;
}

export function asEntry(entry: unknown): TokenEntry | undefined {
  return entryProblem(entry) === undefined ? (entry as TokenEntry) : undefined;
}
