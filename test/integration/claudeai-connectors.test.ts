import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withHome, runCliAsync } from '../helpers/home';
import { runClaude } from '../helpers/claude';
import {
  CONNECTOR_ID,
  CONNECTOR_NAME,
  CONNECTOR_TOOL,
  ORG_UUID,
  connectorSession,
  startClaudeAiStandIn,
  writeClaudeAiLogin,
} from '../helpers/claudeai';

/**
 * The seed case with a real Claude Code (claudeai-connectors-recipe.md): a connector's sign-in on claude.ai lapsed,
 * Claude Code wrote its needs-auth entry, and every new session skips it. We show it as "needs sign-in on claude.ai",
 * refuse to refresh or sign in to it, and after the user signed in again there, our clear (`mcp-auth invalidate`)
 * lets the next real session have the connector's tool — removing only that key, never touching the claude.ai login.
 */
test(
  'real Claude Code: a connector blocked by its needs-auth entry shows as needs sign-in on claude.ai; after our clear the next session has its tool',
  { timeout: 240_000 },
  async () => {
    await withHome(async (h) => {
      const s = await startClaudeAiStandIn(path.join(h.home, 'standin'));
      try {
        const credsFile = writeClaudeAiLogin(h.home, h.claudeDir);
        const credsBefore = fs.readFileSync(credsFile);
        const env = { ...h.env, ...s.env };
        const cacheFile = path.join(h.claudeDir, 'mcp-needs-auth-cache.json');

        // 1. the connector's own sign-in on claude.ai lapsed: Claude Code itself writes the entry
        s.mode = 'needs-auth';
        const list = await runClaude(['mcp', 'list'], { env, cwd: h.project });
        assert.match(list.stdout, /claude\.ai Demo/, list.stdout + list.stderr);
        const written = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
        assert.equal(written[CONNECTOR_NAME]?.id, CONNECTOR_ID, JSON.stringify(written));
        // another entry, to show our clear keeps it
        written.other = { timestamp: Date.now() };
        fs.writeFileSync(cacheFile, JSON.stringify(written));

        // 2. we show it, with the state model's codes, and say until when it blocks
        const st = await runCliAsync(['status', '--json'], { env, cwd: h.project });
        const row = JSON.parse(st.stdout).servers.find((r: { name: string }) => r.name === CONNECTOR_NAME);
        assert.ok(row, st.stdout + st.stderr);
        assert.equal(row.scope, 'claudeai');
        assert.equal(row.transport, 'claudeai-proxy');
        assert.equal(row.state, 'needs-auth');
        assert.equal(row.reason, 'claudeai-sign-in');
        assert.equal(row.connectorId, CONNECTOR_ID);
        assert.equal(row.needsAuthCachedAt, new Date(written[CONNECTOR_NAME].timestamp).toISOString());
        assert.equal(row.blockedUntil, new Date(written[CONNECTOR_NAME].timestamp + 4 * 3600_000).toISOString());
        assert.equal(st.code, 1);
        const doc = await runCliAsync(['doctor', CONNECTOR_NAME], { env, cwd: h.project });
        assert.match(doc.stdout, /new Claude Code sessions skip it until/);
        assert.ok(
          doc.stdout.includes(
            `https://claude.ai/api/organizations/${ORG_UUID}/mcp/start-auth/${CONNECTOR_ID}?product_surface=cli`,
          ),
          doc.stdout,
        );
        assert.match(doc.stdout, /2\.1\.332 — claude on PATH|Claude Code:/);
        for (const cmd of ['refresh', 'login', 'logout']) {
          const r = await runCliAsync([cmd, CONNECTOR_NAME], { env, cwd: h.project });
          assert.equal(r.code, 1, `${cmd}: ${r.stderr}`);
          assert.match(r.stderr, /^mcp-auth: claudeai-connector: /, cmd);
        }

        // 3. the connector works again on claude.ai, but the entry stands: a real session still skips it
        s.mode = 'ok';
        const before = s.connectorRequests;
        const blocked = await connectorSession(s, h.env, h.project);
        assert.equal(blocked.code, 0, blocked.stderr);
        assert.ok(!blocked.offered.includes(CONNECTOR_TOOL), `offered: ${blocked.offered.join(', ')}`);
        assert.match(blocked.stdout, /NO-MCP-TOOL/);
        assert.equal(s.connectorRequests, before, 'a fresh entry: the connector is not dialed');

        // 4. "I have signed in — clear": only that key goes
        const inv = await runCliAsync(['invalidate', CONNECTOR_NAME], { env, cwd: h.project });
        assert.equal(inv.code, 0, inv.stderr);
        assert.match(inv.stdout, /removed needs-auth entries: claude\.ai Demo/);
        assert.match(inv.stdout, /sessions already running keep what they read/);
        const after = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
        assert.deepEqual(Object.keys(after), ['other']);

        // 5. the next real session dials the connector and calls its tool
        const ok = await connectorSession(s, h.env, h.project);
        assert.equal(ok.code, 0, ok.stderr);
        assert.ok(ok.offered.includes(CONNECTOR_TOOL), `offered: ${ok.offered.join(', ')}`);
        assert.match(ok.stdout, /ENDPOINT-CONNECTOR/);

        // the claude.ai login was never written, and only Claude Code sent its token
        assert.deepEqual(fs.readFileSync(credsFile), credsBefore);
        assert.ok(s.authorizations.every((a) => a === 'Bearer sk-ant-oat01-FAKE-test-only'));

        // 6. with connectors off (the env variable Claude Code honours), no connector rows
        const off = await runCliAsync(['status', '--json'], {
          env: { ...env, ENABLE_CLAUDEAI_MCP_SERVERS: 'false' },
          cwd: h.project,
        });
        assert.deepEqual(
          JSON.parse(off.stdout).servers.filter((r: { scope: string }) => r.scope === 'claudeai'),
          [],
        );
      } finally {
        await s.close();
      }
    });
  },
);
