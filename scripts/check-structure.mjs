// The shape of src/, checked by `npm run lint` (ARCHITECTURE.md):
//   - no file under src/ is over MAX_LINES lines;
//   - no import circle among src/ files. Every relative import counts, type-only ones too (`import type`,
//     `export … from`, `import('…')`): a circle of types is still two files that cannot be read apart.
//   node scripts/check-structure.mjs [root]   exit 1 with the offenders listed (root: the repo, by default this one)
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_LINES = 400;
const root = process.argv[2] ? resolve(process.argv[2]) : fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const rel = (f) => relative(root, f).split(sep).join('/');

const files = readdirSync(src, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  .map((f) => join(src, f))
  .sort();

const problems = [];

// 1. size
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > MAX_LINES) problems.push(`${rel(f)}: ${lines} lines (more than ${MAX_LINES}): split it along its seams`);
}

// 2. circles
const SPEC =
  /(?:^|[\s;}])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
/** comments out of the way, so that an import in a comment does not count (strings are left: specifiers live there) */
const stripComments = (s) => s.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

function resolveImport(from, spec) {
  if (!spec.startsWith('.')) return undefined; // packages and node: builtins
  const base = resolve(dirname(from), spec.replace(/\.js$/, ''));
  for (const c of [`${base}.ts`, join(base, 'index.ts')]) if (existsSync(c) && statSync(c).isFile()) return c;
  return undefined;
}

const edges = new Map();
for (const f of files) {
  const out = new Set();
  for (const m of stripComments(readFileSync(f, 'utf8')).matchAll(SPEC)) {
    const target = resolveImport(f, m[1] ?? m[2]);
    if (target && target.startsWith(src + sep)) out.add(target);
  }
  edges.set(f, [...out].sort());
}

// Tarjan's strongly connected components: each component of more than one file (or a file importing itself) is a circle
let index = 0;
const idx = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const circles = [];
function visit(v) {
  idx.set(v, index);
  low.set(v, index++);
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v) ?? []) {
    if (!idx.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const comp = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      comp.push(w);
    } while (w !== v);
    if (comp.length > 1 || (edges.get(v) ?? []).includes(v)) circles.push(comp.sort());
  }
}
for (const f of files) if (!idx.has(f)) visit(f);

/** one concrete path round a component, for the message: a → b → … → a */
function cycleIn(comp) {
  const inComp = new Set(comp);
  const start = comp[0];
  const prev = new Map([[start, undefined]]);
  const queue = [start];
  while (queue.length) {
    const v = queue.shift();
    for (const w of edges.get(v) ?? []) {
      if (w === start) {
        const path = [v];
        for (let p = prev.get(v); p !== undefined; p = prev.get(p)) path.unshift(p);
        return [...path, start];
      }
      if (inComp.has(w) && !prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return comp;
}
for (const comp of circles)
  problems.push(
    `import circle among ${comp.length} file(s): ${cycleIn(comp).map(rel).join(' → ')}; move what they share down to a file both import`,
  );

if (problems.length) {
  console.error(`check-structure: ${problems.length} problem(s)`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(`check-structure: ${files.length} files under src/, none over ${MAX_LINES} lines, no import circle`);
