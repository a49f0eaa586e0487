import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJsonFile, writeFileAtomic } from '../../../src/core/fsutil';
import { withHome } from '../../helpers/home';

test('writeFileAtomic: 0600, no temp file left, old content until rename', async () => {
  await withHome(async (h) => {
    const f = path.join(h.claudeDir, 'x.json');
    fs.writeFileSync(f, '{"old":1}');
    let seen = '';
    await writeFileAtomic(f, '{"new":1}', {
      beforeRename: () => {
        seen = fs.readFileSync(f, 'utf8');
      },
    });
    assert.equal(seen, '{"old":1}');
    assert.equal(fs.readFileSync(f, 'utf8'), '{"new":1}');
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    assert.deepEqual(
      fs.readdirSync(h.claudeDir).filter((n) => n.includes('.tmp.')),
      [],
    );
  });
});

test('writeFileAtomic: a failure before rename leaves the target untouched and no temp file', async () => {
  await withHome(async (h) => {
    const f = path.join(h.claudeDir, 'x.json');
    fs.writeFileSync(f, '{"old":1}');
    await assert.rejects(
      writeFileAtomic(f, '{"new":1}', {
        beforeRename: () => {
          throw new Error('boom');
        },
      }),
      /boom/,
    );
    assert.equal(fs.readFileSync(f, 'utf8'), '{"old":1}');
    assert.deepEqual(
      fs.readdirSync(h.claudeDir).filter((n) => n.includes('.tmp.')),
      [],
    );
  });
});

test('readJsonFile: line and column of a syntax error; BOM refused; missing = undefined', async () => {
  await withHome(async (h) => {
    const f = path.join(h.home, 'bad.json');
    fs.writeFileSync(f, '{\n  "a": 1,\n  "b": }\n');
    await assert.rejects(
      readJsonFile(f, 'config'),
      (e: { code: string; details: { line: number } }) => e.code === 'config-parse' && e.details.line === 3,
    );
    fs.writeFileSync(f, '\ufeff{}');
    await assert.rejects(
      readJsonFile(f, 'store'),
      (e: { code: string; message: string }) => e.code === 'store-parse' && /byte order mark/.test(e.message),
    );
    assert.equal(await readJsonFile(path.join(h.home, 'none.json'), 'cache'), undefined);
  });
});
