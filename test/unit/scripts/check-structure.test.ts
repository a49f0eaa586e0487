import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from '../../helpers/home';

const SCRIPT = path.join(ROOT, 'scripts', 'check-structure.mjs');

/** a throwaway repo with these files under it; the check run on it */
function check(files: Record<string, string>): { code: number | null; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-structure-'));
  try {
    for (const [f, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), text);
    }
    const r = spawnSync(process.execPath, [SCRIPT, dir], { encoding: 'utf8' });
    return { code: r.status, out: r.stdout + r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const lines = (n: number) => Array.from({ length: n }, (_, i) => `export const v${i} = ${i};`).join('\n') + '\n';

test('structure check: a clean tree passes; a file over 400 lines fails, 400 exactly passes', () => {
  const ok = check({ 'src/a.ts': "import { b } from './b';\nexport const a = b;\n", 'src/b.ts': lines(400) });
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /2 files under src\/, none over 400 lines/);
  const big = check({ 'src/core/big.ts': lines(401) });
  assert.equal(big.code, 1);
  assert.match(big.out, /src\/core\/big\.ts: 401 lines/);
});

test('structure check: a circle fails, through an index.ts, a type-only import or a re-export, and is named', () => {
  const viaIndex = check({
    'src/x/index.ts': "import { y } from './y';\nexport const x = y;\n",
    'src/x/y.ts': "import type { X } from '.';\nexport const y = 1 as X;\n",
  });
  assert.equal(viaIndex.code, 1);
  assert.match(viaIndex.out, /import circle among 2 file\(s\): src\/x\/index\.ts → src\/x\/y\.ts → src\/x\/index\.ts/);
  const three = check({
    'src/a.ts': "export { b } from './b';\n",
    'src/b.ts': "import { c } from './c.js';\nexport const b = c;\n",
    'src/c.ts': "import type { A } from '../src/a';\nexport const c = 1 as unknown as A;\n",
  });
  assert.equal(three.code, 1);
  assert.match(three.out, /import circle among 3 file\(s\)/);
});

test('structure check: imports of packages, in comments, and one-way imports are no circle', () => {
  const r = check({
    'src/a.ts': "import * as fs from 'node:fs';\nimport { b } from './b';\nexport const a = [fs, b];\n",
    'src/b.ts': "// import { a } from './a';\n/* import { a } from './a'; */\nexport const b = 1;\n",
  });
  assert.equal(r.code, 0, r.out);
});
