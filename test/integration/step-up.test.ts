import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withHome, runCliAsync, type TempHome } from '../helpers/home';
import { runClaude } from '../helpers/claude';
import { cliLogin, configured, entryOf, callWhoami } from '../helpers/oauth';
import { useStack } from '../helpers/stack';

/**
 * Step-up (issue 14 item 2; MCP authorization spec 2025-11-25): a server answers a valid token that lacks a
 * scope with 403 `insufficient_scope`. The real `claude mcp list` records that as `stepUpScope` on the entry
 * and a 90 s needs-auth entry; we show `needs-scope` with the missing scope, and `mcp-auth login` asks for the
 * union of scopes, stores a token the server accepts, and leaves an entry Claude Code connects with.
 */

const stack = useStack({ resetCounters: true });

const cacheOf = (h: TempHome): Record<string, { timestamp: number; ttlMs?: number }> => {
  const f = path.join(h.claudeDir, 'mcp-needs-auth-cache.json');
  return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : {};
};

async function statusRow(h: TempHome, name: string): Promise<{ code: number; row: Record<string, unknown> }> {
  const st = await runCliAsync(['status', '--json'], { env: h.env, cwd: h.project });
  const row = (JSON.parse(st.stdout).servers as Record<string, unknown>[]).find((s) => s.name === name);
  assert.ok(row, st.stdout + st.stderr);
  return { code: st.code, row };
}

test(
  'step-up with the real claude: 403 insufficient_scope → stepUpScope → needs-scope → login asks for the union → signed-in, and Claude Code connects',
  { timeout: 240_000 },
  async () => {
    await withHome(configured({ admin: { type: 'http', url: stack.mcpAdminUrl } }), async (h) => {
      // 1. signed in for what the server's 401 challenge asks: "mcp" (the AS grants what was asked)
      const first = await cliLogin(h, 'admin', ['--timeout', '30']);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(new URL(first.authUrl!).searchParams.get('scope'), 'mcp');
      assert.equal(new URL(first.authUrl!).searchParams.get('resource'), stack.mcpAdminUrl);
      const signedIn = entryOf(h, 'admin').entry;
      assert.equal(signedIn.scope, 'mcp');
      assert.equal((await statusRow(h, 'admin')).row.state, 'signed-in');
      // the token is valid, but /mcp-admin wants mcp:admin too
      await assert.rejects(callWhoami(stack.mcpAdminUrl, signedIn.accessToken), /403|insufficient_scope|Forbidden/i);

      // 2. the real Claude Code meets the 403
      const rejectedBefore = stack.counters.mcpInsufficientScope;
      const list = await runClaude(['mcp', 'list'], { env: h.env, cwd: h.project });
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /admin: .* Needs authentication/, list.stdout);
      assert.ok(
        stack.counters.mcpInsufficientScope > rejectedBefore,
        'Claude Code was answered 403 insufficient_scope',
      );
      const stepped = entryOf(h, 'admin').entry;
      assert.equal(stepped.stepUpScope, 'mcp mcp:admin offline_access', JSON.stringify(Object.keys(stepped)));
      assert.equal(stepped.accessToken, signedIn.accessToken, 'tokens kept');
      assert.equal(stepped.refreshToken, signedIn.refreshToken);
      const cc = cacheOf(h).admin;
      assert.ok(cc, 'a needs-auth entry');
      assert.equal(cc.ttlMs, 90_000);

      // 3. we say why: needs-scope, the missing scope, exit 1, the fix
      const st = await statusRow(h, 'admin');
      assert.equal(st.code, 1);
      assert.equal(st.row.state, 'needs-scope');
      assert.equal(st.row.reason, 'step-up');
      assert.deepEqual(st.row.missingScopes, ['mcp:admin']);
      const text = await runCliAsync(['status'], { env: h.env, cwd: h.project });
      assert.match(text.stdout, /admin\s+user\s+needs-scope\s+needs scope mcp:admin/);
      assert.match(text.stdout, /admin: mcp-auth login admin/);
      const doc = await runCliAsync(['doctor', 'admin', '--json'], { env: h.env, cwd: h.project });
      const d = (JSON.parse(doc.stdout).servers as { name: string; fix?: string; lines: string[] }[]).find(
        (s) => s.name === 'admin',
      )!;
      assert.equal(d.fix, 'mcp-auth login admin');
      assert.ok(
        d.lines.some((l) => /asked for scope "mcp mcp:admin offline_access".*lacking mcp:admin/.test(l)),
        d.lines.join('\n'),
      );

      // 4. grant: one sign-in for the union of scopes
      const regs = stack.counters.registrations;
      const grant = await cliLogin(h, 'admin', ['--timeout', '30']);
      assert.equal(grant.code, 0, grant.stderr);
      assert.equal(new URL(grant.authUrl!).searchParams.get('scope'), 'mcp mcp:admin offline_access');
      // the stored client was registered for "mcp" (oidc-provider holds a client to its registered scope): a new one for the union
      assert.equal(stack.counters.registrations, regs + 1, 'one new client registered for the wider scope');
      const granted = entryOf(h, 'admin').entry;
      assert.notEqual(granted.accessToken, signedIn.accessToken);
      assert.ok(granted.scope.split(' ').includes('mcp:admin'), granted.scope);
      assert.ok(!('stepUpScope' in granted), 'stepUpScope dropped once the granted scope covers it');
      assert.ok(!('admin' in cacheOf(h)), 'the needs-auth entry is cleared');
      const who = (await callWhoami(stack.mcpAdminUrl, granted.accessToken)) as { sub: string; scope?: string };
      assert.equal(who.sub, 'test-user');
      assert.ok(who.scope?.split(' ').includes('mcp:admin'), who.scope);
      const after = await statusRow(h, 'admin');
      assert.equal(after.code, 0);
      assert.equal(after.row.state, 'signed-in');
      assert.ok(!('missingScopes' in after.row));

      // 5. Claude Code takes the new entry as it is
      const again = await runClaude(['mcp', 'list'], { env: h.env, cwd: h.project });
      assert.match(again.stdout, /admin: .* Connected/, again.stdout);
      assert.ok(!('stepUpScope' in entryOf(h, 'admin').entry));
    });
  },
);
