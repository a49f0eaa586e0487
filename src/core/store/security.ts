import { redact } from '../log';
import type { StoreData } from './types';

/* Talking to macOS /usr/bin/security: its limits, how it prints an item, and how we quote a `security -i` line. */

/**
 * How long one `security` run may take before it is killed and the operation fails. Claude Code gives its
 * keychain writes 2-5 s; the keychain can be slow to answer after wake, and we hold the storage lock while we
 * wait, so we allow more but never wait for ever.
 */
export const SECURITY_TIMEOUT_MS = 15_000;

/**
 * The longest `add-generic-password` line (with its newline) sent to `security -i`. The tool reads interactive
 * lines into a 4096-byte buffer (MAX_LINE_LEN in Apple's security.c) and cuts a longer line: the command runs
 * with its hex cut short and the rest runs as a command of its own. Claude Code makes the same choice at 4032:
 * 2.1.328 in the keychain writer its Linux build carries (the `Claude Code-device-keys` item), and 2.1.332's
 * credentials writer in its macOS build (`s.length>X`, X=4032, where `s` is the main item's line with its
 * newline: past it the item is split); so do we.
 */
export const SECURITY_LINE_MAX = 4032;

export const STDOUT_MAX = 16 * 1024 * 1024;
export const STDERR_KEEP = 4 * 1024;

export interface SecurityResult {
  /** exit status; undefined when the child was killed (time-out, too much output) or could not start */
  code: number | undefined;
  stdout: string;
  /** the first few KB of stderr (the rest is read and dropped) */
  stderr: string;
  failure?: 'timeout' | 'spawn' | 'output' | 'signal';
  /** the error code when the child could not start (E2BIG: the arguments pass the system's limit) */
  errno?: string;
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
export function describeRun(r: SecurityResult): string {
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

/** One `add-generic-password -U` line for `security -i` (split_line quoting: a backslash takes the next character). */
export function addLine(account: string, service: string, flag: '-X' | '-w', value: string): string {
  const q = (s: string) => `"${s.replace(/(["\\])/g, '\\$1')}"`;
  return `add-generic-password -U -a ${q(account)} -s ${q(service)} ${flag} ${q(value)}\n`;
}
