/**
 * Say why: one needs-auth cache file shared by several secure-storage profiles. Claude Code keeps the cache in the
 * config dir D and the credential store in $CLAUDE_SECURESTORAGE_CONFIG_DIR: two profiles sharing D share the
 * cache and nothing else. Shown with the real Claude Code 2.1.328: the default profile (no token) writes the
 * entry with `claude mcp list`, and a real `claude -p` session of the signed-in profile then skips the server.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hashTree, runCliAsync, withHome, type TempHome } from '../helpers/home';
import { cliLogin, writeServers } from '../helpers/oauth';
import { claudeSession, runClaude, startFakeMessagesApi } from '../helpers/claude';
import { useStack } from '../helpers/stack';

const stack = useStack();
let api: Awaited<ReturnType<typeof startFakeMessagesApi>>;
before(async () => {
  api = await startFakeMessagesApi();
});
after(async () => {
  await api.close();
});

async function session(h: TempHome, env: NodeJS.ProcessEnv): Promise<string[]> {
  const s = await claudeSession(api, env, h.project);
  assert.equal(s.code, 0, s.stderr);
  return s.offered;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const statusOf = async (h: TempHome, env: NodeJS.ProcessEnv): Promise<any> => {
  const r = await runCliAsync(['status', '--json'], { env, cwd: h.project });
  return JSON.parse(r.stdout).servers.find((s: { name: string }) => s.name === 'demo');
};

test('a needs-auth entry written by a profile without a token blocks the signed-in profile; status, doctor and the tooltip say so', async () => {
  await withHome(async (h) => {
    writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });
    const cj = path.join(h.home, '.claude.json');
    fs.writeFileSync(cj, JSON.stringify({ ...JSON.parse(fs.readFileSync(cj, 'utf8')), hasCompletedOnboarding: true }));
    const workDir = path.join(h.home, 'profiles', 'work');
    fs.mkdirSync(workDir, { recursive: true });
    const work = { ...h.env, CLAUDE_SECURESTORAGE_CONFIG_DIR: workDir };
    const personal = h.env; // S = D = ~/.claude

    // the "work" profile signs in (its store: workDir/.credentials.json); the sign-in notes the profile
    const r = await cliLogin(h, 'demo', ['--timeout', '30'], { env: work });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.existsSync(path.join(workDir, '.credentials.json')));
    const reg = JSON.parse(fs.readFileSync(path.join(h.claudeDir, 'mcp-auth-profiles.json'), 'utf8'));
    assert.deepEqual(Object.keys(reg.profiles), [workDir]);
    assert.equal((fs.statSync(path.join(h.claudeDir, 'mcp-auth-profiles.json')).mode & 0o777).toString(8), '600');
    assert.deepEqual(await session(h, work), ['mcp__demo__whoami'], 'the work profile connects before');

    // the default profile has no token: the real `claude mcp list` there writes the shared cache entry
    const list = await runClaude(['mcp', 'list'], { env: personal, cwd: h.project });
    assert.match(list.stdout, /demo.*Needs authentication/i, list.stdout);
    const cache = JSON.parse(fs.readFileSync(path.join(h.claudeDir, 'mcp-needs-auth-cache.json'), 'utf8'));
    assert.ok(cache.demo, 'Claude Code wrote the entry into D');

    // …and a real session of the work profile, whose own token works, now skips the server
    assert.deepEqual(await session(h, work), [], 'the work profile is blocked by the other profile’s entry');

    // say why, from the blocked profile: the entry comes from a profile without a token, with the fix
    const w = await statusOf(h, work);
    assert.equal(w.state, 'blocked');
    const shared = w.hints.find((x: { code: string }) => x.code === 'shared-cache-profiles');
    assert.deepEqual(shared, {
      code: 'shared-cache-profiles',
      cacheFile: path.join(h.claudeDir, 'mcp-needs-auth-cache.json'),
      profiles: [{ dir: h.claudeDir, hasToken: false }],
    });
    const before = hashTree(h.home);
    const doc = await runCliAsync(['doctor', 'demo'], { env: work, cwd: h.project });
    assert.match(doc.stdout, /is shared with 1 other secure-storage profile\(s\)/);
    assert.match(doc.stdout, new RegExp(`${h.claudeDir} \\(no token for this server\\)`));
    assert.ok(doc.stdout.includes(`CLAUDE_SECURESTORAGE_CONFIG_DIR=${h.claudeDir} mcp-auth login demo`), doc.stdout);
    assert.deepEqual(hashTree(h.home), before, 'status and doctor changed no file');

    // from the other side (no token here): the entry is probably its own, so nothing is blamed on the work profile
    const p = await statusOf(h, personal);
    assert.equal(p.state, 'needs-auth');
    assert.equal(p.hints, undefined);

    // the fix the hint names: sign in from the profile without a token → the entry goes, both profiles connect
    const r2 = await cliLogin(h, 'demo', ['--timeout', '30'], { env: personal });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(
      JSON.parse(fs.readFileSync(path.join(h.claudeDir, 'mcp-needs-auth-cache.json'), 'utf8')).demo,
      undefined,
    );
    assert.equal((await statusOf(h, work)).hints, undefined, 'no entry, nothing to explain');
    assert.deepEqual(await session(h, work), ['mcp__demo__whoami']);
  });
});

test('no hint without another profile, and none on a row without a needs-auth entry', async () => {
  await withHome(async (h) => {
    writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });
    const r = await cliLogin(h, 'demo', ['--timeout', '30']);
    assert.equal(r.code, 0, r.stderr);
    const cacheFile = path.join(h.claudeDir, 'mcp-needs-auth-cache.json');
    fs.writeFileSync(cacheFile, JSON.stringify({ demo: { timestamp: Date.now() } }));
    const s = await statusOf(h, h.env);
    assert.equal(s.state, 'blocked');
    assert.equal(s.hints, undefined, 'one profile only: the entry is not another profile’s');
    // a second profile appears (a store under another secure-storage dir, noted by a command that acts there)
    const other = path.join(h.home, 'other');
    fs.mkdirSync(other);
    const r2 = await runCliAsync(['invalidate', '--all'], {
      env: { ...h.env, CLAUDE_SECURESTORAGE_CONFIG_DIR: other },
      cwd: h.project,
    });
    assert.equal(r2.code, 0, r2.stderr);
    fs.writeFileSync(cacheFile, JSON.stringify({ demo: { timestamp: Date.now() } }));
    assert.equal((await statusOf(h, h.env)).hints, undefined, 'a profile without a store is not named');
    fs.writeFileSync(path.join(other, '.credentials.json'), '{"mcpOAuth":{}}', { mode: 0o600 });
    assert.deepEqual((await statusOf(h, h.env)).hints[0].profiles, [{ dir: other, hasToken: false }]);
    // a profile that holds a token for the server too is never blamed: no hint
    fs.copyFileSync(path.join(h.claudeDir, '.credentials.json'), path.join(other, '.credentials.json'));
    assert.equal((await statusOf(h, h.env)).hints, undefined);
    fs.writeFileSync(cacheFile, '{}');
    assert.equal((await statusOf(h, h.env)).hints, undefined);
  });
});
