import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { McpAuthError, errnoCode } from '../errors';
import { parseStrictJson, readJsonFile, writeFileAtomic, type AtomicWriteOptions } from '../fsutil';
import type { ClaudePaths } from '../paths';
import type { StoreData, StoreSnapshot } from './types';
import { validateStore } from './validate';

export interface StoreBackend {
  readonly kind: 'file' | 'keychain';
  readonly location: string;
  read(): Promise<StoreSnapshot>;
  /** Write the whole JSON. Callers hold the storage lock. */
  write(data: StoreData, opts?: AtomicWriteOptions): Promise<void>;
}

/** `S/.credentials.json`: Linux, WSL, Windows, and the macOS fallback. */
export class FileStore implements StoreBackend {
  readonly kind = 'file';
  constructor(readonly file: string) {}
  get location(): string { return this.file; }
  async read(): Promise<StoreSnapshot> {
    // The store itself must be a regular file: a symbolic link could point our writes anywhere.
    try {
      if ((await fs.promises.lstat(this.file)).isSymbolicLink()) {
        throw new McpAuthError('store-read', `${this.file} is a symbolic link; refusing to follow it (make it a regular file, mode 0600)`, { file: this.file });
      }
    } catch (e) { if (e instanceof McpAuthError) throw e; }
    const r = await readJsonFile(this.file, 'store');
    if (!r) return { data: {}, exists: false, location: this.file };
    return { data: validateStore(r.value, this.file), exists: true, mtimeMs: r.mtimeMs, mode: r.mode, location: this.file };
  }
  async write(data: StoreData, opts: AtomicWriteOptions = {}): Promise<void> {
    // Keep the store's own mode when it is stricter than 0600 (never widen it).
    let mode = 0o600;
    try { mode = (await fs.promises.stat(this.file)).mode & 0o600 || 0o600; } catch { /* new file */ }
    try {
      await writeFileAtomic(this.file, JSON.stringify(data, null, 2), { ...opts, mode });
    } catch (e) {
      throw new McpAuthError('store-write', `cannot write ${this.file} (${errnoCode(e) ?? 'error'})`, { file: this.file }, { cause: e });
    }
  }
}

/** Claude Code's keychain item names (format doc). */
export function keychainService(configDirEnv: string | undefined): string {
  const base = 'Claude Code-credentials';
  if (!configDirEnv) return base;
  return `${base}-${createHash('sha256').update(configDirEnv.normalize('NFC')).digest('hex').slice(0, 8)}`;
}

export function keychainAccount(env: NodeJS.ProcessEnv = process.env): string {
  let user = env.USER;
  if (!user) { try { user = os.userInfo().username; } catch { user = ''; } }
  return /^[a-zA-Z0-9._-]+$/.test(user ?? '') ? user! : 'claude-code-user';
}

/**
 * The macOS login keychain item Claude Code uses, reached the way Claude Code reaches it: /usr/bin/security
 * through execFile (no shell, no native module). The write goes through `security -i` on stdin so that the
 * secret never shows in the process list. When there is no item, the file store is read instead.
 */
export class KeychainStore implements StoreBackend {
  readonly kind = 'keychain';
  constructor(
    private readonly service: string,
    private readonly account: string,
    private readonly fallback: FileStore,
    private readonly securityPath = '/usr/bin/security',
  ) {}
  get location(): string { return `macOS keychain item "${this.service}" (account ${this.account})`; }

  async read(): Promise<StoreSnapshot> {
    const r = await this.run(['find-generic-password', '-a', this.account, '-w', '-s', this.service]);
    if (r.code === 44) return this.fallback.read();
    if (r.code === 36) throw new McpAuthError('keychain-locked', 'the macOS keychain is locked');
    if (r.code !== 0) throw new McpAuthError('keychain-error', `security exited with ${r.code}`);
    const text = r.stdout.replace(/\n$/, '');
    const value = parseStrictJson(text, this.location, 'store-parse');
    return { data: validateStore(value, this.location), exists: true, location: this.location };
  }

  async write(data: StoreData): Promise<void> {
    const hex = Buffer.from(JSON.stringify(data), 'utf8').toString('hex');
    const q = (s: string) => `"${s.replace(/(["\\])/g, '\\$1')}"`;
    const line = `add-generic-password -U -a ${q(this.account)} -s ${q(this.service)} -X ${q(hex)}\n`;
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(this.securityPath, ['-i'], { stdio: ['pipe', 'ignore', 'pipe'] });
      child.on('error', reject);
      child.on('close', (c) => resolve(c ?? 1));
      child.stdin.end(line);
    });
    if (code !== 0) throw new McpAuthError('store-write', `security exited with ${code} while writing the keychain item`);
  }

  private run(args: string[]): Promise<{ code: number; stdout: string }> {
    return new Promise((resolve) => {
      execFile(this.securityPath, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout: stdout ?? '' });
      });
    });
  }
}

export function openStore(paths: ClaudePaths, opts: { platform?: NodeJS.Platform; env?: NodeJS.ProcessEnv; securityPath?: string } = {}): StoreBackend {
  const file = new FileStore(paths.credentialsFile);
  const platform = opts.platform ?? process.platform;
  const env = opts.env ?? process.env;
  if (platform === 'darwin' && env.MCP_AUTH_STORE !== 'file') {
    return new KeychainStore(keychainService(paths.configDirEnv), keychainAccount(env), file, opts.securityPath);
  }
  return file;
}
