/**
 * A stand-in for macOS /usr/bin/security (the tests run on Linux), close enough to the real tool that a write
 * which would break on a Mac breaks here too.
 *
 * `fakeSecurity(dir, behaviour)` writes `dir/security`: a shell script that records its argv (one argument a
 * line, then `---`) in `dir/argv.log`, then runs this file with Node. The keychain is a JSON file,
 * `dir/keychain.json` (service + account -> hex of the item's bytes), so a write can be read back.
 *
 * What it copies from Apple's SecurityTool (security.c, readline_cssm.c, keychain_find.c):
 * - Interactive mode (`-i`) reads each line with `readline(buffer, MAX_LINE_LEN)`, MAX_LINE_LEN = 4096, into a
 *   fixed buffer: it keeps at most 4095 bytes, stops there without reading on, and NUL-terminates. The rest of
 *   a longer line is read as the next command line. So a long `add-generic-password ... -X "<hex>"` line runs
 *   as (1) the add with its hex cut short (an unterminated quote simply ends the last argument), which stores
 *   the cut data, and then (2) the rest of the hex as a command of its own: `unknown command`, `returned 1`
 *   on stderr - and `security -i` exits with the status of the last command it ran, so 1. The item is left
 *   holding a truncated value. A partial line at EOF is dropped, as readline returns NULL there.
 * - Lines are split by split_line: whitespace separates, '"' or '\'' quote, a backslash takes the next
 *   character; at most 32 arguments. A command name matches on a prefix of it (match_command).
 * - `-X` with an odd number of hex digits: how the real tool treats a half byte is not known here; this
 *   stand-in drops it (and still stores the rest). A non-hex digit is an error (exit 1).
 * - `find-generic-password` without `-w` prints the item's attributes, first `keychain: "<path>"` (this stand-in
 *   has one keychain file, `keychainFile(dir)`); `add-generic-password` takes an optional keychain path after its
 *   options and fails (exit 1) on one it does not know.
 * - Arguments: execve's limits. On a Mac argv plus the environment may hold MAC_ARG_MAX (1 MiB) bytes, past which
 *   nothing runs (E2BIG); the stand-in refuses that too (exit 126, nothing stored). The Linux kernel under the
 *   tests refuses a single argument over 128 KiB before the stand-in starts (spawn fails with E2BIG), which is
 *   stricter than a Mac; an argument between 128 KiB and 1 MiB can therefore not be tested here.
 * - Exit codes are the low byte of the OSStatus: 44 no item (errSecItemNotFound), 45 duplicate, 36 locked.
 * - `find-generic-password -w` prints the data as it is when every byte is printable (0x20-0x7e); otherwise
 *   every byte as `%02x` of a (signed) char - so a byte >= 0x80 prints as `ffffff` + two digits - then '\n'.
 *
 * Behaviour knobs (for failure tests): `exit` makes find-generic-password exit with that code, printing
 * nothing; `item` seeds the item; `stderrBytes` writes that many bytes to stderr before anything else (the
 * write blocks until the reader drains the pipe); `hang` never finishes; `readBack` is what
 * find-generic-password prints instead of the stored item; `items` seeds several items by service and account
 * (e.g. a main item and its overflow item, sealed the way Claude Code 2.1.332 seals them); `dieOnAdd` names a
 * service whose `add-generic-password` kills the stand-in (SIGKILL, nothing stored), as a crash or a kill between
 * the writes of two items would.
 *
 * Every run's argv is in `dir/argv.log` (see `recordedArgvs`), so a test can assert that no secret was ever on a
 * command line; everything read on stdin is appended to `dir/stdin.log` (see `recordedStdin`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface FakeSecurityBehaviour {
  exit?: number;
  item?: string;
  stderrBytes?: number;
  hang?: boolean;
  readBack?: string;
  /** Service and account of the seeded `item` (default: any find answers with it). */
  service?: string;
  account?: string;
  items?: Array<{ service: string; account: string; data: string }>;
  dieOnAdd?: string;
}

