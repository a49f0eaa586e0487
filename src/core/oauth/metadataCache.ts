import * as fs from 'node:fs';
import * as path from 'node:path';
import { isPlainObject, writeFileAtomic } from '../fsutil';
import { discoverAuthorizationServer, type AuthorizationServer } from './client';
import { assertSecureEndpoint, sameIssuer, type FetchLike } from './http';

/**
 * Authorization-server metadata (public documents, no secret) shared by our processes for a while, beside
 * Claude Code's store: `S/mcp-auth-metadata.json`, `{ "<authorization server URL>": { at, metadata } }`. A fleet
 * of processes meeting one due token then asks the authorization server for its metadata once, not once each
 * (bench/refresh.mjs: that was most of the waiters' cost). A document is kept once a token request to it
 * succeeded (rememberDiscovery: after a refresh or a sign-in) and used for METADATA_TTL_MS; a token request that
 * fails drops it (forgetDiscovery), so moved endpoints are found again at the next refresh. Writes are temp +
 * rename without a lock: a cache, where the last writer winning loses nothing that matters.
 */
export interface MetadataCache {
  dir: string;
  now: () => number;
}

/**
 * A day: a fleet's refresh storm comes when a token expires (often hourly), long after the last lookup, so a
 * short TTL would miss at exactly that moment. Metadata documents rarely change, and a token request that
 * fails drops the copy, so a moved endpoint costs one failed refresh, not a day.
 */
export const METADATA_TTL_MS = 24 * 3_600_000;
const fileOf = (c: MetadataCache) => path.join(c.dir, 'mcp-auth-metadata.json');

type Entries = Record<string, { at: number; metadata: AuthorizationServer }>;

function readEntries(c: MetadataCache): Entries {
  try {
    const v: unknown = JSON.parse(fs.readFileSync(fileOf(c), 'utf8'));
    return isPlainObject(v) ? (v as Entries) : {};
  } catch {
    return {};
  }
}

function usable(e: Entries[string] | undefined, now: number): e is Entries[string] {
  if (!isPlainObject(e) || typeof e.at !== 'number' || !isPlainObject(e.metadata)) return false;
  if (e.at > now || now - e.at >= METADATA_TTL_MS) return false;
  return typeof e.metadata.issuer === 'string' && typeof e.metadata.token_endpoint === 'string';
}

async function writeEntries(c: MetadataCache, entries: Entries): Promise<void> {
  const now = c.now();
  const kept: Entries = {};
  for (const [k, e] of Object.entries(entries)) if (usable(e, now)) kept[k] = e;
  await writeFileAtomic(fileOf(c), JSON.stringify(kept)).catch(() => {});
}

/** discoverAuthorizationServer, through the shared cache. */
export async function cachedDiscovery(url: string, http: FetchLike, c: MetadataCache): Promise<AuthorizationServer> {
  const hit = readEntries(c)[url];
  // RFC 8414 §3.3, as discovery checks it: a document for `url` names `url` as its issuer
  if (usable(hit, c.now()) && sameIssuer(hit.metadata.issuer, url)) {
    assertSecureEndpoint(hit.metadata.token_endpoint as string, 'token endpoint');
    return hit.metadata;
  }
  return discoverAuthorizationServer(url, http);
}

/**
 * After a token request to `metadata`'s endpoint succeeded: keep it for the others (written only then, never on
 * a refresh's error path; not rewritten while a usable copy stands).
 */
export async function rememberDiscovery(
  url: string | undefined,
  metadata: AuthorizationServer,
  c: MetadataCache,
): Promise<void> {
  // only a document that names `url` as its issuer is ever kept under it (a hit is checked the same way)
  if (!url || typeof metadata.issuer !== 'string' || !sameIssuer(metadata.issuer, url)) return;
  const entries = readEntries(c);
  const cur = entries[url];
  if (usable(cur, c.now()) && cur.metadata.token_endpoint === metadata.token_endpoint) return;
  await writeEntries(c, { ...entries, [url]: { at: c.now(), metadata } });
}

/** A token request to what the cache said failed: look the metadata up again next time. */
export async function forgetDiscovery(url: string | undefined, c: MetadataCache): Promise<void> {
  if (!url) return;
  const entries = readEntries(c);
  if (!(url in entries)) return;
  delete entries[url];
  if (Object.keys(entries).length) await writeEntries(c, entries);
  else await fs.promises.rm(fileOf(c), { force: true }).catch(() => {});
}
