import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, TEST_CLI } from '../../helpers/home';

const SWITCHES = /MCP_AUTH_TEST_|MCP_AUTH_NOW|MCP_AUTH_MANAGED_DIR|pause-after-lock/;

test('no test switch ships: dist/cli.js, dist/extension.js and dist/mcp-sdk.js hold none of them, the test build holds them all', () => {
  for (const f of ['dist/cli.js', 'dist/extension.js', 'dist/mcp-sdk.js']) {
    const text = fs.readFileSync(path.join(ROOT, f), 'utf8');
    assert.doesNotMatch(text, SWITCHES, `${f} contains a test switch`);
  }
  const testBuild = fs.readFileSync(TEST_CLI, 'utf8');
  for (const s of ['MCP_AUTH_TEST_CRASH_AT', 'MCP_AUTH_TEST_NO_LOCK', 'MCP_AUTH_NOW', 'MCP_AUTH_MANAGED_DIR'])
    assert.ok(testBuild.includes(s), `the test build has ${s} (so the check above can fail)`);
});

test('the MCP SDK is a side file loaded on first use: the bundles require it and do not carry it', () => {
  for (const f of ['dist/cli.js', 'dist/extension.js']) {
    const text = fs.readFileSync(path.join(ROOT, f), 'utf8');
    assert.match(text, /require\("\.\/mcp-sdk\.js"\)/, `${f} loads ./mcp-sdk.js`);
    assert.doesNotMatch(text, /StreamableHTTPClientTransport\s*=\s*class|class StreamableHTTPClientTransport/, f);
  }
  const sdk = fs.readFileSync(path.join(ROOT, 'dist/mcp-sdk.js'), 'utf8');
  assert.doesNotMatch(sdk, SWITCHES);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const m = require(path.join(ROOT, 'dist/mcp-sdk.js'));
  for (const name of ['Client', 'SSEClientTransport', 'StreamableHTTPClientTransport', 'extractWWWAuthenticateParams'])
    assert.equal(typeof m[name], 'function', name);
});
