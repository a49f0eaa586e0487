// Every command contributed in package.json is registered in src/extension/commands/index.ts (the COMMANDS table), and vice versa;
// every menu entry and palette rule names a contributed command; every user-facing manifest string is a %key%
// with a package.nls.json text, and every package.nls.json text is used.
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const nls = JSON.parse(readFileSync(new URL('../package.nls.json', import.meta.url), 'utf8'));
const src = readFileSync(new URL('../src/extension/commands/index.ts', import.meta.url), 'utf8');
// the COMMANDS table binds each id to its function; registerCommands registers every key of it
const table = /const COMMANDS = \{([\s\S]*?)\n\} satisfies/.exec(src)?.[1] ?? '';
const registered = new Set([...table.matchAll(/^\s*'([^']+)':/gm)].map((m) => m[1]));
if (!/for \(const id of COMMAND_IDS\)[\s\S]*?registerCommand\(id/.test(src)) {
  console.error('registerCommands no longer registers every id of COMMANDS');
  process.exit(1);
}
const contributed = new Set(pkg.contributes.commands.map((c) => c.command));
const errors = [];
for (const c of contributed) if (!registered.has(c)) errors.push(`contributed but not in COMMANDS: ${c}`);
for (const c of registered) if (!contributed.has(c)) errors.push(`registered but not contributed: ${c}`);
for (const [where, items] of Object.entries(pkg.contributes.menus))
  for (const i of items) if (!contributed.has(i.command)) errors.push(`menu ${where} names unknown ${i.command}`);
for (const c of pkg.contributes.commands) {
  if (c.category !== '%category%') errors.push(`${c.command} has no category`);
  for (const v of [c.title, c.category]) {
    const k = /^%(.+)%$/.exec(v)?.[1];
    if (k && !(k in nls)) errors.push(`${c.command}: no package.nls.json text for ${k}`);
  }
}
// user-facing manifest strings (what VS Code and the marketplace show) go through package.nls.json
const c = pkg.contributes;
const shown = [
  ['displayName', pkg.displayName],
  ['description', pkg.description],
  ['capabilities.untrustedWorkspaces.description', pkg.capabilities?.untrustedWorkspaces?.description],
  ...Object.values(c.viewsContainers ?? {})
    .flat()
    .map((v) => [`viewsContainers ${v.id} title`, v.title]),
  ...Object.values(c.views ?? {})
    .flat()
    .flatMap((v) => [
      [`view ${v.id} name`, v.name],
      [`view ${v.id} contextualTitle`, v.contextualTitle],
    ]),
  ...(c.viewsWelcome ?? []).map((w) => [`viewsWelcome ${w.view} (${w.when})`, w.contents]),
  ...c.commands.flatMap((x) => [
    [`${x.command} title`, x.title],
    [`${x.command} category`, x.category],
  ]),
  ...[c.configuration]
    .flat()
    .flatMap((g) => [
      ['configuration title', g.title],
      ...Object.entries(g.properties ?? {}).flatMap(([k, v]) =>
        ['description', 'markdownDescription', 'deprecationMessage', 'markdownDeprecationMessage'].map((f) => [
          `${k} ${f}`,
          v[f],
        ]),
      ),
    ]),
  ...(c.walkthroughs ?? []).flatMap((w) => [
    [`walkthrough ${w.id} title`, w.title],
    [`walkthrough ${w.id} description`, w.description],
    ...(w.steps ?? []).flatMap((st) => [
      [`walkthrough step ${st.id} title`, st.title],
      [`walkthrough step ${st.id} description`, st.description],
    ]),
  ]),
].filter(([, v]) => v !== undefined);
for (const [where, v] of shown)
  if (typeof v !== 'string' || !/^%[^%]+%$/.test(v)) errors.push(`${where} is not a %key%: ${JSON.stringify(v)}`);
const used = new Set([...JSON.stringify(pkg).matchAll(/"%([^%"]+)%"/g)].map((m) => m[1]));
for (const k of used) if (!(k in nls)) errors.push(`no package.nls.json text for %${k}%`);
for (const k of Object.keys(nls)) if (!used.has(k)) errors.push(`package.nls.json text ${k} is not used`);

if (errors.length) {
  console.error(errors.join('\n'));
  process.exit(1);
}
console.log(
  `check-commands: ${contributed.size} commands contributed and registered; ${shown.length} manifest strings, all in package.nls.json`,
);
