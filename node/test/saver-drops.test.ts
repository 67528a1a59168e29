import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DROP_RANGES_BELOW_MAX, addDrop, dropOverflow, emptyMeta, gapsAfter, isDropped, storedCount, type UserMeta } from '../src/saver/drops.js';
import { decodeU64, encodeKey, encodeU64, prefixRange, KIND_MESSAGE } from '../src/saver/keys.js';

function meta(lastSeq: number): UserMeta {
  return { ...emptyMeta(), lastSeq };
}

describe('saver drop ranges', () => {
  it('merges adjacent ranges of one reason and keeps reasons apart', () => {
    const m = meta(10);
    addDrop(m, 3, 3, 'expired');
    addDrop(m, 5, 5, 'expired');
    addDrop(m, 4, 4, 'expired');
    addDrop(m, 6, 7, 'overflow');
    assert.deepEqual(m.ranges, [
      { from: 3, to: 5, reason: 'expired' },
      { from: 6, to: 7, reason: 'overflow' },
    ]);
    assert.equal(storedCount(m), 5);
    assert.ok(isDropped(m, 4) && !isDropped(m, 2) && !isDropped(m, 8));
    assert.deepEqual(gapsAfter(m, 4), [
      { from: 5, to: 5, reason: 'expired' },
      { from: 6, to: 7, reason: 'overflow' },
    ]);
  });

  it('drops the oldest stored seqs around existing holes on overflow', () => {
    const m = meta(10);
    addDrop(m, 2, 3, 'expired');
    // Stored: 1, 4..10 (8 messages); a cap of 5 drops 1, 4, 5.
    assert.deepEqual(dropOverflow(m, 5), [
      { from: 1, to: 1 },
      { from: 4, to: 5 },
    ]);
    assert.equal(storedCount(m), 5);
    assert.deepEqual(gapsAfter(m, 0), [
      { from: 1, to: 1, reason: 'overflow' },
      { from: 2, to: 3, reason: 'expired' },
      { from: 4, to: 5, reason: 'overflow' },
    ]);
  });

  it('stays bounded: ranges below the oldest stored seq fold into the floor', () => {
    const m = meta(1000);
    // Alternating reasons never merge.
    for (let s = 1; s <= 500; s++) addDrop(m, s, s, s % 2 === 0 ? 'expired' : 'overflow');
    assert.equal(m.ranges.length, DROP_RANGES_BELOW_MAX);
    assert.equal(m.floorTo, 500 - DROP_RANGES_BELOW_MAX);
    assert.equal(storedCount(m), 500);
    const gaps = gapsAfter(m, 0);
    assert.deepEqual(gaps[0], { from: 1, to: 492, reason: 'expired' });
    assert.equal(gaps.length, DROP_RANGES_BELOW_MAX + 1);
    assert.deepEqual(gapsAfter(m, 499), [{ from: 500, to: 500, reason: 'expired' }]);
    // Holes between stored messages are kept exactly.
    addDrop(m, 700, 700, 'expired');
    assert.ok(isDropped(m, 700) && !isDropped(m, 699) && !isDropped(m, 701));
  });

  it('with cap 0 drops everything, including the newest', () => {
    const m = meta(3);
    assert.deepEqual(dropOverflow(m, 0), [{ from: 1, to: 3 }]);
    assert.deepEqual(gapsAfter(m, 0), [{ from: 1, to: 3, reason: 'overflow' }]);
  });
});

describe('saver keys', () => {
  it('orders seqs numerically and keeps each field self-delimiting', () => {
    const seqs = [0, 1, 255, 256, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER];
    const keys = seqs.map((s) => encodeKey(KIND_MESSAGE, 'app', 'u', s));
    for (let i = 1; i < keys.length; i++) assert.ok(Buffer.compare(keys[i - 1] ?? Buffer.alloc(0), keys[i] ?? Buffer.alloc(0)) < 0);
    for (const s of seqs) assert.equal(decodeU64(encodeU64(s), 0), s);
    const range = prefixRange(encodeKey(KIND_MESSAGE, 'app', 'a'));
    for (const k of keys) assert.ok(Buffer.compare(k, range.lt) >= 0, 'user "u" is outside the range of user "a"');
    // "a" + "b!" and "a!" + "b" (and any other split) are different keys.
    assert.notDeepEqual(encodeKey(KIND_MESSAGE, 'a', 'b!'), encodeKey(KIND_MESSAGE, 'a!', 'b'));
    assert.throws(() => encodeU64(-1), RangeError);
    assert.throws(() => encodeU64(1.5), RangeError);
  });
});
