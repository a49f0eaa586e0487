import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseJsonc, type ParseError, printParseErrorCode } from 'jsonc-parser';
import { McpAuthError, errnoCode, type ErrorCode } from './errors';

/** Files we read are small; anything larger is refused rather than parsed (a 50 MB store is an attack or a bug). */
export const MAX_JSON_BYTES = 16 * 1024 * 1024;

export interface ReadJson<T = unknown> {
  value: T;
  text: string;
  mtimeMs: number;
  mode: number;
}

/**
 * Read and strictly parse a JSON file. Missing file → undefined. Anything else that is wrong → McpAuthError
 * with the given code family (`<family>-read` / `<family>-parse`) and the file, line and column.
 */
export async function readJsonFile<T = unknown>(
  file: string,
  family: 'config' | 'store' | 'cache',
): Promise<ReadJson<T> | undefined> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(file);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
    throw new McpAuthError(
      `${family}-read` as ErrorCode,
      `cannot read ${file} (${errnoCode(e) ?? 'error'})`,
      { file },
      { cause: e },
    );
  }
  if (!st.isFile()) throw new McpAuthError(`${family}-read` as ErrorCode, `${file} is not a regular file`, { file });
  if (st.size > MAX_JSON_BYTES) {
    throw new McpAuthError(`${family}-read` as ErrorCode, `${file} is too large (${st.size} bytes)`, { file });
  }
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (e) {
    throw new McpAuthError(
      `${family}-read` as ErrorCode,
      `cannot read ${file} (${errnoCode(e) ?? 'error'})`,
      { file },
      { cause: e },
    );
  }
  const text = buf.toString('utf8');
  const value = parseStrictJson(text, file, `${family}-parse` as ErrorCode);
  return { value: value as T, text, mtimeMs: st.mtimeMs, mode: st.mode & 0o777 };
}

/** JSON.parse, with the position of the first error found by jsonc-parser when it fails. */
export function parseStrictJson(text: string, file: string, code: ErrorCode): unknown {
  try {
    if (text.charCodeAt(0) === 0xfeff) throw new SyntaxError('byte order mark');
    return JSON.parse(text);
  } catch {
    const errors: ParseError[] = [];
    parseJsonc(text, errors, { allowTrailingComma: false, disallowComments: true, allowEmptyContent: false });
    const first = errors[0];
    const offset = first?.offset ?? 0;
    const { line, column } = lineColumn(text, offset);
    const what =
      text.length === 0
        ? 'empty file'
        : text.charCodeAt(0) === 0xfeff
          ? 'starts with a byte order mark'
          : first
            ? printParseErrorCode(first.error)
            : 'invalid JSON';
    throw new McpAuthError(code, `${file}:${line}:${column}: not valid JSON (${what})`, { file, line, column });
  }
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++)
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  return { line, column: offset - last };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface AtomicWriteOptions {
  /** file mode of the new file; default 0o600 */
  mode?: number;
  /** test-only: called between writing the temp file and renaming it */
  beforeRename?: () => void | Promise<void>;
  /** the rename (fs.promises.rename); injected by tests to fail as Windows does when another program holds the file */
  rename?: (from: string, to: string) => Promise<void>;
  /** waits between rename attempts on EPERM/EBUSY/EACCES, ms (default RENAME_RETRY_MS) */
  renameRetryMs?: readonly number[];
}

/**
 * On Windows a rename over a file another program holds open (an editor, a virus scanner, a backup tool) fails with
 * EPERM, EBUSY or EACCES for a moment: tried again after each of these waits, then reported. The temp file is removed
 * either way, and the target is never half-written (it is only ever replaced whole by the rename).
 */
export const RENAME_RETRY_MS: readonly number[] = [50, 100, 200, 400];
const RENAME_BUSY = new Set(['EPERM', 'EBUSY', 'EACCES']);

/**
 * Write a file atomically: a temp file created with O_EXCL and mode 0600 in the same folder, fsync, rename
 * over the target, fsync the folder. Readers see the old or the new content, never a torn file.
 * The temp name follows Claude Code's own pattern (`<name>.tmp.<8 hex>`).
 */
export async function writeFileAtomic(file: string, text: string, opts: AtomicWriteOptions = {}): Promise<void> {
  const mode = opts.mode ?? 0o600;
  const dir = path.dirname(file);
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `${path.basename(file)}.tmp.${crypto.randomBytes(4).toString('hex')}`);
  const fh = await fs.promises.open(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
  let renamed = false;
  try {
    await fh.writeFile(text, 'utf8');
    await fh.chmod(mode);
    await fh.sync();
    await fh.close();
    await opts.beforeRename?.();
    const rename = opts.rename ?? fs.promises.rename;
    const waits = opts.renameRetryMs ?? RENAME_RETRY_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await rename(tmp, file);
        break;
      } catch (e) {
        if (attempt >= waits.length || !RENAME_BUSY.has(errnoCode(e) ?? '')) throw e;
        await new Promise((r) => setTimeout(r, waits[attempt]));
      }
    }
    renamed = true;
    try {
      const dh = await fs.promises.open(dir, 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    } catch {
      /* fsync of a folder is not supported everywhere */
    }
  } finally {
    if (!renamed) {
      await fh.close().catch(() => {});
      await fs.promises.unlink(tmp).catch(() => {});
    }
  }
}

export function sha256Hex(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}
