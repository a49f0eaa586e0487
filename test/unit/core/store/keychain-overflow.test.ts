import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { KeychainStore, FileStore } from '../../../../src/core/store/backend';
import { loadModel } from '../../../../src/core/model';
import { updateEntry } from '../../../../src/core/store/write';
import { resolvePaths } from '../../../../src/core/paths';
import type { StoreData } from '../../../../src/core/store/types';
import { withHome, type TempHome } from '../../../helpers/home';
import {
  fakeSecurity,
  fakeKeychainItems,
  itemKey,
  keychainFile,
  recordedArgvs,
  recordedStdin,
} from '../../../helpers/fake-security';

/*
 * The macOS keychain as Claude Code 2.1.332 splits it (claude-code-format.md, "macOS keychain overflow"), through
 * the `security` stand-in (test/helpers/fake-security.ts): the store class runs the stand-in as it would run
 * /usr/bin/security, and the items Claude Code would have written are sealed here with node:crypto, independently
 * of the code under test.
 */

const SERVICE = 'Claude Code-credentials';
const ACCOUNT = 'alice';
const OV_A = `${SERVICE}-overflow-a`;
const OV_B = `${SERVICE}-overflow-b`;

/** The entry key Claude Code computes for an http server with no headers. */
function keyOf(name: string, url: string): string {
  const h = createHash('sha256')
    .update(JSON.stringify({ type: 'http', url, headers: {} }))
    .digest('hex')
    .slice(0, 16);
  return `${name}|${h}`;
}
const urlOf = (i: number) => `https://mcp-${i}.example.com/mcp`;

/** Six MCP servers (two with a static client secret), a claude.ai login and a section we do not know. */
function sixServers(tag = 'v1'): StoreData {
  return servers(6, tag);
}

/** `n` MCP servers (every third with a static client secret), a claude.ai login and a section we do not know. */
function servers(n: number, tag = 'v1'): StoreData {
  const mcpOAuth: NonNullable<StoreData['mcpOAuth']> = {};
  const mcpOAuthClientConfig: NonNullable<StoreData['mcpOAuthClientConfig']> = {};
  for (let i = 0; i < n; i++) {
    const k = keyOf(`server-${i}`, urlOf(i));
    mcpOAuth[k] = {
      serverName: `server-${i}`,
      serverUrl: urlOf(i),
      accessToken: `at-${tag}-${i}-${'A'.repeat(90 + 20 * i)}`,
      refreshToken: `rt-${tag}-${i}-${'R'.repeat(60)}`,
      expiresAt: 1795555344627,
      scope: 'mcp',
      clientId: `client-${i}`,
      issuer: `https://auth-${i}.example.com`,
      discoveryState: { authorizationServerUrl: `https://auth-${i}.example.com`, oauthMetadataFound: true },
    };
    if (i % 3 === 0) mcpOAuthClientConfig[k] = { clientSecret: `cs-${tag}-${i}-${'S'.repeat(40)}` };
  }
  return {
    claudeAiOauth: {
      accessToken: `sk-ant-oat01-${tag}-${'o'.repeat(100)}`,
      refreshToken: `sk-ant-ort01-${tag}-${'r'.repeat(100)}`,
      expiresAt: 1795555344627,
      scopes: ['user:inference', 'user:profile'],
    },
    mcpOAuth,
    mcpOAuthClientConfig,
    futureSection: { kept: true },
  };
}

/** Every secret string in a store (tokens, client secrets). */
function secretsOf(data: StoreData): string[] {
  const out: string[] = [];
  const walk = (v: unknown, k = '') => {
    if (typeof v === 'string' && /token|secret/i.test(k)) out.push(v);
    else if (v && typeof v === 'object') for (const [kk, vv] of Object.entries(v)) walk(vv, kk);
  };
  walk(data);
  return out;
}

