import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { McpAuthError, errnoCode } from '../errors';
import { parseStrictJson } from '../fsutil';
import type { StoreBackend, StoreData, StoreSnapshot } from './types';
import { validateStore } from './validate';
import type { FileStore } from './file';
import {
  SECURITY_LINE_MAX,
  SECURITY_TIMEOUT_MS,
  STDERR_KEEP,
  STDOUT_MAX,
  addLine,
  decodePrintedPassword,
  describeRun,
  keychainText,
  type SecurityResult,
} from './security';
import {
  OVERFLOW_SLOTS,
  mergeOverflow,
  newOverflowKey,
  nextSlot,
  overflowPointer,
  overflowService,
  sealOverflow,
  splitStore,
  unsealOverflow,
  withoutPointer,
  type OverflowPointer,
} from './overflow';

/**
 * Claude Code's keychain item name: `Claude Code-credentials`, with `-<8 hex of sha256 (NFC)>` of
 * `CLAUDE_SECURESTORAGE_CONFIG_DIR` when that is set and non-empty, else of `CLAUDE_CONFIG_DIR` when that is set; no
 * suffix when neither is set or `CLAUDE_SECURESTORAGE_CONFIG_DIR` is "" (claude-code-format.md; 2.1.332's code).
 */
export function keychainService(configDirEnv: string | undefined, secureStorageEnv?: string): string {
  const base = 'Claude Code-credentials';
  const dir = secureStorageEnv !== undefined ? secureStorageEnv : configDirEnv;
  if (!dir) return base;
  return `${base}-${createHash('sha256').update(dir.normalize('NFC')).digest('hex').slice(0, 8)}`;
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

/** What the keychain holds now: the main item (its JSON value) and, when it points at one, the overflow's sections. */
interface KeychainState {
  /** the main item's JSON value; undefined when there is no item */
  main?: Record<string, unknown>;
  pointer?: OverflowPointer;
  /** the store as Claude Code 2.1.332 reads it (no pointer) */
  data: StoreData;
  overflowError?: StoreSnapshot['overflowError'];
}

/**
 * The macOS login keychain item Claude Code uses, reached the way Claude Code reaches it: /usr/bin/security
 * through spawn (no shell, no native module).
 *
 * Read: the main item, then - when it holds a `keychainOverflow` pointer (Claude Code 2.1.332 splits a large store)
 * - the overflow item it names, opened with the pointer's key and merged by Claude Code's rule (overflow.ts). A
 * missing or unopenable overflow is `overflowError` on the snapshot, never an empty store.
 *
 * Write: the main item (the overflow key, the claude.ai login, every token left in it) always goes as one line to
 * `security -i` on stdin, never in a process's arguments (`ps`). When its line would pass SECURITY_LINE_MAX, the
 * largest entries move, sealed as Claude Code seals them, into the next overflow slot: that item is written first,
 * then the main item pointing at it, so that a crash between the two leaves the previous pair readable. The
 * overflow item goes as Claude Code 2.1.332 sends it: its base64 - AES-256-GCM ciphertext under a fresh key that
 * only ever travels inside the main item, on stdin - as the `-w` argument (`putOverflow`). Only a main item that
 * does not fit even with every movable entry moved out is `store-too-large` (and an overflow past the system's
 * argument limit, E2BIG). Each item is read back and compared. After a verified write the plaintext fallback
 * file goes, as Claude Code removes it on its first keychain write. When there is no item, the file store is read
 * instead.
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
    const st = await this.state();
    if (!st.main) return this.fallback.read();
    return {
      data: st.data,
      exists: true,
      location: this.location,
      ...(st.overflowError ? { overflowError: st.overflowError } : {}),
    };
  }

  /** The main item and its overflow as they are now. Throws keychain-locked / keychain-error / store-parse / store-invalid. */
  private async state(): Promise<KeychainState> {
    const r = await this.find(this.service);
    if (r.code === 44) return { data: {} };
    if (r.code === 36) throw new McpAuthError('keychain-locked', 'the macOS keychain is locked');
    if (r.code !== 0) throw new McpAuthError('keychain-error', describeRun(r));
    const value = parseStrictJson(decodePrintedPassword(r.stdout), this.location, 'store-parse');
    const main = validateStore(value, this.location);
    const pointer = overflowPointer(main);
    if (!pointer) return { main, data: validateStore(withoutPointer(main), this.location) };

    const name = overflowService(this.service, pointer.slot);
    const o = await this.find(name);
    if (o.code === 36) throw new McpAuthError('keychain-locked', 'the macOS keychain is locked');
    if (o.code !== 0 && o.code !== 44) throw new McpAuthError('keychain-error', describeRun(o));
    const sections = o.code === 0 ? unsealOverflow(pointer.key, o.stdout) : undefined;
    if (!sections) {
      const overflowError: KeychainState['overflowError'] =
        o.code === 44
          ? {
              code: 'store-overflow-missing',
              message: `the keychain item "${this.service}" points at its overflow item "${name}" (where Claude Code 2.1.332 moves entries of a large store), and that item is missing`,
            }
          : {
              code: 'store-overflow-unreadable',
              message: `the keychain item "${this.service}" points at its overflow item "${name}", and that item does not open with the key the main item holds`,
            };
      return { main, pointer, data: validateStore(withoutPointer(main), this.location), overflowError };
    }
    return { main, pointer, data: validateStore(mergeOverflow(main, sections), this.location) };
  }

  async write(data: StoreData): Promise<void> {
    for (const s of [this.account, this.service]) {
      if (/[\n\r\0]/.test(s))
        throw new McpAuthError('store-write', 'the keychain item name has a line break or NUL in it');
    }
    // What is there now decides the next overflow slot; an overflow we cannot read is never written over.
    let now: KeychainState;
    try {
      now = await this.state();
    } catch (e) {
      if (e instanceof McpAuthError && (e.code === 'store-parse' || e.code === 'store-invalid')) {
        now = { data: {} }; // a corrupt item is rebuilt from what the caller holds, as Claude Code does
      } else {
        const why = e instanceof McpAuthError ? e.message : String(e);
        throw new McpAuthError('store-write', `could not read the keychain item before writing it: ${why}`);
      }
    }
    if (now.overflowError) {
      throw new McpAuthError(
        now.overflowError.code,
        `${now.overflowError.message}; not writing the keychain, so that nothing more is lost`,
      );
    }

    const slot = nextSlot(now.pointer?.slot);
    const ovName = overflowService(this.service, slot);
    const key = newOverflowKey();
    const pointer = { slot, key: key.toString('base64') };
    const mainLine = (main: Record<string, unknown>) =>
      addLine(this.account, this.service, '-X', Buffer.from(keychainText(main), 'utf8').toString('hex'));
    const withPointer = (main: Record<string, unknown>) => ({ ...main, keychainOverflow: pointer });
    const plan = splitStore(
      withoutPointer(data),
      (main, p) => Buffer.byteLength(mainLine(p ? withPointer(main) : main)) <= SECURITY_LINE_MAX,
      (v) => keychainText(v as StoreData).length,
    );
    if (!plan) {
      throw new McpAuthError(
        'store-too-large',
        `the store does not fit the keychain item "${this.service}" even with every movable entry moved to the overflow item; not writing it (a longer line would put it on a command line)`,
      );
    }

    if (plan.moved) await this.putOverflow(ovName, sealOverflow(plan.moved, key));
    const main = plan.moved ? withPointer(plan.main) : plan.main;
    await this.put(this.service, ['-i'], mainLine(main), keychainText(main as StoreData));

    // Claude Code removes the plaintext store on its first keychain write: the keychain now holds what it held.
    try {
      await fs.promises.rm(this.fallback.file, { force: true });
    } catch {
      /* left in place: the keychain wins over it on every read */
    }
  }

  /**
   * Delete the credentials: the main item and both overflow items (as Claude Code does). A missing item is fine.
   * Callers hold the storage lock.
   */
  async delete(): Promise<void> {
    for (const name of [this.service, ...OVERFLOW_SLOTS.map((s) => overflowService(this.service, s))]) {
      const r = await this.run(['delete-generic-password', '-a', this.account, '-s', name]);
      if (r.code !== 0 && r.code !== 44)
        throw new McpAuthError('store-write', `could not delete the keychain item "${name}": ${describeRun(r)}`);
    }
  }

  private find(service: string): Promise<SecurityResult> {
    return this.run(['find-generic-password', '-a', this.account, '-w', '-s', service]);
  }

  /**
   * The overflow item, written as Claude Code 2.1.332 writes it: `add-generic-password -U -a <account> -s
   * <service>-overflow-<slot> -w <base64> [<keychain>]` as arguments, never through `security -i` (whatever its
   * length), into the keychain that already holds that overflow item, else the main item (`keychainOf`). Only this
   * sealed blob may ever be an argument: AES-256-GCM ciphertext (random IV, authenticated) under a key made for
   * this write that only ever travels inside the main item, on stdin - so `ps` shows nothing that opens.
   */
  private async putOverflow(service: string, blob: string): Promise<void> {
    if (service === this.service || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) {
      throw new McpAuthError('store-write', 'refusing to put anything but a sealed overflow item on a command line');
    }
    const keychain = await this.keychainOf(service);
    return this.put(
      service,
      ['add-generic-password', '-U', '-a', this.account, '-s', service, '-w', blob, ...(keychain ? [keychain] : [])],
      undefined,
      blob,
    );
  }

  /**
   * The keychain file the overflow item is in, else the one the main item is in, as Claude Code finds it before
   * writing the overflow (`find-generic-password` without `-w` prints `keychain: "<path>"` first); undefined when
   * neither item is there (the default keychain). A run that did not finish fails the write, as in Claude Code.
   */
  private async keychainOf(overflow: string): Promise<string | undefined> {
    const attrs = (service: string) => this.run(['find-generic-password', '-a', this.account, '-s', service]);
    const [o, m] = await Promise.all([attrs(overflow), attrs(this.service)]);
    const r = o.code === 44 ? m : o;
    if (r.code === undefined)
      throw new McpAuthError('store-write', `could not look up the keychain of "${overflow}": ${describeRun(r)}`);
    return r.code === 0 ? /^keychain: "(\/[^"\\\n]+)"(?:\n|$)/.exec(r.stdout)?.[1] : undefined;
  }

  /** One `add-generic-password` run (`['-i']` with its line on stdin, or its arguments), then the item read back and compared with `expected`. */
  private async put(service: string, args: string[], input: string | undefined, expected: string): Promise<void> {
    const r = await this.run(args, input);
    if (r.failure === 'spawn' && r.errno === 'E2BIG') {
      throw new McpAuthError(
        'store-too-large',
        `the entries moved out of the keychain item "${this.service}" are too large for the system's argument limit when writing its overflow item "${service}"; nothing written`,
      );
    }
    if (r.code !== 0)
      throw new McpAuthError('store-write', `could not write the keychain item "${service}": ${describeRun(r)}`);
    const back = await this.find(service);
    if (back.code !== 0)
      throw new McpAuthError(
        'store-write',
        `could not read the keychain item "${service}" back after writing it: ${describeRun(back)}`,
      );
    const got = decodePrintedPassword(back.stdout);
    if (got !== expected && got.trim() !== expected) {
      throw new McpAuthError(
        'store-write',
        `the keychain item "${service}" read back after the write differs from what was written`,
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
      } catch (e) {
        resolve({ code: undefined, stdout: '', stderr: '', failure: 'spawn', errno: errnoCode(e) });
        return;
      }
      const out: Buffer[] = [];
      let outLen = 0;
      let err = '';
      let failure: SecurityResult['failure'];
      let exitCode: number | undefined;
      let errno: string | undefined;
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
          ...(errno ? { errno } : {}),
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
      child.on('error', (e) => {
        failure ??= 'spawn';
        errno ??= errnoCode(e);
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
