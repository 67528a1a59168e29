import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppBindings } from '../src/gateway/app-bindings.js';
import type { Binding } from '../src/gateway/binding.js';

function binding(app: string, user = 'u'): Binding {
  return { app, user } as Binding;
}

test('one binding is held inline; a second app makes a map that keeps binding order', () => {
  const bs = new AppBindings();
  assert.equal(bs.size, 0);
  assert.equal(bs.first(), undefined);
  assert.deepEqual([...bs.values()], []);
  const a = binding('a');
  bs.set(a);
  assert.equal(bs.size, 1);
  assert.equal(bs.get('a'), a);
  assert.equal(bs.get('b'), undefined);
  assert.equal(bs.has('b'), false);
  const b = binding('b');
  const c = binding('c');
  bs.set(b);
  bs.set(c);
  assert.equal(bs.size, 3);
  assert.deepEqual([...bs.values()], [a, b, c]);
  // Rebinding an app replaces it in place, as Map.set does.
  const b2 = binding('b', 'other');
  bs.set(b2);
  assert.deepEqual([...bs.values()], [a, b2, c]);
  assert.equal(bs.delete('a'), true);
  assert.equal(bs.delete('a'), false);
  assert.equal(bs.first(), b2);
  assert.equal(bs.delete('b'), true);
  assert.equal(bs.size, 1);
  assert.equal(bs.first(), c);
  assert.equal(bs.get('c'), c);
  assert.equal(bs.delete('x'), false);
  assert.equal(bs.delete('c'), true);
  assert.equal(bs.size, 0);
  bs.set(a);
  bs.set(binding('a', 'u2'));
  assert.equal(bs.size, 1);
  assert.equal(bs.get('a')?.user, 'u2');
  bs.clear();
  assert.equal(bs.size, 0);
  assert.equal(bs.get('a'), undefined);
});
