import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { McpAuthError, errnoCode } from '../errors';
import { redact } from '../log';
import { parseStrictJson, readJsonFile, writeFileAtomic, type AtomicWriteOptions } from '../fsutil';
import type { ClaudePaths } from '../paths';
import type { StoreData, StoreSnapshot } from './types';
import { validateStore } from './validate';
import { TEST_HOOKS } from '../build';
import { CredmanStore, windowsCredmanForced } from './credman';

export interface StoreBackend {
  /** `credman`: Claude Code keeps its tokens in Windows Credential Manager (credman.ts); we neither read nor write it */
  readonly kind: 'file' | 'keychain' | 'credman';
  readonly location: string;
  read(): Promise<StoreSnapshot>;
  /** Write the whole JSON. Callers hold the storage lock. */
  write(data: StoreData, opts?: AtomicWriteOptions): Promise<void>;
}

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

/** Claude Code's keychain item names: `Claude Code-credentials`, with `-<8 hex of sha256(CLAUDE_CONFIG_DIR)>` when that is set. */
export function keychainService(configDirEnv: string | undefined): string {
  const base = 'Claude Code-credentials';
  if (!configDirEnv) return base;
  return `${base}-${createHash('sha256').update(configDirEnv.normalize('NFC')).digest('hex').slice(0, 8)}`;
}

export function keychainAccount(env: NodeJS.ProcessEnv = process.env): string {
  let user = env.USER;
  if (!user) {
    try {
      user = os.userInfo().username;
    } catch {
      user = '';
    }
  }
  return /^[a-zA-Z0-9._-]+$/.test(user ?? '') ? user! : 'claude-code-user';
}

/**
 * How long one `security` run may take before it is killed and the operation fails. Claude Code gives its
 * keychain writes 2-5 s; the keychain can be slow to answer after wake, and we hold the storage lock while we
 * wait, so we allow more but never wait for ever.
 */
export const SECURITY_TIMEOUT_MS = 15_000;

/**
 * The longest `add-generic-password` line (with its newline) sent to `security -i`. The tool reads interactive
 * lines into a 4096-byte buffer (MAX_LINE_LEN in Apple's security.c) and cuts a longer line: the command runs
 * with its hex cut short and the rest runs as a command of its own. Claude Code 2.1.328 makes the same choice
 * at 4032 in the keychain writer its Linux build carries (the `Claude Code-device-keys` item:
 * `s.length<=ee ? security -i : security add-generic-password ... -X <hex>`, ee=4032); so do we.
 */
export const SECURITY_LINE_MAX = 4032;

const STDOUT_MAX = 16 * 1024 * 1024;
const STDERR_KEEP = 4 * 1024;

interface SecurityResult {
  /** exit status; undefined when the child was killed (time-out, too much output) or could not start */
  code: number | undefined;
  stdout: string;
  /** the first few KB of stderr (the rest is read and dropped) */
  stderr: string;
  failure?: 'timeout' | 'spawn' | 'output' | 'signal';
}

/**
 * The JSON text we store: JSON.stringify with every character outside printable ASCII written as a \u escape.
 * The same JSON value; but `find-generic-password -w` prints an item as it is only when every byte is printable
 * ASCII, and as hex otherwise (keychain_find.c), so an escaped item reads back byte for byte.
 */
