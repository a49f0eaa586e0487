/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * A stand-in for what Claude Code does to one MCP entry without refreshing it, with proper-lockfile exactly as
 * Claude Code uses it (format doc):
 *   node cc-store-writer.js mark  <secureDir> <key>
 *     its 401-path refresh lost to another process's (invalid_grant): under the storage lock only, mark the
 *     entry signed out — accessToken "", no refreshToken, expiresAt 0, client kept.
 *   node cc-store-writer.js clear <secureDir> <key>
 *     2.1.332 clearing a sign-in: take the entry's refresh lock (20 tries 250 ms apart; without it if not had),
 *     then under the storage lock delete the key; release.
 * Prints one JSON line: what it did, whether it had the refresh lock, and how long it waited for it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import * as lockfile from 'proper-lockfile';

async function underStorageLock(secureDir: string, fn: (data: Record<string, any>) => void): Promise<void> {
  const store = path.join(secureDir, '.credentials.json');
  const release = await lockfile.lock(path.join(secureDir, '.storage-write'), {
    realpath: false,
    stale: 15_000,
    retries: { retries: 10, minTimeout: 100, maxTimeout: 1000 },
  });
  try {
    const data = JSON.parse(fs.readFileSync(store, 'utf8'));
    fn(data);
    const tmp = `${store}.tmp.${crypto.randomBytes(4).toString('hex')}`;
    fs.writeFileSync(tmp, JSON.stringify(data, null, 2), { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, store);
  } finally {
    await release();
  }
}

async function main() {
  const [what, secureDir, key] = process.argv.slice(2);
  if (what === 'mark') {
    await underStorageLock(secureDir, (data) => {
      const e = data.mcpOAuth[key];
      data.mcpOAuth[key] = { ...e, accessToken: '', expiresAt: 0 };
      delete data.mcpOAuth[key].refreshToken;
    });
    process.stdout.write(JSON.stringify({ did: 'mark' }) + '\n');
    return;
  }
  const target = path.join(secureDir, `mcp-refresh-${key.replace(/[^a-zA-Z0-9]/g, '_')}.lock`);
  const t0 = Date.now();
  let release: (() => Promise<void>) | undefined;
  try {
    release = await lockfile.lock(target, {
      realpath: false,
      stale: 60_000,
      update: 5_000,
      retries: { retries: 20, minTimeout: 250, maxTimeout: 250 },
    });
  } catch {
    /* clears without it */
  }
  const waitedMs = Date.now() - t0;
  try {
    await underStorageLock(secureDir, (data) => {
      delete data.mcpOAuth[key];
    });
  } finally {
    await release?.();
  }
  process.stdout.write(JSON.stringify({ did: 'clear', hadLock: !!release, waitedMs }) + '\n');
}
void main();