const MAX_LINE_LEN = 4096;
const MAX_ARGS = 32;

export function fakeSecurity(dir: string, behaviour: FakeSecurityBehaviour = {}): string {
  const file = path.join(dir, 'security');
  fs.writeFileSync(path.join(dir, 'security-behaviour.json'), JSON.stringify(behaviour));
  if (behaviour.item !== undefined) {
    const key =
      behaviour.service !== undefined && behaviour.account !== undefined
        ? itemKey(behaviour.service, behaviour.account)
        : '*';
    fs.writeFileSync(
      path.join(dir, 'keychain.json'),
      JSON.stringify({ [key]: Buffer.from(behaviour.item, 'utf8').toString('hex') }),
    );
  }
  if (behaviour.items !== undefined) {
    const obj: Record<string, string> = {};
    for (const it of behaviour.items)
      obj[itemKey(it.service, it.account)] = Buffer.from(it.data, 'utf8').toString('hex');
    fs.writeFileSync(path.join(dir, 'keychain.json'), JSON.stringify(obj));
  }
  const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  fs.writeFileSync(
    file,
    `#!/bin/sh
for a in "$@"; do printf '%s\\n' "$a"; done >> ${sq(path.join(dir, 'argv.log'))}
echo --- >> ${sq(path.join(dir, 'argv.log'))}
exec ${sq(process.execPath)} ${sq(__filename)} ${sq(dir)} "$@"
`,
    { mode: 0o755 },
  );
  return file;
}

/** The items the stand-in holds: "service\0account" -> the item's bytes. */
export function fakeKeychainItems(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  try {
    const obj = JSON.parse(fs.readFileSync(path.join(dir, 'keychain.json'), 'utf8')) as Record<string, string>;
    for (const [k, v] of Object.entries(obj)) out.set(k, Buffer.from(v, 'hex'));
  } catch {
    /* no keychain yet */
  }
  return out;
}

/** Every argv the stand-in was started with, in order (each a list of arguments). */
export function recordedArgvs(dir: string): string[][] {
  let log: string;
  try {
    log = fs.readFileSync(path.join(dir, 'argv.log'), 'utf8');
  } catch {
    return [];
  }
  return log
    .split('---\n')
    .filter((s) => s !== '')
    .map((s) => s.replace(/\n$/, '').split('\n'));
}

/** Everything the stand-in read on stdin (`security -i`), over all its runs, in order. */
export function recordedStdin(dir: string): string {
  try {
    return fs.readFileSync(path.join(dir, 'stdin.log'), 'utf8');
  } catch {
    return '';
  }
}

/** The one keychain file the stand-in has: what `find-generic-password` (no `-w`) names as `keychain: "<path>"`. */
export function keychainFile(dir: string): string {
  return path.join(dir, 'Library', 'Keychains', 'login.keychain-db');
}

/**
 * macOS's ARG_MAX (`sysctl kern.argmax`): the bytes of argv and the environment together, each string with its
 * NUL. Past it, execve fails with E2BIG. The Linux kernel that runs these tests refuses a single argument over
 * 128 KiB (MAX_ARG_STRLEN) itself, before the stand-in starts; this stand-in refuses the rest as a Mac would.
 */
export const MAC_ARG_MAX = 1024 * 1024;

export function itemKey(service: string, account: string): string {
  return `${service}\0${account}`;
}

// ---------------------------------------------------------------------------------------------------------
// The stand-in itself (runs when this file is executed by the script above).

class Tool {
  private readonly items: Map<string, Buffer>;
  constructor(
    private readonly dir: string,
    private readonly b: FakeSecurityBehaviour,
  ) {
    this.items = fakeKeychainItems(dir);
  }
  private save(): void {
    const obj: Record<string, string> = {};
    for (const [k, v] of this.items) obj[k] = v.toString('hex');
    fs.writeFileSync(path.join(this.dir, 'keychain.json'), JSON.stringify(obj));
  }
  private err(msg: string): void {
    process.stderr.write(`security: ${msg}\n`);
  }