export function keychainText(data: StoreData): string {
  return JSON.stringify(data).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The item's text from `find-generic-password -w` output. `security` prints the bytes as they are when all are
 * printable, and otherwise every byte as `%02x` of a C char, which for a byte >= 0x80 comes out sign-extended
 * (`ffffffc3`). A store is a JSON object, so text that does not start with `{` and is all hex digits is that
 * hex form. (0xff never occurs in UTF-8, so `ffffff` + two digits is always one sign-extended byte.)
 */
export function decodePrintedPassword(printed: string): string {
  const text = printed.replace(/\n$/, '');
  if (text.startsWith('{') || !/^(?:[0-9a-f]{2})+$/.test(text)) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length;) {
    if (text.startsWith('ffffff', i) && /^[89a-f][0-9a-f]$/.test(text.slice(i + 6, i + 8))) {
      bytes.push(parseInt(text.slice(i + 6, i + 8), 16));
      i += 8;
    } else {
      bytes.push(parseInt(text.slice(i, i + 2), 16));
      i += 2;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A short account of a failed run for an error message: no token-looking text, no long hex (the item). */
function describeRun(r: SecurityResult): string {
  if (r.failure === 'timeout') return 'security did not finish in time and was stopped';
  if (r.failure === 'spawn') return 'security could not be started';
  if (r.failure === 'output') return 'security printed more than expected and was stopped';
  if (r.failure === 'signal') return 'security was killed by a signal';
  const detail = redact(r.stderr.replace(/[0-9a-fA-F]{16,}/g, '[hex]'))
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
  return `security exited with ${r.code}${detail ? ` (${detail})` : ''}`;
}

/**
 * The macOS login keychain item Claude Code uses, reached the way Claude Code reaches it: /usr/bin/security
 * through spawn (no shell, no native module). A write goes as one `add-generic-password -U ... -X <hex>` line to
 * `security -i` on stdin, so that the secret never shows in the process list - unless that line is longer than
 * `security -i` reads (SECURITY_LINE_MAX); then, as Claude Code does, the command runs with the hex as an
 * argument, where any local user can see it in the process list (`ps`) while it runs. After a write the item is
 * read back and compared. When there is no item, the file store is read instead.
 */
export class KeychainStore implements StoreBackend {
  readonly kind = 'keychain';
  private readonly timeoutMs: number;
  constructor(
    private readonly service: string,
    private readonly account: string,
    private readonly fallback: FileStore,
    private readonly securityPath = '/usr/bin/security',
    opts: { timeoutMs?: number } = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? SECURITY_TIMEOUT_MS;
  }
  get location(): string {
    return `macOS keychain item "${this.service}" (account ${this.account})`;
  }

  async read(): Promise<StoreSnapshot> {
    const r = await this.run(['find-generic-password', '-a', this.account, '-w', '-s', this.service]);
    if (r.code === 44) return this.fallback.read();
    if (r.code === 36) throw new McpAuthError('keychain-locked', 'the macOS keychain is locked');
    if (r.code !== 0) throw new McpAuthError('keychain-error', describeRun(r));
    const value = parseStrictJson(decodePrintedPassword(r.stdout), this.location, 'store-parse');
    return { data: validateStore(value, this.location), exists: true, location: this.location };
  }

  async write(data: StoreData): Promise<void> {
    const text = keychainText(data);
    const hex = Buffer.from(text, 'utf8').toString('hex');
    for (const s of [this.account, this.service]) {
      if (/[\n\r\0]/.test(s))
        throw new McpAuthError('store-write', 'the keychain item name has a line break or NUL in it');
    }
    const q = (s: string) => `"${s.replace(/(["\\])/g, '\\$1')}"`;
    const line = `add-generic-password -U -a ${q(this.account)} -s ${q(this.service)} -X ${q(hex)}\n`;
    const r =
      Buffer.byteLength(line) <= SECURITY_LINE_MAX
        ? await this.run(['-i'], line)
        : await this.run(['add-generic-password', '-U', '-a', this.account, '-s', this.service, '-X', hex]);
    if (r.code !== 0) throw new McpAuthError('store-write', `could not write the keychain item: ${describeRun(r)}`);

    const back = await this.run(['find-generic-password', '-a', this.account, '-w', '-s', this.service]);
    if (back.code !== 0)
      throw new McpAuthError(
        'store-write',
        `could not read the keychain item back after writing it: ${describeRun(back)}`,
      );
    if (decodePrintedPassword(back.stdout) !== text) {
      throw new McpAuthError(
        'store-write',
        'the keychain item read back after the write differs from what was written',
      );
    }
  }

  /**
   * One `security` run: no shell; stdout and stderr always read (a child blocked on a full pipe would hang while
   * we hold the storage lock); killed after timeoutMs.
   */
  private run(args: string[], input?: string): Promise<SecurityResult> {
    return new Promise((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(this.securityPath, args, {
          stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
          windowsHide: true,
        });
      } catch {
        resolve({ code: undefined, stdout: '', stderr: '', failure: 'spawn' });
        return;
      }
      const out: Buffer[] = [];
      let outLen = 0;
      let err = '';
      let failure: SecurityResult['failure'];
      let exitCode: number | undefined;
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child.stdout?.destroy();
        child.stderr?.destroy();
        child.stdin?.destroy();
        resolve({
          code: failure ? undefined : exitCode,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: err,
          failure,
        });
      };
      const kill = (why: NonNullable<SecurityResult['failure']>) => {
        failure ??= why;
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        // Do not wait for 'close': a process that inherited the pipes could keep them open.
        finish();
      };
      const timer = setTimeout(() => kill('timeout'), this.timeoutMs);
      child.stdout!.on('data', (b: Buffer) => {
        outLen += b.length;
        if (outLen > STDOUT_MAX) {
          kill('output');
          return;
        }
        out.push(b);
      });
      child.stderr!.on('data', (b: Buffer) => {
        if (err.length < STDERR_KEEP) err += b.toString('utf8').slice(0, STDERR_KEEP - err.length);
      });
      child.stdout!.on('error', () => {});
      child.stderr!.on('error', () => {});
      child.on('error', () => {
        failure ??= 'spawn';
        finish();
      });
      child.on('close', (code) => {
        if (code === null) failure ??= 'signal';
        else exitCode = code;
        finish();
      });
      if (input !== undefined) {
        // The child may exit before reading everything (EPIPE): that is its exit status's story, not a crash.
        child.stdin!.on('error', () => {});
        child.stdin!.end(input);
      }
    });
  }
}

export function openStore(
  paths: ClaudePaths,
  opts: { platform?: NodeJS.Platform; env?: NodeJS.ProcessEnv; securityPath?: string } = {},
): StoreBackend {
  const file = new FileStore(paths.credentialsFile);
  const env = opts.env ?? process.env;
  // MCP_AUTH_TEST_PLATFORM: the test build only, so that the CLI's Windows Credential Manager mode runs on any machine
  const platform =
    opts.platform ??
    (TEST_HOOKS && env.MCP_AUTH_TEST_PLATFORM ? (env.MCP_AUTH_TEST_PLATFORM as NodeJS.Platform) : process.platform);
  if (windowsCredmanForced(paths, env, platform)) return new CredmanStore(paths.credentialsFile);
  if (platform === 'darwin' && env.MCP_AUTH_STORE !== 'file') {
    return new KeychainStore(keychainService(paths.configDirEnv), keychainAccount(env), file, opts.securityPath);
  }
  return file;
}
