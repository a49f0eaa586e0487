import * as fs from 'node:fs';
import * as path from 'node:path';
import { sleep, type TempHome } from './home';

/** Claude Code holding the storage lock (fresh heartbeat) for `ms`. */
export function holdStorageLock(h: TempHome, ms: number): Promise<void> {
  const dir = path.join(h.claudeDir, '.storage-write.lock');
  fs.mkdirSync(dir);
  const t = setInterval(() => {
    const now = new Date();
    try {
      fs.utimesSync(dir, now, now);
    } catch {
      /* released */
    }
  }, 500);
  return sleep(ms).then(() => {
    clearInterval(t);
    fs.rmdirSync(dir);
  });
}