  execute(argv: string[]): number {
    if (argv.length === 0) return 0;
    const commands: Array<[string, (a: string[]) => number]> = [
      ['help', () => 0],
      ['add-generic-password', (a) => this.add(a)],
      ['add-internet-password', () => 1],
      ['find-generic-password', (a) => this.find(a)],
      ['delete-generic-password', (a) => this.del(a)],
    ];
    const c = commands.find(([name]) => name.startsWith(argv[0]));
    if (!c) {
      this.err(`unknown command "${argv[0]}"`);
      return 1;
    }
    return c[1](argv);
  }

  /** getopt, as far as these commands need it: flags in `flags`, options with a value in `withValue`. */
  private opts(
    argv: string[],
    withValue: string,
    flags: string,
  ): { o: Map<string, string>; rest: string[] } | undefined {
    const o = new Map<string, string>();
    let i = 1;
    for (; i < argv.length; i++) {
      const a = argv[i];
      if (a === '--') {
        i++;
        break;
      }
      if (!a.startsWith('-') || a === '-') break;
      for (let j = 1; j < a.length; j++) {
        const ch = a[j];
        if (flags.includes(ch)) {
          o.set(ch, '');
          continue;
        }
        if (!withValue.includes(ch)) return undefined;
        const v = j + 1 < a.length ? a.slice(j + 1) : argv[++i];
        if (v === undefined) return undefined;
        o.set(ch, v);
        break;
      }
    }
    return { o, rest: argv.slice(i) };
  }

  private add(argv: string[]): number {
    const p = this.opts(argv, 'acCDGjlspwXT', 'UA');
    if (!p || !p.o.has('a') || !p.o.has('s') || p.rest.length > 1) {
      process.stderr.write('Usage: add-generic-password ...\n');
      return 2;
    }
    // the optional keychain argument: this stand-in has one keychain file, and a path it does not know fails
    if (p.rest.length === 1 && p.rest[0] !== keychainFile(this.dir)) {
      this.err(`SecKeychainOpen ${p.rest[0]}: The specified keychain could not be found.`);
      return 1;
    }
    let data: Buffer;
    const hex = p.o.get('X');
    if (hex !== undefined) {
      if (!/^[0-9a-fA-F]*$/.test(hex)) {
        this.err('-X: not a hexadecimal string');
        return 1;
      }
      data = Buffer.from(hex.slice(0, hex.length & ~1), 'hex');
    } else {
      data = Buffer.from(p.o.get('w') ?? p.o.get('p') ?? '', 'utf8');
    }
    if (this.b.dieOnAdd !== undefined && p.o.get('s') === this.b.dieOnAdd) process.kill(process.pid, 'SIGKILL');
    const key = itemKey(p.o.get('s')!, p.o.get('a')!);
    if (this.items.has(key) && !p.o.has('U')) {
      this.err('SecKeychainItemCreateFromContent (<default>): The specified item already exists in the keychain.');
      return 45;
    }
    this.items.delete('*');
    this.items.set(key, data);
    this.save();
    return 0;
  }

  private lookup(argv: string[]): { key: string; data: Buffer; o: Map<string, string> } | number {
    const p = this.opts(argv, 'acCDGjls', 'gw');
    if (!p) return 2;
    const key = itemKey(p.o.get('s') ?? '', p.o.get('a') ?? '');
    const data = this.items.get(key) ?? this.items.get('*');
    if (!data) {
      this.err('SecKeychainSearchCopyNext: The specified item could not be found in the keychain.');
      return 44;
    }
    return { key: this.items.has(key) ? key : '*', data, o: p.o };
  }

  private find(argv: string[]): number {
    if (this.b.exit !== undefined) return this.b.exit;
    const r = this.lookup(argv);
    if (typeof r === 'number') return r;
    const data = this.b.readBack !== undefined ? Buffer.from(this.b.readBack, 'utf8') : r.data;
    if (r.o.has('w')) {
      const printable = data.every((c) => c >= 0x20 && c <= 0x7e);
      const text = printable
        ? data.toString('latin1')
        : [...data].map((c) => (c >= 0x80 ? 'ffffff' : '') + c.toString(16).padStart(2, '0')).join('');
      process.stdout.write(`${text}\n`);
    } else {
      process.stdout.write(`keychain: "${keychainFile(this.dir)}"\nversion: 512\nclass: "genp"\nattributes:\n`);
    }
    return 0;
  }

