import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import {
  KeychainStore,
  FileStore,
  keychainService,
  keychainAccount,
  openStore,
} from '../../../../src/core/store/backend';
import { resolvePaths } from '../../../../src/core/paths';
import type { StoreData } from '../../../../src/core/store/types';
import { withHome } from '../../../helpers/home';
import { fakeSecurity, fakeKeychainItems, itemKey } from '../../../helpers/fake-security';

/*
 * The calls go to a stand-in for /usr/bin/security (test/helpers/fake-security.ts): it records its argv, keeps
 * the item in a file so that a write can be read back, and cuts interactive lines at 4095 bytes the way the
 * real tool's readline does.
 */

const SERVICE = 'Claude Code-credentials-1a2b3c4d';

function argvLog(dir: string): string {
  try {
    return fs.readFileSync(path.join(dir, 'argv.log'), 'utf8');
  } catch {
    return '';
  }
}
/** The invocations recorded in argv.log, each a list of arguments. */
function invocations(dir: string): string[][] {
  return argvLog(dir)
    .split('---\n')
    .filter((s) => s !== '')
    .map((s) => s.replace(/\n$/, '').split('\n'));
}

/** A store of a realistic size: a claude.ai login and `n` MCP entries. */
function bigStore(n: number): StoreData {
  const mcpOAuth: NonNullable<StoreData['mcpOAuth']> = {};
  for (let i = 0; i < n; i++) {
    mcpOAuth[`server-${i}|${(0x1000000000000000 + i).toString(16)}`] = {
      serverName: `server-${i}`,
      serverUrl: `https://mcp-${i}.example.com/mcp`,
      accessToken: `at-${i}-${'A'.repeat(120)}`,
      refreshToken: `rt-${i}-${'R'.repeat(80)}`,
      expiresAt: 1795555344627,
      scope: 'mcp read write',
      clientId: `client-${i}-${'c'.repeat(20)}`,
      issuer: `https://auth-${i}.example.com`,
      redirectUri: 'http://localhost:54041/callback',
      discoveryState: {
        authorizationServerUrl: `https://auth-${i}.example.com`,
        oauthMetadataFound: true,
        authServerMetadataUrl: null,
      },
    };
  }
  return {
    claudeAiOauth: {
      accessToken: `sk-ant-oat01-${'o'.repeat(100)}`,
      refreshToken: `sk-ant-ort01-${'r'.repeat(100)}`,
      expiresAt: 1795555344627,
      scopes: ['user:inference', 'user:profile'],
      subscriptionType: 'max',
    },
    mcpOAuth,
  };
}

function store(h: { home: string; claudeDir: string }, sec: string, timeoutMs?: number): KeychainStore {
  return new KeychainStore(
    SERVICE,
    'alice',
    new FileStore(path.join(h.claudeDir, '.credentials.json')),
    sec,
    timeoutMs === undefined ? {} : { timeoutMs },
  );
}

test('keychain: read through find-generic-password with separate arguments; the keychain wins over the file', async () => {
  await withHome(async (h) => {
    const sec = fakeSecurity(h.home, { item: '{"mcpOAuth":{"a|1":{"accessToken":"kc-token-123"}}}' });
    fs.writeFileSync(path.join(h.claudeDir, '.credentials.json'), '{"mcpOAuth":{"a|1":{"accessToken":"file-token"}}}');
    const store = new KeychainStore(
      'Claude Code-credentials',
      'alice',
      new FileStore(path.join(h.claudeDir, '.credentials.json')),
      sec,
    );
    const snap = await store.read();
    assert.equal(snap.data.mcpOAuth?.['a|1'].accessToken, 'kc-token-123');
    assert.deepEqual(invocations(h.home)[0], [
      'find-generic-password',
      '-a',
      'alice',
      '-w',
      '-s',
      'Claude Code-credentials',
    ]);
  });
});

test('keychain: exit 44 (no item) falls back to the file; 36 (locked) is keychain-locked', async () => {
  await withHome(async (h) => {
    fs.writeFileSync(path.join(h.claudeDir, '.credentials.json'), '{"mcpOAuth":{"a|1":{"accessToken":"file-token"}}}');
    const file = new FileStore(path.join(h.claudeDir, '.credentials.json'));
    const none = new KeychainStore('svc', 'alice', file, fakeSecurity(h.home, { exit: 44 }));
    assert.equal((await none.read()).data.mcpOAuth?.['a|1'].accessToken, 'file-token');
    const locked = new KeychainStore('svc', 'alice', file, fakeSecurity(h.home, { exit: 36 }));
    await assert.rejects(locked.read(), (e: { code: string }) => e.code === 'keychain-locked');
  });
});

