import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, TEST_CLI } from '../../helpers/home';

const SWITCHES = /MCP_AUTH_TEST_|MCP_AUTH_NOW|MCP_AUTH_MANAGED_DIR|pause-after-lock/;

test('no test switch ships: dist/cli.js and dist/extension.js hold none of them, the test build holds them all', () => {
  for (const f of ['dist/cli.js', 'dist/extension.js']) {
    const text = fs.readFileSync(path.join(ROOT, f), 'utf8');
    assert.doesNotMatch(text, SWITCHES, `${f} contains a test switch`);
  }
  const testBuild = fs.readFileSync(TEST_CLI, 'utf8');
  for (const s of ['MCP_AUTH_TEST_CRASH_AT', 'MCP_AUTH_TEST_NO_LOCK', 'MCP_AUTH_NOW', 'MCP_AUTH_MANAGED_DIR'])
    assert.ok(testBuild.includes(s), `the test build has ${s} (so the check above can fail)`);
});