  private del(argv: string[]): number {
    const r = this.lookup(argv);
    if (typeof r === 'number') return r;
    this.items.delete(r.key);
    this.save();
    return 0;
  }
}

/** readline(buffer, MAX_LINE_LEN) of readline_cssm.c: null at EOF (a partial last line is dropped). */
function readLine(input: Buffer, pos: { at: number }): string | null {
  let line = '';
  for (let ix = 0; ; ++ix) {
    if (ix === MAX_LINE_LEN - 1) break;
    if (pos.at >= input.length) return null;
    const ch = input[pos.at++];
    if (ch === 0x0a) break;
    line += String.fromCharCode(ch);
  }
  return line;
}

/** split_line of security.c. */
function splitLine(line: string): string[] {
  const out: string[] = [];
  let state: 'ws' | 'arg' | 'argEsc' | 'q' | 'qEsc' = 'ws';
  let quote = '';
  let cur = '';
  const isspace = (c: string) => ' \t\n\v\f\r'.includes(c);
  for (const c of line) {
    if (state === 'ws') {
      if (isspace(c)) continue;
      if (c === '"' || c === "'") {
        quote = c;
        state = 'q';
        cur = '';
        continue;
      }
      state = 'arg';
      cur = '';
    }
    if (state === 'arg') {
      if (c === '\\') {
        state = 'argEsc';
        continue;
      }
      if (isspace(c)) {
        out.push(cur);
        state = 'ws';
        if (out.length >= MAX_ARGS) break;
      } else cur += c;
    } else if (state === 'q') {
      if (c === '\\') {
        state = 'qEsc';
        continue;
      }
      if (c === quote) {
        out.push(cur);
        state = 'ws';
        if (out.length >= MAX_ARGS) break;
      } else cur += c;
    } else if (state === 'argEsc') {
      cur += c;
      state = 'arg';
    } else if (state === 'qEsc') {
      cur += c;
      state = 'q';
    }
  }
  if (state !== 'ws') out.push(cur);
  return out;
}

async function main(): Promise<void> {
  const [dir, ...args] = process.argv.slice(2);
  const b = JSON.parse(fs.readFileSync(path.join(dir, 'security-behaviour.json'), 'utf8')) as FakeSecurityBehaviour;
  if (b.stderrBytes) {
    const chunk = 'x'.repeat(64 * 1024 - 1) + '\n';
    for (let n = 0; n < b.stderrBytes; n += chunk.length) {
      if (!process.stderr.write(chunk)) await new Promise((r) => process.stderr.once('drain', r));
    }
  }
  if (b.hang) {
    setInterval(() => {}, 1 << 30);
    return;
  }
  const argBytes = [...process.argv.slice(3), ...Object.entries(process.env).map(([k, v]) => `${k}=${v}`)].reduce(
    (n, a) => n + Buffer.byteLength(a) + 1,
    0,
  );
  if (argBytes > MAC_ARG_MAX) {
    // execve would have failed on a Mac: nothing runs, nothing is stored
    process.stderr.write('security: Argument list too long\n');
    process.exitCode = 126;
    return;
  }
  const tool = new Tool(dir, b);
  let result = 0;
  if (args[0] === '-i') {
    const input = fs.readFileSync(0);
    fs.appendFileSync(path.join(dir, 'stdin.log'), input);
    const pos = { at: 0 };
    for (;;) {
      const line = readLine(input, pos);
      if (line === null) break;
      const av = splitLine(line);
      result = tool.execute(av);
      if (result !== 0) process.stderr.write(`${av[0]}: returned ${result}\n`);
    }
  } else {
    result = tool.execute(args);
  }
  process.exitCode = result;
}

if (require.main === module) void main();
