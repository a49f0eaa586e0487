import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * How a lock waiter sleeps (design.md "Waiting"): until a file it cares about changes, with a jittered backoff
 * as the safety net for missed events. The folder holding a lock also holds the store, its temp files, every
 * other lock and its heartbeats, owner files and notes; a waiter woken by each of those and re-reading the whole
 * store every time costs the machine what the holder needs (issue 22: ~18 store reads per waiter per second).
 * So events are filtered by name, and the caller learns which of its names moved.
 */

/** What woke a sleeper: the names (basenames) that had events, `*` for an event without a name; or the timer. */
export interface Wake {
  timer: boolean;
  names: ReadonlySet<string>;
}

/** A name-filtered watch of one or more folders. Events that arrive while nobody sleeps are kept for the next sleep. */
export class FolderWake {
  private readonly watchers: fs.FSWatcher[] = [];
  private seen = new Set<string>();
  private wakeup: (() => void) | undefined;

  /** `files`: full paths; each one's folder is watched for events about its name. */
  constructor(files: string[]) {
    const byDir = new Map<string, Set<string>>();
    for (const f of files) {
      const d = path.dirname(f);
      if (!byDir.has(d)) byDir.set(d, new Set());
      byDir.get(d)!.add(path.basename(f));
    }
    for (const [dir, names] of byDir) {
      try {
        const w = fs.watch(dir, { persistent: false }, (_ev, file) => {
          const name = file == null ? '*' : file.toString();
          if (name !== '*' && !names.has(name)) return;
          this.seen.add(name);
          this.wakeup?.();
        });
        w.on('error', () => {
          /* the backoff still runs */
        });
        this.watchers.push(w);
      } catch {
        /* no watch (folder gone, no inotify left): the backoff alone */
      }
    }
  }

  /** Sleep up to `ms`, or until one of the names had an event (also one that came since the last sleep). */
  sleep(ms: number): Promise<Wake> {
    if (this.seen.size) return Promise.resolve(this.take(false));
    return new Promise((resolve) => {
      const t = setTimeout(() => done(true), Math.max(0, ms));
      const done = (timer: boolean) => {
        clearTimeout(t);
        this.wakeup = undefined;
        resolve(this.take(timer));
      };
      this.wakeup = () => done(false);
    });
  }

  private take(timer: boolean): Wake {
    const names = this.seen;
    this.seen = new Set();
    return { timer, names };
  }

  close(): void {
    for (const w of this.watchers) w.close();
    this.watchers.length = 0;
    this.wakeup = undefined;
  }
}

/** Exponential backoff with jitter: 50 ms doubling to about 1 s by default; each delay drawn in [base/2, base]. */
export class Backoff {
  private base: number;
  constructor(
    minMs = 50,
    private readonly maxMs = 1000,
    private readonly random: () => number = Math.random,
  ) {
    this.base = minMs;
  }
  next(): number {
    const d = this.base * (0.5 + 0.5 * this.random());
    this.base = Math.min(this.base * 2, this.maxMs);
    return Math.round(d);
  }
}

/**
 * A cheap signature of a file (device, inode, size, mtime, ctime): a rename into place, a write in place and
 * a removal all change it. Used to read and parse the store only when it may have changed.
 */
export function fileSignature(file: string): string {
  try {
    const st = fs.statSync(file, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return 'absent';
  }
}
