import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  liveSessions,
  parseSessionRecord,
  processStartTime,
  procStatStartTime,
  readLiveSessions,
} from '../../../src/core/sessions';
import { Logger } from '../../../src/core/log';
import { resolvePaths, type ClaudePaths } from '../../../src/core/paths';
import { withHome, type TempHome } from '../../helpers/home';

const linux = process.platform === 'linux';

/** A real child process that stays up until the test file ends. */
const children: ChildProcess[] = [];
async function child(): Promise<ChildProcess> {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(c);
  await new Promise((r) => c.once('spawn', r));
  return c;
}
after(() => {
  for (const c of children) c.kill('SIGKILL');
});

const pathsOf = (h: TempHome): ClaudePaths => resolvePaths({ env: h.env, home: h.home, managedDirs: [] });
function register(h: TempHome, name: string, content: unknown): string {
  const dir = path.join(h.claudeDir, 'sessions');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = path.join(dir, name);
  fs.writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
}
const record = (pid: number, procStart: string | undefined, extra: Record<string, unknown> = {}) => ({
  pid,
  sessionId: 'abc',
  cwd: '/projects/p',
  startedAt: 1_790_000_000_000,
  procStart,
  version: '2.1.332',
  kind: 'interactive',
  entrypoint: 'cli',
  peerProtocol: 1,
  futureField: { kept: true },
  ...extra,
});

test('procStatStartTime: field 22, counted from the last ")" (a command name may hold spaces and parentheses)', () => {
  const own = fs.readFileSync(`/proc/${process.pid}/stat`, 'utf8');
  const start = procStatStartTime(own);
  assert.match(start ?? '', /^[0-9]+$/);
  // the same line with a hostile command name: "a) b (c" — naive space splitting would shift every field
  const hostile = own.replace(/\(.*\)/s, '(a) b (c) R 1 2)');
  assert.equal(procStatStartTime(hostile), start);
  assert.equal(procStatStartTime('123 (x) R 1'), undefined, 'too few fields');
  assert.equal(procStatStartTime('no parenthesis at all'), undefined);
});

test(
  'processStartTime (Linux): a real child process has the start time /proc gives it, later than ours',
  { skip: !linux && 'needs /proc' },
  async () => {
    const c = await child();
    const t = await processStartTime(c.pid!);
    assert.match(t ?? '', /^[0-9]+$/);
    assert.ok(Number(t) >= Number(await processStartTime(process.pid)), 'a child starts after its parent');
    assert.equal(t, await processStartTime(c.pid!), 'stable while it runs');
    assert.equal(await processStartTime(2 ** 22 + 12345), undefined, 'no such process');
  },
);

