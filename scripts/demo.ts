/**
 * npm run demo: the whole story on this machine with nothing of yours touched — a local OAuth server and
 * MCP server (the test oauth-stack), a throwaway HOME, and the real Claude Code CLI when it is installed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeHome, runCliAsync, CLAUDE_BIN } from '../test/helpers/home';
import { startStack, cliLogin, writeServers, entryOf } from '../test/helpers/oauth';
import { runClaude } from '../test/helpers/claude';

const bold = (s: string) => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s: string) => process.stdout.write(`${s}\n`);
const indent = (s: string) =>
  s
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');

async function main(): Promise<number> {
  const TTL = 6;
  const stack = await startStack({ accessTokenTTL: TTL });
  const h = makeHome();
  const c = stack.counters;
  const as = () =>
    `AS so far: ${c.registrations} client registration(s), ${c.tokenRequests.authorization_code ?? 0} code exchange(s), ${c.tokenRequests.refresh_token ?? 0} refresh(es), ${c.reusesDetected} reuse(s) detected, ${c.grantsRevoked} grant(s) revoked`;
  const cli = async (...args: string[]) => {
    const r = await runCliAsync(args, { env: h.env, cwd: h.project });
    say(`  $ mcp-auth ${args.join(' ')}   (exit ${r.code})`);
    if (r.stdout.trim()) say(indent(r.stdout));
    if (r.stderr.trim()) say(indent(r.stderr));
    return r;
  };
  try {
    say(bold(`MCP Auth Status demo — throwaway HOME ${h.home}`));
    say(
      `OAuth server + MCP server: ${stack.issuer} (oidc-provider with single-use rotating refresh tokens; reuse revokes the grant)\n`,
    );
    writeServers(h, { demo: { type: 'http', url: stack.mcpUrl } });

    say(bold('1. A server that needs sign-in'));
    if (fs.existsSync(CLAUDE_BIN)) {
      const list = await runClaude(['mcp', 'list'], { env: h.env, cwd: h.project });
      say('  $ claude mcp list   (the real Claude Code, same throwaway HOME)');
      say(
        indent(
          list.stdout
            .split('\n')
            .filter((l) => l.startsWith('demo'))
            .join('\n'),
        ),
      );
    } else {
      say('  (Claude Code is not installed: writing the needs-auth cache entry it would write)');
      fs.writeFileSync(
        path.join(h.claudeDir, 'mcp-needs-auth-cache.json'),
        JSON.stringify({ demo: { timestamp: Date.now() } }),
      );
    }
    await cli('status');

    say(bold('\n2. Sign in once (the browser step is approved automatically by the demo)'));
    const login = await cliLogin(h, 'demo', ['--timeout', '60']);
    say(`  $ mcp-auth login demo   (exit ${login.code})`);
    say(indent(login.stdout));
    say(`  ${as()}`);
    await cli('status');

    say(bold(`\n3. The access token expires (this server issues ${TTL}-second tokens)`));
    await new Promise((r) => setTimeout(r, (TTL + 1) * 1000));
    await cli('status');

    say(bold('\n4. Eight processes refresh at the same moment'));
    stack.mode.accessTokenTTL = 3600; // from now on the server issues 1-hour tokens
    const rt0 = entryOf(h, 'demo').entry.refreshToken;
    const runs = await Promise.all(
      Array.from({ length: 8 }, () => runCliAsync(['refresh', 'demo', '--json'], { env: h.env, cwd: h.project })),
    );
    const results = runs.map((r) => JSON.parse(r.stdout).results[0].result as string);
    const tally = Object.entries(results.reduce<Record<string, number>>((a, r) => ({ ...a, [r]: (a[r] ?? 0) + 1 }), {}))
      .map(([k, v]) => `${v} ${k}`)
      .join(', ');
    say(`  8 × mcp-auth refresh demo → ${tally}; exit codes ${[...new Set(runs.map((r) => r.code))].join(',')}`);
    say(`  refresh token rotated: ${entryOf(h, 'demo').entry.refreshToken !== rt0 ? 'yes' : 'no'}`);
    say(`  ${as()}`);

    say(bold('\n5. A stale needs-auth entry blocks the server for every new Claude Code session'));
    fs.writeFileSync(
      path.join(h.claudeDir, 'mcp-needs-auth-cache.json'),
      JSON.stringify({ demo: { timestamp: Date.now() } }),
    );
    say('  (written as Claude Code writes it when a connection fails, e.g. during a refresh race elsewhere)');
    await cli('status');

    say(bold('\n6. The keeper clears it by itself: the server accepts the stored token, so the entry is stale'));
    say('  (`mcp-auth watch` does this continuously for every process; `--once` is one pass, for cron or CI)');
    await cli('watch', '--once');
    const final = await cli('status');
    say(`\n${as()}`);
    say(final.code === 0 ? bold('All green.') : bold('Something is still wrong: see above.'));
    return final.code;
  } finally {
    h.cleanup();
    await stack.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`demo failed: ${e?.stack ?? e}\n`);
    process.exitCode = 1;
  },
);
