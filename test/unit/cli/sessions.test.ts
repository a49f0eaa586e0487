import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { statusJson } from '../../../src/cli/main';
import { sessionLine, statusSessionLines } from '../../../src/cli/sessions';
import type { ServerRow } from '../../../src/core';

const NOW = 1_800_000_000_000;
const row = (name: string, extra: Partial<ServerRow> = {}): ServerRow => ({
  config: { name, scope: 'user', file: '/h/.claude.json', transport: 'http', url: `https://x/${name}` },
  key: `${name}|0123456789abcdef`,
  status: { state: 'signed-in', reason: 'valid', hasRefreshToken: true },
  ...extra,
});

test('CLI: running sessions that lack a server in status --json, under status, and in doctor with the fix for their kind', () => {
  const base = { cwd: '/projects/p', startedAt: NOW - 60_000, entryTimestamp: NOW - 120_000, clearedAt: NOW - 30_000 };
  const sdk = {
    ...base,
    pid: 4242,
    kind: 'interactive',
    entrypoint: 'sdk-cli',
    version: '2.1.332',
    fix: 'sdk-reconnect' as const,
  };
  const tui = {
    ...base,
    pid: 4343,
    cwd: '/projects/p/sub',
    kind: 'interactive',
    entrypoint: 'cli',
    fix: 'mcp-command' as const,
  };
  const r = row('demo', { sessionsLacking: [sdk, tui] });
  const model = { servers: [r], issues: [], configFiles: [], projectKey: '/projects/p', storeLocation: 's', now: NOW };
  // the CLI: status --json, the status lines and doctor's line
  const j = statusJson(model as never) as { servers: { runningSessionsLacking?: Record<string, unknown>[] }[] };
  assert.deepEqual(j.servers[0].runningSessionsLacking?.[0], {
    pid: 4242,
    cwd: '/projects/p',
    startedAt: new Date(NOW - 60_000).toISOString(),
    kind: 'interactive',
    entrypoint: 'sdk-cli',
    version: '2.1.332',
    entryTimestamp: new Date(NOW - 120_000).toISOString(),
    clearedAt: new Date(NOW - 30_000).toISOString(),
    fix: 'sdk-reconnect',
  });
  assert.equal(
    (statusJson({ ...model, servers: [row('x')] } as never) as typeof j).servers[0].runningSessionsLacking,
    undefined,
  );
  assert.match(
    statusSessionLines([r])[0],
    /demo: 2 running Claude Code sessions started .*: pid 4242 in \/projects\/p; pid 4343 in \/projects\/p\/sub/,
  );
  assert.match(
    sessionLine(sdk, 'demo'),
    /pid 4242 .*\{"type":"control_request","request_id":"r1","request":\{"subtype":"mcp_reconnect","serverName":"demo"\}\}/,
  );
  assert.match(sessionLine(tui, 'demo'), /run \/mcp, pick demo, then Reconnect/);
});
