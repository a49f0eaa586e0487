import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { InFlight } from '../../../src/core/inflight';

const later = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));

test('settle waits for every tracked operation, those started meanwhile included; track returns the promise itself', async () => {
  const f = new InFlight();
  const done: string[] = [];
  const a = later(50, 'a').then((v) => (done.push(v), v));
  assert.equal(f.track(a), a);
  void a.then(() => f.track(later(50, 'b').then((v) => done.push(v))));
  assert.equal(f.size, 1);
  assert.equal(await f.settle(), true);
  assert.deepEqual(done, ['a', 'b']);
  assert.equal(f.size, 0);
});

test('a rejected operation counts as settled and is never unhandled; settle never rejects', async () => {
  const f = new InFlight();
  const p = f.track(Promise.reject(new Error('boom')));
  await assert.rejects(p, /boom/);
  assert.equal(await f.settle(), true);
  assert.equal(f.size, 0);
});

test('settle is bounded: false once the bound has passed with an operation still under way', async () => {
  const f = new InFlight();
  f.track(later(2000, 'slow'));
  const t = Date.now();
  assert.equal(await f.settle(100), false);
  const took = Date.now() - t;
  assert.ok(took >= 90 && took < 1500, `took ${took} ms`);
  assert.equal(f.size, 1);
});

test('nothing under way: settle resolves at once', async () => {
  assert.equal(await new InFlight().settle(10), true);
});