/** The overflow keys the main item was ever written with: from every main-item line sent to `security -i`. */
function overflowKeysSent(dir: string): string[] {
  const keys = new Set<string>();
  for (const line of recordedStdin(dir).split('\n')) {
    const m = /^add-generic-password -U -a "[^"]*" -s "([^"]*)" -X "([0-9a-f]*)"$/.exec(line);
    if (!m || m[1] !== SERVICE) continue;
    const v = JSON.parse(Buffer.from(m[2], 'hex').toString('utf8')) as { keychainOverflow?: { key?: unknown } };
    if (typeof v.keychainOverflow?.key === 'string') keys.add(v.keychainOverflow.key);
  }
  return [...keys];
}

/**
 * How `bytes` can show inside a longer argument: hex (either case), and base64 / base64url at each of the three
 * alignments it can have in a longer stream (only the characters that depend on `bytes` alone).
 */
function encodedForms(bytes: Buffer): string[] {
  const out = [bytes.toString('hex'), bytes.toString('hex').toUpperCase()];
  for (let p = 0; p < 3; p++) {
    const b64 = Buffer.concat([Buffer.alloc(p), bytes]).toString('base64');
    const core = b64.slice(p ? 4 : 0, 4 * Math.floor((p + bytes.length) / 3));
    out.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out.filter((f) => f.length >= 8);
}

/**
 * No argv of any `security` run holds a token, a client secret or an overflow key - as it is, hex, or base64 (any
 * alignment) - and no argument is long, except the sealed overflow blob, written as Claude Code 2.1.332 writes it:
 * the `-w` of an `add-generic-password` for `<service>-overflow-a|b` (never the main item), followed only by the
 * keychain's path, base64 that opens with a key sent on stdin only and with no other key, and holds no plain text.
 */
function assertNoSecretInArgv(dir: string, data: StoreData): void {
  const argvs = recordedArgvs(dir);
  assert.ok(argvs.length > 0);
  const keys = overflowKeysSent(dir);
  const forms: string[] = [];
  for (const s of secretsOf(data)) forms.push(s, s.slice(0, 24), ...encodedForms(Buffer.from(s)));
  for (const k of keys) forms.push(k, ...encodedForms(Buffer.from(k)), ...encodedForms(Buffer.from(k, 'base64')));
  for (const argv of argvs) {
    let blobAt = -1;
    if (argv[0] === 'add-generic-password') {
      const service = argv[argv.indexOf('-s') + 1];
      assert.match(service, /^Claude Code-credentials-overflow-[ab]$/, 'only the overflow item may go as argv');
      blobAt = argv.indexOf('-w') + 1;
      assert.ok(blobAt > 0, argv.slice(0, 6).join(' '));
      assert.deepEqual(
        argv.slice(blobAt + 1),
        argv.length === blobAt + 1 ? [] : [keychainFile(dir)],
        'then the keychain',
      );
      const blob = argv[blobAt];
      assert.match(blob, /^[A-Za-z0-9+/]+={0,2}$/);
      assert.ok(
        keys.some((k) => opens(blob, Buffer.from(k, 'base64'))),
        'the blob is the sealed overflow',
      );
      assert.ok(!opens(blob, randomBytes(32)), 'and it does not open without its key');
      const raw = Buffer.from(blob, 'base64');
      for (const word of ['accessToken', 'refreshToken', 'mcpOAuth', 'serverName', 'clientSecret'])
        assert.ok(!raw.includes(word), `plain text in the blob: ${word}`);
    }
    argv.forEach((a, i) => {
      if (i !== blobAt)
        assert.ok(a.length < 100, `an argument of ${a.length} characters: ${argv.slice(0, 7).join(' ')}`);
      for (const form of forms) assert.ok(!a.includes(form), `a secret or key in argv: ${argv.slice(0, 7).join(' ')}`);
    });
  }
}

function opens(blob: string, key: Buffer): boolean {
  try {
    unseal(blob, key);
    return true;
  } catch {
    return false;
  }
}

function seal(sections: Record<string, unknown>, key: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(JSON.stringify(sections), 'utf8'), c.final()]);
  return Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64');
}
function unseal(blob: string, key: Buffer): unknown {
  const b = Buffer.from(blob, 'base64');
  const d = createDecipheriv('aes-256-gcm', key, b.subarray(0, 12));
  d.setAuthTag(b.subarray(b.length - 16));
  return JSON.parse(Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]).toString('utf8'));
}

