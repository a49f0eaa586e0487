/**
 * Sessions already running (issue 21 §3), with real Claude Code sessions against the real OAuth + MCP stack: a
 * session reads the needs-auth cache once, at its start, so one that started while a fresh entry stood lacks the
 * server after we clear it. Our CLI names that session (status --json, doctor), and the fix it gives an SDK host —
 * the control request mcp_reconnect — really gives the session the tool.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeHome, runCliAsync, sleep, type TempHome, waitFor } from '../helpers/home';
import { WRITER_LEAD_MS } from '../../src/core/cache/cleared';
import { cliLogin, writeServers } from '../helpers/oauth';
import { startFakeMessagesApi, streamSession, type StreamSession } from '../helpers/claude';
import { useStack } from '../helpers/stack';

const stack = useStack({ resetCounters: true });
let api: Awaited<ReturnType<typeof startFakeMessagesApi>>;
before(async () => {
  api = await startFakeMessagesApi();
});
after(async () => {
  await api.close();
});

const cacheFile = (h: TempHome) => path.join(h.claudeDir, 'mcp-needs-auth-cache.json');
const writeCache = (h: TempHome, c: Record<string, unknown>) => fs.writeFileSync(cacheFile(h), JSON.stringify(c));

async function signedInHome(): Promise<TempHome> {
  const h = makeHome();
  writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });
  const cj = path.join(h.home, '.claude.json');
  fs.writeFileSync(cj, JSON.stringify({ ...JSON.parse(fs.readFileSync(cj, 'utf8')), hasCompletedOnboarding: true }));
  const r = await cliLogin(h, 'demo', ['--timeout', '30']);
  assert.equal(r.code, 0, r.stderr);
  return h;
}

/** The session's own registry record (Claude Code writes it at start). */
async function registered(h: TempHome, s: StreamSession): Promise<Record<string, unknown>> {
  const f = path.join(h.claudeDir, 'sessions', `${s.pid}.json`);
  await waitFor(`the registry file of pid ${s.pid}`, () => fs.existsSync(f), 60_000, 50);
  return JSON.parse(fs.readFileSync(f, 'utf8'));
}

async function demoStatus(s: StreamSession): Promise<{ status: string; tools?: { name: string }[] }> {
  const r = await s.control({ subtype: 'mcp_status' });
  assert.equal(r.subtype, 'success', JSON.stringify(r));
  const servers = (r.response as { mcpServers: { name: string; status: string; tools?: { name: string }[] }[] })
    .mcpServers;
  const demo = servers.find((x) => x.name === 'demo');
  assert.ok(demo, JSON.stringify(servers));
  return demo;
}

async function statusRow(h: TempHome): Promise<Record<string, unknown>> {
  const st = await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project });
  const row = JSON.parse(st.stdout).servers.find((x: { name: string }) => x.name === 'demo');
  assert.ok(row, st.stdout + st.stderr);
  return row;
}

test(
  'a real stream-json session that started while a fresh entry stood lacks the tool; after invalidate our CLI names it; mcp_reconnect gives it the tool',
  { timeout: 240_000 },
  async () => {
    const h = await signedInHome();
    const sessions: StreamSession[] = [];
    try {
      // A: started before any entry stood — it connects and has the tool; never named
      const a = streamSession(api, h.env, h.project);
      sessions.push(a);
      const regA = await registered(h, a);
      assert.equal((await demoStatus(a)).status, 'connected');
      // the entry Claude Code would have written after a failure, written more than the writer's lead after A
      // started (a session that started just before the entry may be the one that wrote it); B starts while it stands
      await sleep(Math.max(0, (regA.startedAt as number) + WRITER_LEAD_MS + 500 - Date.now()));
      writeCache(h, { demo: { timestamp: Date.now() } });
      assert.equal((await statusRow(h)).state, 'blocked');
      const b = streamSession(api, h.env, h.project);
      sessions.push(b);
      const reg = await registered(h, b);
      assert.equal(reg.pid, b.pid);
      assert.equal((await demoStatus(b)).status, 'needs-auth', 'B skipped the server (cached needs-auth)');

      const inv = await runCliAsync(['invalidate', 'demo'], { env: h.env, cwd: h.project });
      assert.equal(inv.code, 0, inv.stderr);
      assert.match(inv.stdout, /removed needs-auth entries: demo/);
      const cleared = path.join(h.claudeDir, 'mcp-auth-cleared.json');
      assert.equal(fs.statSync(cleared).mode & 0o777, 0o600);
      assert.doesNotMatch(fs.readFileSync(cleared, 'utf8'), /accessToken|refreshToken|Token"/);

      // C: started after the clear — it has the tool; never named
      const c = streamSession(api, h.env, h.project);
      sessions.push(c);
      await registered(h, c);
      assert.equal((await demoStatus(c)).status, 'connected');

      const row = await statusRow(h);
      assert.equal(row.state, 'signed-in');
      const lacking = row.runningSessionsLacking as Record<string, unknown>[];
      assert.deepEqual(
        lacking.map((x) => [x.pid, x.cwd, x.kind, x.entrypoint, x.fix]),
        [[b.pid, h.project, 'interactive', 'sdk-cli', 'sdk-reconnect']],
        'only B, the session that started while the entry stood',
      );
      assert.equal(lacking[0].startedAt, new Date(reg.startedAt as number).toISOString());
      const text = await runCliAsync(['status'], { env: h.env, cwd: h.project });
      assert.match(text.stdout, new RegExp(`demo: 1 running Claude Code session started .* pid ${b.pid} in `));
      const doc = await runCliAsync(['doctor', 'demo'], { env: h.env, cwd: h.project });
      assert.match(doc.stdout, new RegExp(`running session pid ${b.pid} \\(interactive, sdk-cli, Claude Code `));
      assert.match(doc.stdout, /"subtype":"mcp_reconnect","serverName":"demo"/);
      const docJson = JSON.parse(
        (await runCliAsync(['doctor', 'demo', '--json'], { env: h.env, cwd: h.project })).stdout,
      );
      assert.ok(docJson.servers[0].lines.some((l: string) => l.includes(`pid ${b.pid}`)));

      // clearing the entry did nothing for B: it still lacks the server
      assert.equal((await demoStatus(b)).status, 'needs-auth');
      // the fix we name: the control request mcp_reconnect
      const rc = await b.control({ subtype: 'mcp_reconnect', serverName: 'demo' });
      assert.equal(rc.subtype, 'success', JSON.stringify(rc));
      const after = await demoStatus(b);
      assert.equal(after.status, 'connected');
      assert.deepEqual(
        after.tools?.map((t) => t.name),
        ['whoami'],
      );
      const seen = api.toolsSeen.length;
      const calls = stack.counters.toolCalls;
      const res = await b.prompt('call the whoami tool');
      assert.match(String(res.result), /TOOL-RESULT/, JSON.stringify(res));
      assert.ok(api.toolsSeen.slice(seen).flat().includes('mcp__demo__whoami'), 'the tool is offered on the next turn');
      assert.equal(stack.counters.toolCalls, calls + 1, 'and the MCP server answered the call');

      // once B ends, it is named no more
      assert.equal(await b.end(), 0, b.stderr());
      assert.equal((await statusRow(h)).runningSessionsLacking, undefined);
    } finally {
      for (const s of sessions) await s.end().catch(() => -1);
      h.cleanup();
    }
  },
);
