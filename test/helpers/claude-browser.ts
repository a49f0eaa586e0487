/**
 * The test browser (oauth.ts `browse`) as Claude Code's `$BROWSER`: `claude mcp login` runs `$BROWSER <url>`.
 * `browserScript(dir)` writes an executable that runs this file on the URL in the background; run as a program,
 * this file follows the authorization URL through the oauth-stack's auto-approved consent to the loopback
 * callback, and appends one line (`done <status> <path>` or `error …`, never the URL) to `<dir>/browser.log`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function browserScript(dir: string): { script: string; log: string } {
  const script = path.join(dir, 'test-browser.sh');
  const log = path.join(dir, 'browser.log');
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  fs.writeFileSync(script, `#!/bin/sh\n${q(process.execPath)} ${q(__filename)} "$1" ${q(log)} >/dev/null 2>&1 &\n`, {
    mode: 0o755,
  });
  return { script, log };
}

if (require.main === module) {
  const [url, log] = process.argv.slice(2);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { browse } = require('./oauth') as typeof import('./oauth');
  browse(url).then(
    (r) => fs.appendFileSync(log, `done ${r.status} ${r.url.pathname}\n`),
    (e) => fs.appendFileSync(log, `error ${(e as Error).message}\n`),
  );
}