function storeOf(h: TempHome, sec: string): KeychainStore {
  return new KeychainStore(SERVICE, ACCOUNT, new FileStore(path.join(h.claudeDir, '.credentials.json')), sec);
}
function item(h: TempHome, service: string): string | undefined {
  return fakeKeychainItems(h.home).get(itemKey(service, ACCOUNT))?.toString('utf8');
}
function mainItem(h: TempHome): Record<string, unknown> {
  return JSON.parse(item(h, SERVICE)!) as Record<string, unknown>;
}

test('overflow: a 6-server store with a claude.ai login round-trips, split as Claude Code splits it, no secret on a command line', async () => {
  await withHome(async (h) => {
    const sec = fakeSecurity(h.home);
    const s = storeOf(h, sec);
    const data = sixServers();
    const fullLine = `add-generic-password -U -a "${ACCOUNT}" -s "${SERVICE}" -X "${Buffer.from(JSON.stringify(data)).toString('hex')}"\n`;
    assert.ok(fullLine.length > 4032, 'the whole store would not fit one security -i line');

    await s.write(data);
    assert.deepEqual((await s.read()).data, data, 'read back whole, merged');

    // the main item: the pointer, the login, the unknown section, and only what fits
    const main = mainItem(h);
    const ptr = main.keychainOverflow as { slot: string; key: string };
    assert.equal(ptr.slot, 'a');
    assert.deepEqual(main.claudeAiOauth, data.claudeAiOauth);
    assert.deepEqual(main.futureSection, { kept: true });
    const mainLine = `add-generic-password -U -a "${ACCOUNT}" -s "${SERVICE}" -X "${Buffer.from(item(h, SERVICE)!).toString('hex')}"\n`;
    assert.ok(mainLine.length <= 4032, String(mainLine.length));
    // the overflow item, opened here with node:crypto: the largest servers, each with its client secret
    const moved = unseal(item(h, OV_A)!, Buffer.from(ptr.key, 'base64')) as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(moved), Object.keys(moved).sort(), 'sections sorted by name');
    const movedKeys = Object.keys(moved.mcpOAuth);
    assert.ok(movedKeys.length >= 1 && movedKeys.length < 6, movedKeys.join());
    assert.ok(movedKeys.includes(keyOf('server-5', urlOf(5))), 'the largest entry moved first');
    for (const k of movedKeys) {
      assert.ok(!(k in ((main.mcpOAuth as object | undefined) ?? {})), 'a moved entry is not also in the main item');
      if (data.mcpOAuthClientConfig![k]) assert.deepEqual(moved.mcpOAuthClientConfig[k], data.mcpOAuthClientConfig![k]);
    }
    // as Claude Code 2.1.332 writes them: the overflow first, its sealed base64 as the -w argument (nothing in any
    // keychain yet, so no keychain path), then the main item as a `security -i` line; argv never held a secret
    const writes = () => recordedArgvs(h.home).filter((a) => a[0] !== 'find-generic-password');
    assert.deepEqual(writes(), [
      ['add-generic-password', '-U', '-a', ACCOUNT, '-s', OV_A, '-w', item(h, OV_A)],
      ['-i'],
    ]);
    assert.match(
      recordedStdin(h.home),
      new RegExp(`^add-generic-password -U -a "${ACCOUNT}" -s "${SERVICE}" -X "[0-9a-f]+"\n$`),
    );
    assertNoSecretInArgv(h.home, data);

    // the next writes alternate the slots: b, then a
    const v2 = sixServers('v2');
    await s.write(v2);
    assert.equal((mainItem(h).keychainOverflow as { slot: string }).slot, 'b');
    assert.deepEqual((await s.read()).data, v2);
    // slot b is new: it goes into the keychain the main item is in, named as `find-generic-password` names it
    assert.deepEqual(writes().slice(2), [
      ['add-generic-password', '-U', '-a', ACCOUNT, '-s', OV_B, '-w', item(h, OV_B), keychainFile(h.home)],
      ['-i'],
    ]);
    const v3 = sixServers('v3');
    await s.write(v3);
    assert.equal((mainItem(h).keychainOverflow as { slot: string }).slot, 'a');
    assert.deepEqual((await s.read()).data, v3);
    assertNoSecretInArgv(h.home, v2);
    assertNoSecretInArgv(h.home, v3);

    // a store that fits again goes whole into the main item, with no pointer (what 2.1.328 reads too)
    const small = { mcpOAuth: { [keyOf('server-0', urlOf(0))]: { accessToken: 'small-secret' } }, futureSection: 1 };
    await s.write(small);
    assert.deepEqual(mainItem(h), small);
    assert.deepEqual((await s.read()).data, small);
  });
});

