import * as esbuild from 'esbuild';
import { readFileSync, chmodSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const production = process.argv.includes('--production');
const common = {
  bundle: true,
  mainFields: ['module', 'main'],
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  // always: folds the __TEST_HOOKS__ branches away, so no test switch ships (src/core/build.ts)
  minifySyntax: true,
  logLevel: 'warning',
  define: { __VERSION__: JSON.stringify(pkg.version), __TEST_HOOKS__: 'false' },
  logOverride: { 'import-is-undefined': 'error' },
  // import() of the side file becomes require(): plain CommonJS, as the extension host loads extensions
  supported: { 'dynamic-import': false },
};
// The MCP SDK (with ajv and zod, ~320 KB) is its own file beside each bundle, `mcp-sdk.js`, loaded on first use
// only (src/core/mcpSdk.ts): a start or an activation never parses it.
const SDK_FILE = './mcp-sdk.js';
const sideSdk = {
  name: 'side-sdk',
  setup(b) {
    b.onResolve({ filter: /\/mcpSdk(\.js)?$/ }, () => ({ path: SDK_FILE, external: true }));
  },
};
const sdk = (dir) => esbuild.build({ ...common, entryPoints: ['src/core/mcpSdk.ts'], outfile: `${dir}/mcp-sdk.js` });
await Promise.all([
  esbuild.build({
    ...common,
    entryPoints: ['src/extension/main.ts'],
    outfile: 'dist/extension.js',
    external: ['vscode'],
    plugins: [sideSdk],
  }),
  esbuild.build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', plugins: [sideSdk] }),
  sdk('dist'),
  // the CLI with its test switches (crash points, no lock, pinned clock), for the tests only; never shipped
  esbuild.build({
    ...common,
    entryPoints: ['src/cli/main.ts'],
    outfile: 'out/test-cli/cli.js',
    define: { ...common.define, __TEST_HOOKS__: 'true' },
    plugins: [sideSdk],
  }),
  sdk('out/test-cli'),
]);
chmodSync('dist/cli.js', 0o755);
