/**
 * One process writing our side files, for the concurrency tests (test/unit/core/sidefiles.test.ts). Forked with
 * an IPC channel; it sends `ready`, waits for `go` (so that every writer starts at once), does its writes and
 * sends one result message, then exits.
 *   node sidefile-writer.js notes <dir> <key> <n>        markSpent(key, rt-<key>-<i>) n times; counts marks of
 *                                                        its own that another writer dropped
 *   node sidefile-writer.js profiles <dir> <secureDir> <n>  recordProfile n times (a day apart, so each writes)
 *   node sidefile-writer.js cache-remove <file> <prefix> <stopFile>
 *                                                        removeCacheEntries(name starts with prefix) until stopFile
 *                                                        exists, then once more
 *   node sidefile-writer.js claude-cache <file> <tag> <n>   as Claude Code writes the needs-auth cache: read the
 *                                                        file, add `<tag>-<i>` and `victim-<tag>-<i>`, write it
 *                                                        in place (fs.writeFileSync, no lock, no rename), n times
 */
import * as fs from 'node:fs';
import { removeCacheEntries } from '../../src/core/cache/needsAuthCache';
import { isSpent, markSpent } from '../../src/core/notes';
import { resolvePaths } from '../../src/core/paths';
import { recordProfile } from '../../src/core/profiles';

const pathsOf = (dir: string, secureDir?: string) =>
  resolvePaths({
    home: dir,
    env: { CLAUDE_CONFIG_DIR: dir, ...(secureDir ? { CLAUDE_SECURESTORAGE_CONFIG_DIR: secureDir } : {}) },
  });

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<unknown> {
  const [what, a, b, c] = process.argv.slice(2);
  if (what === 'notes') {
    const paths = pathsOf(a);
    const key = b;
    let lost = 0;
    let errors = 0;
    for (let i = 0; i < Number(c); i++) {
      if (i > 0 && !(await isSpent(paths, key, `rt-${key}-${i - 1}`))) lost++;
      try {
        await markSpent(paths, key, `rt-${key}-${i}`, Date.now());
      } catch {
        errors++;
      }
    }
    return { lost, errors };
  }
  if (what === 'profiles') {
    const paths = pathsOf(a, b);
    const t0 = Date.UTC(2026, 0, 1);
    for (let i = 0; i < Number(c); i++) await recordProfile(paths, t0 + i * 25 * 3600_000);
    return {};
  }
  if (what === 'cache-remove') {
    let rounds = 0;
    let removed = 0;
    const errors: string[] = [];
    for (;;) {
      const last = fs.existsSync(c);
      try {
        removed += (await removeCacheEntries(a, (n) => n.startsWith(b))).removed.length;
      } catch (e) {
        errors.push((e as { code?: string }).code ?? String(e));
        if (last) continue; // the last pass must succeed
      }
      rounds++;
      if (last) break;
      await pause(1);
    }
    return { rounds, removed, errors };
  }
  if (what === 'claude-cache') {
    const n = Number(c);
    for (let i = 0; i < n; i++) {
      let obj: Record<string, unknown> = {};
      try {
        obj = JSON.parse(fs.readFileSync(a, 'utf8')) as Record<string, unknown>;
      } catch {
        /* Claude Code reads a missing or broken cache as empty */
      }
      obj[`${b}-${i}`] = { timestamp: Date.now() };
      obj[`victim-${b}-${i}`] = { timestamp: Date.now() };
      fs.writeFileSync(a, JSON.stringify(obj));
      await pause(i % 3);
    }
    return {};
  }
  throw new Error(`unknown: ${what}`);
}

process.on('message', (m) => {
  if (m !== 'go') return;
  main().then(
    (r) => process.send!({ ok: true, ...(r as object) }, () => process.exit(0)),
    (e) => process.send!({ ok: false, error: String(e) }, () => process.exit(1)),
  );
});
process.send!('ready');
