import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJsonFile, writeFileAtomic } from '../../../src/core/fsutil';
import { FileStore } from '../../../src/core/store/backend';
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

const busy = (code: string) => Object.assign(new Error(`${code}: resource busy or locked, rename`), { code });

test('writeFileAtomic: a rename refused with EBUSY/EPERM (file held open on Windows) is tried again, then succeeds', async () => {
  await withHome(async (h) => {
    const f = path.join(h.claudeDir, 'x.json');
    fs.writeFileSync(f, '{"old":1}');
    const calls: string[] = [];
    await writeFileAtomic(f, '{"new":1}', {
      renameRetryMs: [1, 1, 1],
      rename: async (from, to) => {
        calls.push(fs.readFileSync(to, 'utf8'));
        if (calls.length === 1) throw busy('EBUSY');
        if (calls.length === 2) throw busy('EPERM');
        await fs.promises.rename(from, to);
      },
    });
    assert.deepEqual(calls, ['{"old":1}', '{"old":1}', '{"old":1}'], 'the target stays whole between attempts');
    assert.equal(fs.readFileSync(f, 'utf8'), '{"new":1}');
    assert.deepEqual(fs.readdirSync(h.claudeDir).sort(), ['x.json']);
  });
});

test('writeFileAtomic: a rename that stays refused is reported after the retries; target untouched, no temp file', async () => {
  await withHome(async (h) => {
    const f = path.join(h.claudeDir, 'x.json');
    fs.writeFileSync(f, '{"old":1}');
    let n = 0;
    await assert.rejects(
      writeFileAtomic(f, '{"new":1}', {
        renameRetryMs: [1, 2, 3],
        rename: async () => {
          n++;
          throw busy('EPERM');
        },
      }),
      (e: NodeJS.ErrnoException) => e.code === 'EPERM',
    );
    assert.equal(n, 4, 'one try and three retries');
    assert.equal(fs.readFileSync(f, 'utf8'), '{"old":1}');
    assert.deepEqual(fs.readdirSync(h.claudeDir).sort(), ['x.json']);
    // any other failure is not retried
    n = 0;
    await assert.rejects(
      writeFileAtomic(f, '{"new":1}', {
        renameRetryMs: [1, 2, 3],
        rename: async () => {
          n++;
          throw busy('ENOSPC');
        },
      }),
    );
    assert.equal(n, 1);
  });
});

test('FileStore.write: a rename held off past the retries is store-write, the store left as it was', async () => {
  await withHome(async (h) => {
    const f = path.join(h.claudeDir, '.credentials.json');
    fs.writeFileSync(f, '{"mcpOAuth":{}}', { mode: 0o600 });
    const store = new FileStore(f);
    await assert.rejects(
      store.write(
        { mcpOAuth: {} },
        {
          renameRetryMs: [1],
          rename: async () => {
            throw busy('EBUSY');
          },
        },
      ),
      (e: { code: string; message: string }) => e.code === 'store-write' && /EBUSY/.test(e.message),
    );
    assert.equal(fs.readFileSync(f, 'utf8'), '{"mcpOAuth":{}}');
    assert.deepEqual(fs.readdirSync(h.claudeDir).sort(), ['.credentials.json']);
  });
});
