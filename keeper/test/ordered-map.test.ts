// The ordered map against a naive model (a Map whose keys are sorted on every
// read): random puts and deletes, then prefix reads from random places.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OrderedMap, compareKeys } from '../src/ordered-map.js';
import type { KeyValue } from '../src/keeper.js';
import { Rng } from './rng.js';

const kv = (key: string, rev: number): KeyValue => ({ key, value: `v${rev}`, createRevision: rev, modRevision: rev, version: 1 });

test('keysUnder answers what a sorted scan answers, after random puts and deletes', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const rng = new Rng(seed);
    const alphabet = ['a', 'b', '/', 'é', '\u{1F600}', 'z'];
    const word = (): string => Array.from({ length: 1 + rng.int(4) }, () => alphabet[rng.int(alphabet.length)]).join('');
    const space = new OrderedMap<KeyValue>();
    const model = new Map<string, KeyValue>();
    for (let step = 1; step <= 400; step++) {
      const k = word();
      if (rng.int(3) === 0) {
        assert.equal(space.delete(k), model.delete(k));
      } else {
        space.set(k, kv(k, step));
        model.set(k, kv(k, step));
      }
      if (step % 20 !== 0) continue;
      const prefix = rng.int(4) === 0 ? '' : word().slice(0, 2);
      const after = rng.int(2) === 0 ? undefined : word();
      const want = [...model.keys()].filter((x) => x.startsWith(prefix) && (after === undefined || compareKeys(x, after) > 0)).sort(compareKeys);
      assert.deepEqual([...space.keysUnder(prefix, after)], want, `seed ${seed} step ${step} prefix ${JSON.stringify(prefix)} after ${JSON.stringify(after)}`);
      assert.equal(space.size, model.size);
    }
  }
});

test('two ordered maps with the same entries are deep-equal however they were built; different entries are not', () => {
  const a = new OrderedMap<KeyValue>();
  const b = new OrderedMap<KeyValue>();
  const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
  for (const k of keys) a.set(k, kv(k, 1));
  for (const k of [...keys].reverse()) b.set(k, kv(k, 1));
  b.set('extra', kv('extra', 2));
  b.delete('extra');
  assert.deepStrictEqual(a, b);
  b.set('k7', kv('k7', 3));
  assert.notDeepStrictEqual(a, b);
  b.clear();
  assert.deepEqual([...b.keysUnder('')], []);
});
