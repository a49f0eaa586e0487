import * as path from 'node:path';
import { isPlainObject, readJsonFile, writeFileAtomic } from '../fsutil';
import type { ClaudePaths } from '../paths';
import type { Keeper, KeeperAction } from './keeper';
import type { KeptReason } from './staleness';

/**
 * What a running keeper last did and why it keeps what it keeps, per server name, in a file of ours beside
 * Claude Code's store (nothing of Claude Code's reads it): `mcp-auth doctor`, a separate process, shows it.
 * Machine data only (codes, probe verdicts, times); words come from the CLI. Best effort, last writer wins.
 */
export interface KeeperRecord {
  pid: number;
  updatedAt: number;
  servers: Record<string, { last: KeeperAction; kept?: { reason: KeptReason; entryTimestamp: number } }>;
}

export const keeperRecordFile = (paths: ClaudePaths): string => path.join(paths.secureDir, 'mcp-auth-keeper.json');

export async function readKeeperRecord(paths: ClaudePaths): Promise<KeeperRecord | undefined> {
  try {
    const r = await readJsonFile(keeperRecordFile(paths), 'cache');
    if (
      !r ||
      !isPlainObject(r.value) ||
      typeof r.value.pid !== 'number' ||
      typeof r.value.updatedAt !== 'number' ||
      !isPlainObject(r.value.servers)
    )
      return undefined;
    return r.value as unknown as KeeperRecord;
  } catch {
    return undefined;
  }
}

let chain: Promise<unknown> = Promise.resolve();

/** Record one action (serialised within this process). */
export function writeKeeperRecord(paths: ClaudePaths, keeper: Keeper, a: KeeperAction): Promise<void> {
  const next = chain.then(async () => {
    const prev = (await readKeeperRecord(paths)) ?? { pid: process.pid, updatedAt: 0, servers: {} };
    const servers = prev.pid === process.pid ? prev.servers : {};
    const kept = keeper.keptReasons();
    servers[a.name] = { last: a, kept: kept.get(a.name) };
    for (const n of Object.keys(servers)) if (n !== a.name && !kept.has(n)) delete servers[n].kept;
    const rec: KeeperRecord = { pid: process.pid, updatedAt: a.at, servers };
    await writeFileAtomic(keeperRecordFile(paths), JSON.stringify(rec, null, 2), { mode: 0o600 });
  });
  chain = next.catch(() => {});
  return next;
}