test('processStartTime (macOS): ps -o lstart= -p PID, in the C locale and UTC, trimmed', async () => {
  await withHome(async (h) => {
    // a stand-in `ps` on PATH that prints what it was given
    const bin = path.join(h.home, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(
      path.join(bin, 'ps'),
      '#!/bin/sh\n[ "$1 $2 $3" = "-o lstart= -p" ] || exit 2\n[ "$4" = 4242 ] || exit 1\necho "  Mon Dec  7 05:26:42 2026 $LC_ALL $TZ  "\n',
      { mode: 0o755 },
    );
    const savedPath = process.env.PATH;
    const savedLc = process.env.LC_ALL;
    process.env.PATH = `${bin}:${savedPath}`;
    process.env.LC_ALL = 'de_DE.UTF-8';
    try {
      assert.equal(await processStartTime(4242, { platform: 'darwin' }), 'Mon Dec  7 05:26:42 2026 C UTC');
      assert.equal(await processStartTime(4243, { platform: 'darwin' }), undefined, 'ps failed: unknown');
    } finally {
      process.env.PATH = savedPath;
      if (savedLc === undefined) delete process.env.LC_ALL;
      else process.env.LC_ALL = savedLc;
    }
  });
});

test('parseSessionRecord: the fields we use; unknown fields ignored; wrong shapes and a pid that is not the file name refused', () => {
  const ok = parseSessionRecord(JSON.stringify(record(77, '123')), '/d/sessions/77.json');
  assert.ok('record' in ok);
  assert.deepEqual(
    { ...ok.record, file: undefined },
    {
      pid: 77,
      cwd: '/projects/p',
      startedAt: 1_790_000_000_000,
      procStart: '123',
      version: '2.1.332',
      kind: 'interactive',
      entrypoint: 'cli',
      sessionId: 'abc',
      name: undefined,
      file: undefined,
    },
  );
  const skip = (text: string, file = '/d/sessions/77.json') => {
    const r = parseSessionRecord(text, file);
    return 'skip' in r ? r.skip : 'record';
  };
  assert.equal(skip('{"pid":77,'), 'not-json');
  assert.equal(skip('[1]'), 'malformed');
  assert.equal(skip(JSON.stringify({ ...record(77, '1'), cwd: 'relative/p' })), 'malformed');
  assert.equal(skip(JSON.stringify({ ...record(77, '1'), startedAt: '2026' })), 'malformed');
  assert.equal(skip(JSON.stringify({ ...record(77, '1'), procStart: 123 })), 'malformed');
  assert.equal(skip(JSON.stringify({ ...record(77, '1'), pid: -1 })), 'malformed');
  assert.equal(skip(JSON.stringify(record(78, '1'))), 'pid-mismatch');
});

test(
  'liveSessions: a real live session is listed; a reused pid (procStart mismatch), a dead pid and malformed files are skipped with a debug line, never thrown',
  { skip: !linux && 'needs /proc' },
  async () => {
    await withHome(async (h) => {
      const live = await child();
      const reused = await child();
      const dead = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
      await new Promise((r) => dead.once('exit', r));
      const start = (await processStartTime(live.pid!))!;
      register(h, `${live.pid}.json`, record(live.pid!, start));
      // the same pid now belongs to another process: its recorded start time differs
      const reusedStart = Number(await processStartTime(reused.pid!));
      register(h, `${reused.pid}.json`, record(reused.pid!, String(reusedStart - 1000)));
      register(h, `${dead.pid}.json`, record(dead.pid!, '1'));
      register(h, 'garbage.json', '{}');
      register(h, '99999.json', '{not json');
      register(h, '99998.json', JSON.stringify({ pid: 99998 }));
      register(h, '99997.json', JSON.stringify(record(12, '1')));
      register(h, `${live.pid}.0123abcd.key`, '{"peerToken":"x"}');
      fs.mkdirSync(path.join(h.claudeDir, 'sessions', '4.json'));
      const lines: string[] = [];
      const logger = new Logger((level, line) => lines.push(`${level} ${line}`));
      const r = await readLiveSessions(pathsOf(h), { logger });
      assert.deepEqual(
        r.live.map((s) => [s.pid, s.procStart, s.kind, s.entrypoint]),
        [[live.pid, start, 'interactive', 'cli']],
      );
      const why = Object.fromEntries(r.skipped.map((s) => [path.basename(s.file), s.reason]));
      assert.deepEqual(why, {
        [`${reused.pid}.json`]: 'reused-pid',
        [`${dead.pid}.json`]: 'dead',
        'garbage.json': 'malformed',
        '99999.json': 'not-json',
        '99998.json': 'malformed',
        '99997.json': 'pid-mismatch',
        '4.json': 'unreadable',
      });
      assert.equal(lines.length, r.skipped.length);
      assert.ok(
        lines.every((l) => l.startsWith('debug session registry: skipped ')),
        lines.join('\n'),
      );
      // the prefilter: records it refuses are not even checked
      assert.deepEqual(await liveSessions(pathsOf(h), { filter: (s) => s.pid !== live.pid }), []);
      // once the live one ends, it is not listed
      const gone = new Promise((res) => live.once('exit', res));
      live.kill('SIGKILL');
      await gone;
      assert.deepEqual(await liveSessions(pathsOf(h)), []);
    });
  },
);

test('liveSessions: no sessions folder = none; a record without procStart is decided by its pid, as Claude Code does', async () => {
  await withHome(async (h) => {
    assert.deepEqual(await liveSessions(pathsOf(h)), []);
    register(h, `${process.pid}.json`, record(process.pid, undefined));
    assert.deepEqual(
      (await liveSessions(pathsOf(h))).map((s) => s.pid),
      [process.pid],
    );
    // with procStart recorded, a mismatch is a reused pid on every platform that records it
    register(h, `${process.pid}.json`, record(process.pid, 'Thu Jan  1 00:00:00 1970'));
    assert.deepEqual(await liveSessions(pathsOf(h), { processStart: async () => 'Mon Dec  7 05:26:42 2026' }), []);
    assert.deepEqual(
      (await liveSessions(pathsOf(h), { processStart: async () => 'Thu Jan  1 00:00:00 1970' })).map((s) => s.pid),
      [process.pid],
    );
  });
});
