import * as fs from 'node:fs';
import { McpAuthError, errnoCode } from '../errors';
import { readJsonFile, writeFileAtomic, type AtomicWriteOptions } from '../fsutil';
import type { StoreBackend, StoreData, StoreSnapshot } from './types';
import { validateStore } from './validate';

/** `S/.credentials.json`: Linux, WSL, Windows, and the macOS fallback. */
export class FileStore implements StoreBackend {
  readonly kind = 'file';
  constructor(readonly file: string) {}
  get location(): string {
    return this.file;
  }
  async read(): Promise<StoreSnapshot> {
    // The store itself must be a regular file: a symbolic link could point our writes anywhere.
    try {
      if ((await fs.promises.lstat(this.file)).isSymbolicLink()) {
        throw new McpAuthError(
          'store-read',
          `${this.file} is a symbolic link; refusing to follow it (make it a regular file, mode 0600)`,
          { file: this.file },
        );
      }
    } catch (e) {
      if (e instanceof McpAuthError) throw e;
    }
    const r = await readJsonFile(this.file, 'store');
    if (!r) return { data: {}, exists: false, location: this.file };
    return {
      data: validateStore(r.value, this.file),
      exists: true,
      mtimeMs: r.mtimeMs,
      mode: r.mode,
      location: this.file,
    };
  }
  async write(data: StoreData, opts: AtomicWriteOptions = {}): Promise<void> {
    // Keep the store's own mode when it is stricter than 0600 (never widen it).
    let mode = 0o600;
    try {
      mode = (await fs.promises.stat(this.file)).mode & 0o600 || 0o600;
    } catch {
      /* new file */
    }
    try {
      await writeFileAtomic(this.file, JSON.stringify(data, null, 2), { ...opts, mode });
    } catch (e) {
      throw new McpAuthError(
        'store-write',
        `cannot write ${this.file} (${errnoCode(e) ?? 'error'})`,
        { file: this.file },
        { cause: e },
      );
    }
  }
}
