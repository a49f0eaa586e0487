/**
 * A stand-in for one Claude Code process refreshing one MCP entry, using proper-lockfile exactly as Claude
 * Code 2.1.328 does (format doc): the refresh lock `S/mcp-refresh-<key>.lock` with realpath:false, stale 60 s,
 * update 5 s, 5 tries 1–2 s apart; re-read; POST grant_type=refresh_token; the storage lock
 * `S/.storage-write` (stale 15 s) around an atomic write. Run as a child process:
 *   node cc-holder.js <secureDir> <key> <tokenEndpoint> <resource> [holdMs] [holdBeforeMs]
 * Prints `locked <inode>` once it holds the refresh lock, then one JSON line with what happened. `holdMs`: how
 * long it keeps the lock after its write; `holdBeforeMs`: how long it holds the lock before its request (a slow
 * Claude Code). A tokenEndpoint of `-` sends no request at all: the lock is held and released, nothing written
 * (a Claude Code whose refresh went nowhere).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import * as lockfile from 'proper-lockfile';

async function main() {
  const [secureDir, key, tokenEndpoint, resource, holdMsArg, holdBeforeArg] = process.argv.slice(2);
  const holdMs = Number(holdMsArg ?? '0');
  const holdBeforeMs = Number(holdBeforeArg ?? '0');
  const store = path.join(secureDir, '.credentials.json');
  const target = path.join(secureDir, `mcp-refresh-${key.replace(/[^a-zA-Z0-9]/g, '_')}.lock`);
  let compromised: string | undefined;
  const release = await lockfile.lock(target, {
    realpath: false,
    stale: 60_000,
    update: 5_000,
    retries: { retries: 5, minTimeout: 1000, maxTimeout: 2000 },
    onCompromised: (e) => {
      compromised = (e as NodeJS.ErrnoException).code ?? String(e);
    },
  });
  process.stdout.write(`locked ${fs.statSync(`${target}.lock`).ino}\n`);
  if (holdBeforeMs > 0) await new Promise((r) => setTimeout(r, holdBeforeMs));
  if (tokenEndpoint === '-') {
    await release();
    process.stdout.write(JSON.stringify({ status: null, error: null, compromised: compromised ?? null }) + '\n');
    return;
  }
  const entry = JSON.parse(fs.readFileSync(store, 'utf8')).mcpOAuth[key];
  const res = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: entry.refreshToken,
      resource,
      client_id: entry.clientId,
    }),
  });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status === 200) {
    const releaseStorage = await lockfile.lock(path.join(secureDir, '.storage-write'), {
      realpath: false,
      stale: 15_000,
      retries: { retries: 10, minTimeout: 100, maxTimeout: 1000 },
    });
    try {
      const data = JSON.parse(fs.readFileSync(store, 'utf8'));
      data.mcpOAuth[key] = {
        ...data.mcpOAuth[key],
        accessToken: body.access_token,
        refreshToken: body.refresh_token ?? entry.refreshToken,
        expiresAt: Date.now() + Number(body.expires_in) * 1000,
      };
      const tmp = `${store}.tmp.${crypto.randomBytes(4).toString('hex')}`;
      fs.writeFileSync(tmp, JSON.stringify(data, null, 2), { mode: 0o600, flag: 'wx' });
      fs.renameSync(tmp, store);
    } finally {
      await releaseStorage();
    }
  }
  if (holdMs > 0) await new Promise((r) => setTimeout(r, holdMs));
  let releaseError: string | undefined;
  try {
    await release();
  } catch (e) {
    releaseError = (e as NodeJS.ErrnoException).code;
  }
  process.stdout.write(
    JSON.stringify({
      status: res.status,
      error: body.error ?? null,
      compromised: compromised ?? null,
      releaseError: releaseError ?? null,
    }) + '\n',
  );
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ crashed: String(e) }) + '\n');
  process.exit(2);
});