test('overflow: killed between the two items (the main-item write dies), the store still reads as before', async () => {
  await withHome(async (h) => {
    const s = storeOf(h, fakeSecurity(h.home));
    const old = sixServers('old');
    await s.write(old);
    const mainBefore = item(h, SERVICE);
    const ovBefore = item(h, OV_A);
    // the same keychain, now with a `security` that dies when the main item is written
    const dying = storeOf(h, fakeSecurity(h.home, { dieOnAdd: SERVICE }));
    await assert.rejects(dying.write(sixServers('new')), (e: Error & { code: string }) => {
      assert.equal(e.code, 'store-write');
      assert.ok(!/at-new|sk-ant/.test(e.message), e.message);
      return true;
    });
    assert.ok(item(h, OV_B), 'the new slot was written first');
    fakeSecurity(h.home); // the stand-in's behaviour is per folder: back to a `security` that does not die
    assert.equal(item(h, SERVICE), mainBefore, 'the main item is untouched and still points at slot a');
    assert.equal(item(h, OV_A), ovBefore, 'and slot a is untouched');
    assert.deepEqual((await s.read()).data, old, 'the old state reads whole');
    // and the next write after the crash works, into slot b again
    await s.write(sixServers('after'));
    assert.equal((mainItem(h).keychainOverflow as { slot: string }).slot, 'b');
    assert.deepEqual((await s.read()).data, sixServers('after'));
  });
});

test('overflow: killed while the overflow item (the argv write) is written, neither item changes', async () => {
  await withHome(async (h) => {
    const s = storeOf(h, fakeSecurity(h.home));
    const old = sixServers('old');
    await s.write(old);
    const before = fakeKeychainItems(h.home);
    const dying = storeOf(h, fakeSecurity(h.home, { dieOnAdd: OV_B }));
    await assert.rejects(dying.write(sixServers('new')), (e: Error & { code: string }) => {
      assert.equal(e.code, 'store-write');
      assert.ok(!/at-new|sk-ant/.test(e.message), e.message);
      return true;
    });
    assert.deepEqual(fakeKeychainItems(h.home), before, 'the main item and slot a as they were; slot b not made');
    assert.ok(!recordedStdin(h.home).includes(Buffer.from('at-new').toString('hex')), 'the main item was not sent');
    fakeSecurity(h.home);
    assert.deepEqual((await s.read()).data, old);
  });
});

