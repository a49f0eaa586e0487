// Every command contributed in package.json is registered in src/extension/commands.ts, and vice versa;
// every menu entry and palette rule names a contributed command; every %key% title has a package.nls.json text.
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const nls = JSON.parse(readFileSync(new URL('../package.nls.json', import.meta.url), 'utf8'));
const src = readFileSync(new URL('../src/extension/commands.ts', import.meta.url), 'utf8');
// the COMMANDS table binds each id to its function; registerCommands registers every key of it
const table = /const COMMANDS = \{([\s\S]*?)\n\} satisfies/.exec(src)?.[1] ?? '';
const registered = new Set([...table.matchAll(/^\s*'([^']+)':/gm)].map((m) => m[1]));
if (!/for \(const id of COMMAND_IDS\)[\s\S]*?registerCommand\(id/.test(src)) { console.error('registerCommands no longer registers every id of COMMANDS'); process.exit(1); }
const contributed = new Set(pkg.contributes.commands.map((c) => c.command));
const errors = [];
for (const c of contributed) if (!registered.has(c)) errors.push(`contributed but not in COMMANDS: ${c}`);
for (const c of registered) if (!contributed.has(c)) errors.push(`registered but not contributed: ${c}`);
for (const [where, items] of Object.entries(pkg.contributes.menus)) for (const i of items) if (!contributed.has(i.command)) errors.push(`menu ${where} names unknown ${i.command}`);
for (const c of pkg.contributes.commands) {
  if (c.category !== '%category%') errors.push(`${c.command} has no category`);
  for (const v of [c.title, c.category]) { const k = /^%(.+)%$/.exec(v)?.[1]; if (k && !(k in nls)) errors.push(`${c.command}: no package.nls.json text for ${k}`); }
}
if (errors.length) { console.error(errors.join('\n')); process.exit(1); }
console.log(`check-commands: ${contributed.size} commands contributed and registered`);
