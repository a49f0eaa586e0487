import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withHome, runCli, hashTree, type TempHome } from '../helpers/home';

interface Case {
  name: string;
  code: string;
  setup(h: TempHome): void;
  root?: boolean;
}
const remote = { mcpServers: { s: { type: 'http', url: 'https://example.invalid/mcp' } } };
const cases: Case[] = [
  {
    name: 'store not JSON',
    code: 'store-parse',
    setup: (h) => {
      w(h, '.claude.json', remote);
      fs.writeFileSync(path.join(h.claudeDir, '.credentials.json'), '{"mcpOAuth": {', { mode: 0o600 });
    },
  },
  {
    name: 'store with wrong types',
    code: 'store-invalid',
    setup: (h) => {
      w(h, '.claude.json', remote);
      fs.writeFileSync(path.join(h.claudeDir, '.credentials.json'), '{"mcpOAuth": [1,2]}', { mode: 0o600 });
    },
  },
  {
    name: '~/.claude.json truncated',
    code: 'config-parse',
    setup: (h) => fs.writeFileSync(path.join(h.home, '.claude.json'), JSON.stringify(remote).slice(0, 25)),
  },
  {
    name: '.mcp.json with a non-object mcpServers',
    code: 'config-invalid',
    setup: (h) => fs.writeFileSync(path.join(h.project, '.mcp.json'), '{"mcpServers": "nope"}'),
  },
  {
    name: 'cache not JSON',
    code: 'cache-parse',
    setup: (h) => {
      w(h, '.claude.json', remote);
      fs.writeFileSync(path.join(h.claudeDir, 'mcp-needs-auth-cache.json'), 'not json');
    },
  },
  {
    name: 'unreadable store (mode 000)',
    code: 'store-read',
    root: true,
    setup: (h) => {
      w(h, '.claude.json', remote);
      const f = path.join(h.claudeDir, '.credentials.json');
      fs.writeFileSync(f, '{}');
      fs.chmodSync(f, 0);
    },
  },
  {
    name: 'store is a directory',
    code: 'store-read',
    setup: (h) => {
      w(h, '.claude.json', remote);
      fs.mkdirSync(path.join(h.claudeDir, '.credentials.json'));
    },
  },
  {
    name: 'a server URL that is not a URL',
    code: 'invalid-url',
    setup: (h) => w(h, '.claude.json', { mcpServers: { s: { type: 'http', url: 'ht!tp:/nope' } } }),
  },
];

function w(h: { home: string }, rel: string, v: unknown) {
  fs.writeFileSync(path.join(h.home, rel), JSON.stringify(v));
}
const isRoot = process.getuid?.() === 0;

for (const c of cases) {
  for (const cmd of ['status', 'doctor']) {
    test(`bad input: ${c.name} → ${cmd} says ${c.code}, exits non-zero, changes nothing`, async () => {
      await withHome(async (h) => {
        try {
          c.setup(h);
          const before = hashTree(h.home);
          const r = runCli([cmd], { env: h.env, cwd: h.project });
          if (c.root && isRoot) {
            // root reads a mode-000 file anyway; then the run must simply succeed and write nothing
            assert.ok(r.code === 0 || r.code === 1, r.stderr);
          } else {
            assert.notEqual(r.code, 0);
            const line = r.stderr.split('\n').find((l) => l.startsWith(`mcp-auth: ${c.code}: `));
            assert.ok(line, `expected "mcp-auth: ${c.code}: …" on stderr, got: ${r.stderr}`);
            assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
          }
          assert.deepEqual(hashTree(h.home), before);
        } finally {
          try {
            fs.chmodSync(path.join(h.claudeDir, '.credentials.json'), 0o600);
          } catch {
            /* none */
          }
        }
      });
    });
  }
}
