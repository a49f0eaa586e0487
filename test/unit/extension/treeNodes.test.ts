import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { TreeNodes, type Node, type ServerNode, type ScopeNode } from '../../../src/extension/treeNodes';
import { plainL10n } from '../../../src/extension/present';
import type { AuthModel, ServerRow } from '../../../src/core';

const NOW = 1_800_000_000_000;
const ctx = { l10n: plainL10n, trusted: true, why: () => undefined };
const row = (name: string, scope: string, status: Partial<ServerRow['status']> = {}): ServerRow => ({
  config: { name, scope, file: '/h/.claude.json', transport: 'http', url: `https://x/${name}` } as ServerRow['config'],
  key: `${name}|0123456789abcdef`,
  status: { state: 'signed-in', reason: 'valid', hasRefreshToken: true, expiresAt: NOW + 30 * 60_000, ...status },
});
/** a freshly loaded model: new objects every time, as loadModel returns them */
const model = (servers: ServerRow[], now = NOW, issues: AuthModel['issues'] = []): AuthModel => ({
  servers: structuredClone(servers),
  issues: structuredClone(issues),
  configFiles: ['/h/.claude.json'],
  projectKey: '/h/proj',
  storeLocation: '/h/.claude/.credentials.json',
  now,
});
const server = (t: TreeNodes, name: string): ServerNode =>
  t.roots.flatMap((n: Node) => (n.kind === 'scope' ? n.children : [])).find((s) => s.row.config.name === name)!;

const ROWS = [
  row('a', 'user'),
  row('b', 'user', { state: 'expired', reason: 'expired-refreshable', expiresAt: NOW - 1 }),
  row('c', 'project'),
];

test('tree nodes: a reload that changes nothing re-renders nothing and keeps every node object', () => {
  const t = new TreeNodes();
  assert.equal(t.update(model(ROWS), ctx), 'all', 'the first model draws the tree');
  const before = [...t.roots, ...t.roots.flatMap((n) => (n.kind === 'scope' ? n.children : []))];
  for (let i = 0; i < 3; i++) assert.deepEqual(t.update(model(ROWS), ctx), [], `reload ${i}`);
  const after = [...t.roots, ...t.roots.flatMap((n) => (n.kind === 'scope' ? n.children : []))];
  assert.equal(after.length, 5);
  after.forEach((n, i) => assert.equal(n, before[i], `node ${n.id} is the same object`));
  assert.deepEqual(
    after.map((n) => n.id),
    ['scope:user', 'scope:project', 'server:user:a', 'server:user:b', 'server:project:c'],
  );
});

test('tree nodes: a changed row re-renders that row only, as the same object with the new row', () => {
  const t = new TreeNodes();
  t.update(model(ROWS), ctx);
  const b = server(t, 'b');
  const rows = structuredClone(ROWS);
  rows[1].status = { state: 'signed-in', reason: 'valid', hasRefreshToken: true, expiresAt: NOW + 60 * 60_000 };
  const change = t.update(model(rows), ctx);
  assert.deepEqual(change, [b]);
  assert.equal((change as Node[])[0], b, 'the very node VS Code holds');
  assert.equal(b.row.status.state, 'signed-in');
  assert.equal(b.view.description, 'expires in 60 min');
  assert.match(b.view.contextValue, /^mcpServer\.signed-in/);
});

test('tree nodes: time passing re-renders the rows whose text changes, nothing else', () => {
  const t = new TreeNodes();
  t.update(model(ROWS), ctx);
  assert.deepEqual(t.update(model(ROWS, NOW + 5_000), ctx), [], 'same minute, same text');
  const change = t.update(model(ROWS, NOW + 2 * 60_000), ctx);
  assert.deepEqual(
    (change as ServerNode[]).map((n) => n.id),
    ['server:user:a', 'server:project:c'],
  );
  assert.equal(server(t, 'a').view.description, 'expires in 28 min');
});

test('tree nodes: a row that comes or goes redraws the tree; the rows that stay keep their objects', () => {
  const t = new TreeNodes();
  t.update(model(ROWS), ctx);
  const a = server(t, 'a');
  assert.equal(t.update(model([...ROWS, row('d', 'user')]), ctx), 'all');
  assert.equal(server(t, 'a'), a);
  assert.equal(t.update(model(ROWS.filter((r) => r.config.name !== 'c')), ctx), 'all');
  assert.deepEqual(
    t.roots.map((n) => n.id),
    ['scope:user'],
    'an empty group goes',
  );
  assert.equal(t.update(model([]), ctx), 'all');
  assert.equal(t.roots.length, 0);
  assert.deepEqual(t.update(undefined, ctx), [], 'no model, nothing shown: unchanged');
  assert.deepEqual(
    t.update(model([], NOW, [{ code: 'config-parse', message: 'bad JSON', file: '/h/.claude.json' }]), ctx),
    'all',
  );
  assert.equal(t.roots[0].kind, 'issue');
  assert.equal(t.roots[0].id, 'issue:config-parse:/h/.claude.json:bad JSON');
});

test('tree nodes: a name defined twice in one scope gets two ids; a row that cannot be shown does not break the others', () => {
  const t = new TreeNodes();
  const bad = row('weird', 'user', { state: 'no-such-state' as ServerRow['status']['state'] });
  t.update(model([row('a', 'user'), row('a', 'user'), bad, row('c', 'local')]), ctx);
  const user = t.roots[0] as ScopeNode;
  assert.deepEqual(
    user.children.map((n) => n.id),
    ['server:user:a', 'server:user:a#2', 'server:user:weird'],
  );
  const w = server(t, 'weird');
  assert.equal(w.view.icon, 'error');
  assert.match(w.view.description, /^could not be shown: /);
  assert.equal(w.view.contextValue, '', 'no inline actions on it');
  assert.equal(server(t, 'c').view.description, 'expires in 30 min');
});

test("tree nodes: the keeper's reason on a blocked row is part of what is shown", () => {
  const t = new TreeNodes();
  const rows = [row('blk', 'user', { state: 'blocked', reason: 'cache-entry' })];
  const kept: { why?: string } = {};
  const c = { ...ctx, why: () => kept.why };
  t.update(model(rows), c);
  kept.why = 'Claude Code marked it a moment ago';
  const change = t.update(model(rows), c) as ServerNode[];
  assert.equal(change.length, 1);
  assert.equal(change[0].why, 'Claude Code marked it a moment ago');
  assert.deepEqual(t.update(model(rows), c), []);
});