/** A main item + overflow as Claude Code 2.1.332 writes them (sealed here), for `n` of the six servers moved. */
function claudeWritten(opts: { moved: number[]; key?: Buffer; slot?: 'a' | 'b'; stubInMain?: number[] }) {
  const data = sixServers('cc');
  const key = opts.key ?? randomBytes(32);
  const main = structuredClone(data) as Record<string, Record<string, unknown>>;
  const moved: Record<string, Record<string, unknown>> = { mcpOAuth: {} };
  for (const i of opts.moved) {
    const k = keyOf(`server-${i}`, urlOf(i));
    moved.mcpOAuth[k] = main.mcpOAuth[k];
    delete main.mcpOAuth[k];
    if (main.mcpOAuthClientConfig[k]) {
      (moved.mcpOAuthClientConfig ??= {})[k] = main.mcpOAuthClientConfig[k];
      delete main.mcpOAuthClientConfig[k];
    }
    // a stub Claude Code left in the main item (signed out there) must not hide the overflow entry
    if (opts.stubInMain?.includes(i)) main.mcpOAuth[k] = { serverName: `server-${i}`, accessToken: '' };
  }
  const slot = opts.slot ?? 'b';
  const mainJson = { ...main, keychainOverflow: { slot, key: key.toString('base64') } };
  const sorted = Object.fromEntries(
    Object.keys(moved)
      .sort()
      .map((k) => [k, moved[k]]),
  );
  return { data, key, slot, main: JSON.stringify(mainJson), blob: seal(sorted, key) };
}

test('overflow: an item pair written as Claude Code 2.1.332 writes it reads whole (a stub in the main item does not hide the overflow entry)', async () => {
  await withHome(async (h) => {
    const cc = claudeWritten({ moved: [5, 4, 3], stubInMain: [4] });
    const sec = fakeSecurity(h.home, {
      items: [
        { service: SERVICE, account: ACCOUNT, data: cc.main },
        { service: OV_B, account: ACCOUNT, data: cc.blob },
      ],
    });
    const snap = await storeOf(h, sec).read();
    assert.equal(snap.overflowError, undefined);
    assert.deepEqual(snap.data, cc.data);
    assert.equal(snap.data.keychainOverflow, undefined, 'the pointer is not part of the data');
  });
});

test('overflow: Claude Code merge rule - a main-item entry with a token wins; sections of other kinds follow the pointer marks', async () => {
  await withHome(async (h) => {
    const key = randomBytes(32);
    const k = keyOf('server-0', urlOf(0));
    const main = {
      mcpOAuth: { [k]: { accessToken: 'main-wins' } },
      pluginSecrets: { p: { a: 'main' } },
      keychainOverflow: { slot: 'a', key: key.toString('base64'), login: 'x' },
    };
    const blob = seal(
      {
        claudeAiOauth: { accessToken: 'sk-ant-oat01-from-overflow' },
        mcpOAuth: { [k]: { accessToken: 'overflow-loses' }, 'other|1': { accessToken: 'only-here' } },
        organizationUuid: 'stays-section-never-taken',
        pluginSecrets: { p: { b: 'overflow' } },
      },
      key,
    );
    const sec = fakeSecurity(h.home, {
      items: [
        { service: SERVICE, account: ACCOUNT, data: JSON.stringify(main) },
        { service: OV_A, account: ACCOUNT, data: blob },
      ],
    });
    const snap = await storeOf(h, sec).read();
    assert.deepEqual(snap.data, {
      mcpOAuth: { [k]: { accessToken: 'main-wins' }, 'other|1': { accessToken: 'only-here' } },
      pluginSecrets: { p: { b: 'overflow', a: 'main' } },
      claudeAiOauth: { accessToken: 'sk-ant-oat01-from-overflow' },
    } as unknown as StoreData);
  });
});

