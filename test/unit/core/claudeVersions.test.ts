import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import {
  claudeVersionOnPath,
  sessionVersions,
  versionVerdict,
  VERIFIED_CLAUDE_VERSIONS,
} from '../../../src/core/claudeVersions';
import { resolvePaths } from '../../../src/core/paths';

test('the verified table holds 2.1.328 and 2.1.332; others are newer, older, between or unknown', () => {
  assert.deepEqual([...VERIFIED_CLAUDE_VERSIONS], ['2.1.328', '2.1.332']);
  assert.equal(versionVerdict('2.1.332'), 'verified');
  assert.equal(versionVerdict('2.1.328 (Claude Code)'), 'verified');
  assert.equal(versionVerdict('2.1.333'), 'newer');
  assert.equal(versionVerdict('2.2.0'), 'newer');
  assert.equal(versionVerdict('3.0.0'), 'newer');
  assert.equal(versionVerdict('2.1.327'), 'older');
  assert.equal(versionVerdict('2.1.330'), 'unverified');
  assert.equal(versionVerdict('garbage'), 'unknown');
  assert.equal(versionVerdict(undefined), 'unknown');
});

test('claude --version on PATH: parsed, bounded in time, and absent when there is none', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-ver-'));
  try {
    assert.equal(await claudeVersionOnPath({ PATH: dir }), undefined);
    const exe = path.join(dir, 'claude');
    fs.writeFileSync(exe, '#!/bin/sh\necho "2.1.340 (Claude Code)"\n', { mode: 0o755 });
    const v = await claudeVersionOnPath({ PATH: dir });
    assert.deepEqual(v, { source: 'path', path: exe, version: '2.1.340', verdict: 'newer' });
    fs.writeFileSync(exe, '#!/bin/sh\nread x\n', { mode: 0o755 });
    const t0 = Date.now();
    const slow = await claudeVersionOnPath({ PATH: dir }, { timeoutMs: 300 });
    assert.equal(slow?.error, 'timeout');
    assert.equal(slow?.version, undefined);
    assert.ok(Date.now() - t0 < 20_000);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('session versions: only files whose pid is alive, malformed ones skipped', async () => {
  const h = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-ver-')));
  const child = spawn(process.execPath, ['-e', 'setTimeout(()=>{}, 60000)'], { stdio: 'ignore' });
  try {
    const paths = resolvePaths({ env: {}, home: h });
    const dir = path.join(paths.configDir, 'sessions');
    fs.mkdirSync(dir, { recursive: true });
    const live = child.pid!;
    fs.writeFileSync(
      path.join(dir, `${live}.json`),
      JSON.stringify({ pid: live, version: '2.1.332', kind: 'interactive', entrypoint: 'cli', procStart: '1' }),
    );
    fs.writeFileSync(path.join(dir, `${process.pid}.json`), '{broken');
    // a pid that is not running (a finished child's)
    const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((r) => gone.on('exit', r));
    fs.writeFileSync(path.join(dir, `${gone.pid}.json`), JSON.stringify({ pid: gone.pid, version: '9.9.9' }));
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'x');
    assert.deepEqual(sessionVersions(paths), [
      { source: 'session', pid: live, version: '2.1.332', verdict: 'verified', kind: 'interactive', entrypoint: 'cli' },
    ]);
  } finally {
    child.kill();
    fs.rmSync(h, { recursive: true, force: true });
  }
});