test('keychain: a small store round-trips through `security -i` on stdin; the secret is never in argv', async () => {
  await withHome(async (h) => {
    const sec = fakeSecurity(h.home);
    const s = store(h, sec);
    const data = { mcpOAuth: { 'a|1': { accessToken: 'secret-at-value' } } };
    await s.write(data);
    const calls = invocations(h.home);
    assert.deepEqual(calls[0], ['find-generic-password', '-a', 'alice', '-w', '-s', SERVICE], 'what is there now');
    assert.deepEqual(calls[1], ['-i']);
    assert.deepEqual(calls[2], ['find-generic-password', '-a', 'alice', '-w', '-s', SERVICE], 'the write is read back');
    const hex = Buffer.from('secret-at-value').toString('hex');
    assert.ok(!argvLog(h.home).includes('secret-at-value') && !argvLog(h.home).includes(hex));
    const stdin = fs.readFileSync(path.join(h.home, 'stdin.log'), 'utf8');
    const m = /^add-generic-password -U -a "alice" -s "Claude Code-credentials-1a2b3c4d" -X "([0-9a-f]+)"\n$/.exec(
      stdin,
    );
    assert.ok(m, stdin);
    assert.deepEqual(JSON.parse(Buffer.from(m[1], 'hex').toString('utf8')), data);
    assert.deepEqual((await s.read()).data, data);
  });
});

test('keychain: a store over 4 KB (claudeAiOauth + 6 MCP entries) round-trips whole, split into the overflow item; only its sealed blob is an argument', async () => {
  await withHome(async (h) => {
    const sec = fakeSecurity(h.home);
    const s = store(h, sec);
    const data = bigStore(6);
    assert.ok(JSON.stringify(data).length * 2 > 4096, 'the hex line is longer than security -i reads');
    await s.write(data);
    const item = fakeKeychainItems(h.home).get(itemKey(SERVICE, 'alice'));
    assert.ok(item, 'the item was written');
    const main = JSON.parse(item.toString('utf8')) as StoreData;
    assert.equal((main.keychainOverflow as { slot: string }).slot, 'a', 'the main item points at its overflow');
    assert.ok(
      fakeKeychainItems(h.home).get(itemKey(`${SERVICE}-overflow-a`, 'alice')),
      'the overflow item was written',
    );
    assert.deepEqual((await s.read()).data, data, 'read back whole, not truncated');
    const blob = fakeKeychainItems(h.home)
      .get(itemKey(`${SERVICE}-overflow-a`, 'alice'))!
      .toString('utf8');
    for (const call of invocations(h.home)) {
      if (call[0] === '-i' || call[0] === 'find-generic-password') continue;
      assert.deepEqual(call, ['add-generic-password', '-U', '-a', 'alice', '-s', `${SERVICE}-overflow-a`, '-w', blob]);
    }
    assert.ok(!argvLog(h.home).includes('sk-ant-oat01'), 'never the plain text in argv');
    assert.ok(!/[0-9a-f]{64}/.test(argvLog(h.home)), 'never the hex in argv');
  });
});

test('keychain: a 10-server store (store-too-large before) is written: the main item on stdin, only the sealed overflow as argv', async () => {
  await withHome(async (h) => {
    const sec = fakeSecurity(h.home);
    const s = store(h, sec);
    const data = bigStore(10);
    await s.write(data);
    assert.deepEqual((await s.read()).data, data);
    const adds = invocations(h.home).filter((c) => c[0] === 'add-generic-password');
    assert.equal(adds.length, 1);
    assert.deepEqual(adds[0].slice(0, 7), [
      'add-generic-password',
      '-U',
      '-a',
      'alice',
      '-s',
      `${SERVICE}-overflow-a`,
      '-w',
    ]);
    const log = argvLog(h.home);
    assert.ok(!log.includes('sk-ant-oat01') && !log.includes('at-0-AAAA'), 'never a token in argv');
    assert.ok(!/[0-9a-f]{64}/.test(log), 'never the hex in argv');
    const key = (JSON.parse(fakeKeychainItems(h.home).get(itemKey(SERVICE, 'alice'))!.toString('utf8')) as StoreData)
      .keychainOverflow as { key: string };
    assert.ok(!log.includes(key.key) && !log.includes(Buffer.from(key.key, 'base64').toString('hex')), 'nor the key');
  });
});

test('keychain: an overflow past the system argument limit (E2BIG) is store-too-large; the pair before is untouched', async () => {
  await withHome(async (h) => {
    const sec = fakeSecurity(h.home);
    const s = store(h, sec);
    const before = bigStore(8);
    await s.write(before);
    const items = fakeKeychainItems(h.home);
    const data = bigStore(3);
    for (const e of Object.values(data.mcpOAuth!)) e.accessToken += 'T'.repeat(600_000);
    await assert.rejects(s.write(data), (e: Error & { code: string }) => {
      assert.equal(e.code, 'store-too-large');
      assert.ok(!e.message.includes('TTTT'), 'no token in the message');
      return true;
    });
    assert.deepEqual(fakeKeychainItems(h.home), items);
    assert.deepEqual((await s.read()).data, before);
  });
});