test('overflow: a missing overflow item and a wrong key are clear errors on the affected rows, never "signed out"; nothing is written', async () => {
  for (const kind of ['missing', 'wrong-key'] as const) {
    await withHome(async (h) => {
      const cc = claudeWritten({ moved: [5, 4], stubInMain: [4], slot: 'a' });
      const items = [{ service: SERVICE, account: ACCOUNT, data: cc.main }];
      if (kind === 'wrong-key')
        items.push({ service: OV_A, account: ACCOUNT, data: seal({ mcpOAuth: {} }, randomBytes(32)) });
      const sec = fakeSecurity(h.home, { items });
      const s = storeOf(h, sec);
      const code = kind === 'missing' ? 'store-overflow-missing' : 'store-overflow-unreadable';
      const snap = await s.read();
      assert.equal(snap.overflowError?.code, code);

      // the rows: servers 4 (stub in the main item) and 5 (not in it) are that error; 0-3 read as usual
      const servers: Record<string, unknown> = {};
      for (let i = 0; i < 6; i++) servers[`server-${i}`] = { type: 'http', url: urlOf(i) };
      fs.writeFileSync(path.join(h.home, '.claude.json'), JSON.stringify({ mcpServers: servers }));
      const paths = resolvePaths({ env: h.env, home: h.home, platform: 'darwin' });
      const model = await loadModel({ paths, cwd: h.project, env: h.env, store: s, now: 1795555344627 - 3_600_000 });
      for (const row of model.servers) {
        const i = Number(row.config.name.slice(-1));
        if (i >= 4) {
          assert.equal(row.status.state, 'error', row.config.name);
          assert.equal(row.status.code, code, row.config.name);
        } else {
          assert.equal(row.status.state, 'signed-in', row.config.name);
        }
      }
      assert.ok(model.issues.some((i) => i.code === code));

      // a write now would lose what the overflow held: refused with the same code, nothing sent to security -i
      const before = fakeKeychainItems(h.home);
      await assert.rejects(s.write(snap.data), (e: { code: string }) => e.code === code);
      assert.deepEqual(fakeKeychainItems(h.home), before);
      assert.ok(!recordedArgvs(h.home).some((a) => a[0] === '-i'));

      // a refresh persisting its answer for server 5 (its entry lives in the lost overflow) must not take the
      // entry as removed (signed out: revoke what it got): the same error, before its mutate ever runs
      let mutated = 0;
      await assert.rejects(
        updateEntry(s, paths, keyOf('server-5', urlOf(5)), () => {
          mutated++;
          return null;
        }),
        (e: { code: string }) => e.code === code,
      );
      assert.equal(mutated, 0, 'the entry was never judged');
    });
  }
});

test('overflow: the plaintext fallback file goes after the first verified keychain write, and only then', async () => {
  await withHome(async (h) => {
    const file = path.join(h.claudeDir, '.credentials.json');
    const fileData = { mcpOAuth: { 'a|1': { accessToken: 'from-file' } } };
    fs.writeFileSync(file, JSON.stringify(fileData), { mode: 0o600 });
    // a write whose read-back fails leaves the file
    const bad = storeOf(h, fakeSecurity(h.home, { readBack: '{"other":1}' }));
    await assert.rejects(bad.write(fileData), (e: { code: string }) => e.code === 'store-write');
    assert.ok(fs.existsSync(file), 'kept after a failed write');
    // no item yet: the store reads the file; the first good write moves it into the keychain and removes the file
    fs.rmSync(path.join(h.home, 'keychain.json'), { force: true });
    const s = storeOf(h, fakeSecurity(h.home));
    const snap = await s.read();
    assert.deepEqual(snap.data, fileData);
    await s.write(snap.data);
    assert.ok(!fs.existsSync(file), 'the plaintext file is gone');
    assert.deepEqual((await s.read()).data, fileData, 'and the keychain holds what it held');
  });
});

test('overflow: deleting the credentials deletes the main item and both overflow items', async () => {
  await withHome(async (h) => {
    const s = storeOf(h, fakeSecurity(h.home));
    await s.write(sixServers('1'));
    await s.write(sixServers('2'));
    assert.ok(item(h, SERVICE) && item(h, OV_A) && item(h, OV_B));
    await s.delete();
    assert.equal(fakeKeychainItems(h.home).size, 0);
    await s.delete(); // nothing left: still fine
  });
});

