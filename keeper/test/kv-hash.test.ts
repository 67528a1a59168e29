// The digest members compare: the same for the same keys however held, and
// different when any field of any key differs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KeyValue } from '../src/keeper.js';
import { kvHash } from '../src/kv-hash.js';

const kv = (key: string, value: string, extra: Partial<KeyValue> = {}): KeyValue => ({ key, value, createRevision: 1, modRevision: 2, version: 1, ...extra });

test('the digest changes with any field of any key, and not otherwise', () => {
  const base = [kv('/a', 'x'), kv('/b', 'y', { lease: 'L1' })];
  const d = kvHash(base);
  assert.equal(d.keys, 2);
  assert.equal(kvHash(base.map((k) => ({ ...k }))).hash, d.hash, 'copies hash the same');
  const changed: KeyValue[][] = [
    [kv('/a', 'x2'), base[1] as KeyValue],
    [kv('/a', 'x', { createRevision: 3 }), base[1] as KeyValue],
    [kv('/a', 'x', { modRevision: 3 }), base[1] as KeyValue],
    [kv('/a', 'x', { version: 2 }), base[1] as KeyValue],
    [base[0] as KeyValue, kv('/b', 'y')],
    [base[0] as KeyValue],
    // Fields are length-prefixed: moving a character from key to value is a change.
    [kv('/a', 'x'), kv('/', 'by', { lease: 'L1' })],
  ];
  for (const c of changed) assert.notEqual(kvHash(c).hash, d.hash, JSON.stringify(c));
  assert.equal(kvHash([]).keys, 0);
});