test('keychain: the stand-in really cuts a long `security -i` line (what the old write ran into)', async () => {
  await withHome(async (h) => {
    const sec = fakeSecurity(h.home);
    const hex = Buffer.from(JSON.stringify(bigStore(10))).toString('hex');
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(sec, ['-i'], {
      input: `add-generic-password -U -a "alice" -s "${SERVICE}" -X "${hex}"\n`,
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unknown command/);
    const item = fakeKeychainItems(h.home).get(itemKey(SERVICE, 'alice'));
    assert.ok(item && item.length > 0 && item.length < hex.length / 2, 'a truncated item is left behind');
  });
});

test('keychain: the stand-in refuses arguments past macOS ARG_MAX (1 MiB), and Linux refuses one over 128 KiB', async () => {
  await withHome(async (h) => {
    const sec = fakeSecurity(h.home);
    const { spawnSync } = await import('node:child_process');
    const add = (service: string, w: string, extra: string[] = []) =>
      spawnSync(sec, ['add-generic-password', '-U', '-a', 'alice', '-s', service, '-w', w, ...extra], {
        encoding: 'utf8',
      });
    // 100 KB: fine on both
    assert.equal(add('ok', 'b'.repeat(100_000)).status, 0);
    // ten arguments of 110 KB (each under Linux's per-argument limit, together past a Mac's): refused, not stored
    const r = add(
      'mac',
      'b'.repeat(100),
      Array.from({ length: 10 }, () => 'p'.repeat(110_000)),
    );
    assert.equal(r.status, 126, r.stderr);
    assert.match(r.stderr, /Argument list too long/);
    assert.equal(fakeKeychainItems(h.home).get(itemKey('mac', 'alice')), undefined);
    // one argument over 128 KiB: the kernel refuses it before the stand-in runs
    assert.equal((add('linux', 'b'.repeat(140_000)).error as NodeJS.ErrnoException | undefined)?.code, 'E2BIG');
  });
});

test('keychain: a line of exactly 4095 bytes still fits security -i', async () => {
  await withHome(async (h) => {
    const sec = fakeSecurity(h.home);
    const head = `add-generic-password -U -a "alice" -s "${SERVICE}" -X "`;
    const hex = 'ab'.repeat((4095 - head.length - 1) >> 1);
    const line = `${head}${hex}"`;
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(sec, ['-i'], { input: `${line.padEnd(4095, ' ')}\n`, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fakeKeychainItems(h.home).get(itemKey(SERVICE, 'alice'))?.toString('hex'), hex);
  });
});

test('keychain: a child flooding stderr (1 MB) does not hang the write', { timeout: 20_000 }, async () => {
  await withHome(async (h) => {
    const sec = fakeSecurity(h.home, { stderrBytes: 1024 * 1024 });
    const s = store(h, sec);
    await s.write({ mcpOAuth: { 'a|1': { accessToken: 'secret-at-value' } } });
    await s.write(bigStore(6));
    assert.deepEqual((await s.read()).data, bigStore(6));
  });
});

test(
  'keychain: a child that never finishes is killed and the write fails with store-write',
  { timeout: 20_000 },
  async () => {
    await withHome(async (h) => {
      const sec = fakeSecurity(h.home, { hang: true });
      const s = store(h, sec, 500);
      const t0 = Date.now();
      await assert.rejects(
        s.write({ mcpOAuth: { 'a|1': { accessToken: 'secret-at-value' } } }),
        (e: { code: string }) => e.code === 'store-write',
      );
      assert.ok(Date.now() - t0 < 10_000);
    });
  },
);

test('keychain: a read-back that differs from what was written is store-write (and the error holds no secret)', async () => {
  await withHome(async (h) => {
    const sec = fakeSecurity(h.home, { readBack: '{"mcpOAuth":{"a|1":{"accessToken":"someone-else"}}}' });
    const s = store(h, sec);
    for (const data of [{ mcpOAuth: { 'a|1': { accessToken: 'secret-at-value' } } }, bigStore(6)]) {
      await assert.rejects(s.write(data), (e: Error & { code: string }) => {
        assert.equal(e.code, 'store-write');
        assert.ok(
          !e.message.includes('secret-at-value') && !e.message.includes('someone-else') && !e.message.includes('AAAA'),
          e.message,
        );
        return true;
      });
    }
  });
});

test('keychain: a failing security -i is store-write, with no secret (nor its hex) in the message', async () => {
  await withHome(async (h) => {
    const sec = path.join(h.home, 'security');
    // Echoes the line back on stderr, as `security` does for an unknown command.
    fs.writeFileSync(sec, '#!/bin/sh\ncat >&2\nexit 1\n', { mode: 0o755 });
    const s = store(h, sec);
    await assert.rejects(
      s.write({ mcpOAuth: { 'a|1': { accessToken: 'secret-at-value' } } }),
      (e: Error & { code: string }) => {
        assert.equal(e.code, 'store-write');
        assert.ok(
          !e.message.includes('secret-at-value') && !e.message.includes(Buffer.from('secret-at-value').toString('hex')),
          e.message,
        );
        return true;
      },
    );
  });
});

test('keychain: non-ASCII text is written as \\u escapes, so `find-generic-password -w` prints it as it is', async () => {
  await withHome(async (h) => {
    const sec = fakeSecurity(h.home);
    const s = store(h, sec);
    const data = { mcpOAuth: { 'café|1': { accessToken: 'secret-é-☃-\u007f' } } };
    await s.write(data);
    const item = fakeKeychainItems(h.home).get(itemKey(SERVICE, 'alice'))!;
    assert.ok(
      item.every((c) => c >= 0x20 && c <= 0x7e),
      item.toString('latin1'),
    );
    assert.deepEqual((await s.read()).data, data);
  });
});

test('keychain: an item Claude Code wrote with non-ASCII bytes (printed as hex by -w) is still read', async () => {
  await withHome(async (h) => {
    const text = '{"mcpOAuth":{"café|1":{"accessToken":"tok-☃"}}}';
    const sec = fakeSecurity(h.home, { item: text });
    const s = store(h, sec);
    assert.deepEqual((await s.read()).data, JSON.parse(text));
  });
});

test('keychain: the switch to the overflow item is at a 4032-byte line, as in Claude Code; the main item always goes to security -i', async () => {
  await withHome(async (h) => {
    const sec = fakeSecurity(h.home);
    const s = store(h, sec);
    const head = `add-generic-password -U -a "alice" -s "${SERVICE}" -X ""\n`.length;
    const base = JSON.stringify({ mcpOAuth: { 'a|1': { accessToken: '' } } }).length;
    // The hex is an even number of digits: the longest line that still goes whole, and the next one.
    const fits = 4032 - ((4032 - head) % 2);
    assert.ok(fits + 2 > 4032);
    for (const lineLen of [fits, fits + 2]) {
      fs.rmSync(path.join(h.home, 'argv.log'), { force: true });
      const data = { mcpOAuth: { 'a|1': { accessToken: 'x'.repeat((lineLen - head) / 2 - base) } } };
      assert.equal(head + 2 * JSON.stringify(data).length, lineLen);
      await s.write(data);
      const writes = invocations(h.home).filter((c) => c[0] !== 'find-generic-password');
      assert.deepEqual(
        writes.map((c) => (c[0] === '-i' ? '-i' : `${c[0]} ${c[5]}`)),
        lineLen <= 4032 ? ['-i'] : [`add-generic-password ${SERVICE}-overflow-a`, '-i'],
        String(lineLen),
      );
      const main = JSON.parse(fakeKeychainItems(h.home).get(itemKey(SERVICE, 'alice'))!.toString('utf8')) as StoreData;
      assert.equal(main.keychainOverflow === undefined, lineLen <= 4032, String(lineLen));
      assert.deepEqual((await s.read()).data, data);
    }
  });
});

test('keychain names follow Claude Code', () => {
  assert.equal(keychainService(undefined), 'Claude Code-credentials');
  const h = createHash('sha256').update('/c').digest('hex').slice(0, 8);
  assert.equal(keychainService('/c'), `Claude Code-credentials-${h}`);
  // CLAUDE_SECURESTORAGE_CONFIG_DIR names the item when set: its own hash, or no suffix when it is ""
  const s = createHash('sha256').update('/s').digest('hex').slice(0, 8);
  assert.equal(keychainService('/c', '/s'), `Claude Code-credentials-${s}`);
  assert.equal(keychainService(undefined, '/s'), `Claude Code-credentials-${s}`);
  assert.equal(keychainService('/c', ''), 'Claude Code-credentials');
  const viaOpen = openStore(
    resolvePaths({ env: { CLAUDE_CONFIG_DIR: '/c', CLAUDE_SECURESTORAGE_CONFIG_DIR: '/s' }, home: '/h' }),
    {
      platform: 'darwin',
      env: { CLAUDE_SECURESTORAGE_CONFIG_DIR: '/s', USER: 'alice' },
    },
  );
  assert.equal(viaOpen.location, `macOS keychain item "Claude Code-credentials-${s}" (account alice)`);
  assert.equal(keychainAccount({ USER: 'alice.b-1' }), 'alice.b-1');
  assert.equal(keychainAccount({ USER: 'al ice' }), 'claude-code-user');
});