test('overflow: a 30-server store (over 8 KB) with a claude.ai login round-trips; the main item on stdin, only the sealed overflow as argv (store-too-large before)', async () => {
  await withHome(async (h) => {
    const s = storeOf(h, fakeSecurity(h.home));
    const data = servers(30);
    assert.ok(JSON.stringify(data).length > 8192, String(JSON.stringify(data).length));
    await s.write(data);
    assert.deepEqual((await s.read()).data, data, 'read back whole, merged');

    const main = mainItem(h);
    const ptr = main.keychainOverflow as { slot: string; key: string };
    assert.equal(ptr.slot, 'a');
    assert.deepEqual(main.claudeAiOauth, data.claudeAiOauth, 'the login stays in the main item');
    const mainLine = `add-generic-password -U -a "${ACCOUNT}" -s "${SERVICE}" -X "${Buffer.from(item(h, SERVICE)!).toString('hex')}"\n`;
    assert.ok(mainLine.length <= 4032, String(mainLine.length));
    const blob = item(h, OV_A)!;
    assert.ok(`add-generic-password -U -a "${ACCOUNT}" -s "${OV_A}" -w "${blob}"\n`.length > 4032, 'no one line');
    // the overflow, opened here with node:crypto, holds exactly the servers the main item lacks
    const moved = unseal(blob, Buffer.from(ptr.key, 'base64')) as Record<string, Record<string, unknown>>;
    const inMain = Object.keys((main.mcpOAuth as object | undefined) ?? {});
    assert.deepEqual([...Object.keys(moved.mcpOAuth), ...inMain].sort(), Object.keys(data.mcpOAuth!).sort());

    // how each item went: the main item as a `security -i` line, the overflow (only it) as arguments
    const adds = recordedArgvs(h.home).filter((a) => a[0] === 'add-generic-password');
    assert.deepEqual(
      adds.map((a) => a.slice(0, 7)),
      [['add-generic-password', '-U', '-a', ACCOUNT, '-s', OV_A, '-w']],
    );
    assert.equal(adds[0][7], blob);
    assert.match(
      recordedStdin(h.home),
      new RegExp(`^add-generic-password -U -a "${ACCOUNT}" -s "${SERVICE}" -X "`, 'm'),
    );
    assert.ok(!recordedStdin(h.home).includes(OV_A), 'an overflow too long for a line is not also sent cut short');
    assertNoSecretInArgv(h.home, data);

    // the next write goes to slot b, the same way; and a store that fits again is one line, no argv
    const v2 = servers(30, 'v2');
    await s.write(v2);
    assert.equal((mainItem(h).keychainOverflow as { slot: string }).slot, 'b');
    assert.deepEqual((await s.read()).data, v2);
    assertNoSecretInArgv(h.home, v2);
    assertNoSecretInArgv(h.home, data);
    const small = servers(1, 'v3');
    await s.write(small);
    assert.deepEqual((await s.read()).data, small);
    assert.equal(mainItem(h).keychainOverflow, undefined);
  });
});

test('overflow: six servers with 700-character tokens (store-too-large before) are written; too large is only a main item that does not fit with everything moved', async () => {
  await withHome(async (h) => {
    const s = storeOf(h, fakeSecurity(h.home));
    const data = sixServers();
    for (const e of Object.values(data.mcpOAuth!)) e.accessToken += 'T'.repeat(700);
    await s.write(data);
    assert.deepEqual((await s.read()).data, data);
    assert.ok(
      recordedArgvs(h.home).some((a) => a[0] === 'add-generic-password'),
      'the overflow is too long for one line: it went as argv',
    );
    assertNoSecretInArgv(h.home, data);

    // a claude.ai login that alone passes the line (it never moves): refused, nothing written, nothing as argv
    const before = fakeKeychainItems(h.home);
    fs.rmSync(path.join(h.home, 'argv.log'));
    const huge = sixServers('huge');
    (huge.claudeAiOauth as { accessToken: string }).accessToken += 'T'.repeat(2100);
    await assert.rejects(s.write(huge), (e: Error & { code: string }) => {
      assert.equal(e.code, 'store-too-large');
      assert.ok(!e.message.includes('TTTT') && !e.message.includes('sk-ant'), e.message);
      return true;
    });
    assert.deepEqual(fakeKeychainItems(h.home), before, 'nothing written');
    assert.ok(!recordedArgvs(h.home).some((a) => a[0] === 'add-generic-password' || a[0] === '-i'));
    assertNoSecretInArgv(h.home, huge);
  });
});
