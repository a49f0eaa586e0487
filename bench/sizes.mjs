// Bundle and .vsix sizes (goals: extension bundle <= 400 KB, .vsix <= 250 KB). Run: npm run package && node bench/sizes.mjs
import { statSync } from 'node:fs';
const kb = (f) => (statSync(new URL(`../${f}`, import.meta.url)).size / 1024).toFixed(1);
console.log(
  `dist/extension.js ${kb('dist/extension.js')} KB (goal <= 400 KB); dist/cli.js ${kb('dist/cli.js')} KB; dist/mcp-sdk.js (loaded on first use) ${kb('dist/mcp-sdk.js')} KB; mcp-auth-status.vsix ${kb('mcp-auth-status.vsix')} KB (goal <= 250 KB)`,
);
