// l10n/bundle.l10n.json from the vscode.l10n.t('…') / l10n.t('…') calls in src/extension, by @vscode/l10n-dev.
//   node scripts/l10n.mjs           write l10n/bundle.l10n.json (part of `npm run build` and `npm run package`)
//   node scripts/l10n.mjs --check   regenerate into a temp dir; fail if it differs from l10n/bundle.l10n.json
//                                   (CI runs it before the build, which rewrites that file)
// Same extractor as `vscode-l10n-dev export`, but over a sorted file list: its CLI globs in directory order,
// which differs between checkouts, so its key order (and a byte comparison) would too.
import { getL10nJson } from '@vscode/l10n-dev';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const srcDir = join(root, 'src', 'extension');
const committed = join(root, 'l10n', 'bundle.l10n.json');

const files = readdirSync(srcDir, { recursive: true, encoding: 'utf8' })
  .filter((f) => /\.tsx?$/.test(f) && !f.endsWith('.d.ts'))
  .sort();
const bundle = await getL10nJson(
  files.map((f) => ({ extension: extname(f), contents: readFileSync(join(srcDir, f), 'utf8') })),
);
const text = JSON.stringify(bundle, undefined, 2) + '\n';

if (!process.argv.includes('--check')) {
  if (!existsSync(committed) || readFileSync(committed, 'utf8') !== text) writeFileSync(committed, text);
  console.log(`l10n: ${Object.keys(bundle).length} strings in l10n/bundle.l10n.json`);
} else {
  const fresh = join(mkdtempSync(join(tmpdir(), 'mcp-auth-l10n-')), 'bundle.l10n.json');
  writeFileSync(fresh, text);
  const old = existsSync(committed) ? readFileSync(committed, 'utf8') : '';
  if (old === text) {
    rmSync(dirname(fresh), { recursive: true, force: true });
    console.log(`check:l10n: l10n/bundle.l10n.json is up to date (${Object.keys(bundle).length} strings)`);
  } else {
    let before = {};
    try {
      before = JSON.parse(old);
    } catch {
      /* missing or not JSON: every key is new */
    }
    const added = Object.keys(bundle).filter((k) => !(k in before));
    const removed = Object.keys(before).filter((k) => !(k in bundle));
    console.error('check:l10n: l10n/bundle.l10n.json is out of date; run `npm run build` and commit it.');
    for (const k of added) console.error(`  + ${JSON.stringify(k)}`);
    for (const k of removed) console.error(`  - ${JSON.stringify(k)}`);
    if (!added.length && !removed.length) console.error('  (same strings, different order or formatting)');
    console.error(`  regenerated: ${fresh}`);
    process.exitCode = 1;
  }
}
