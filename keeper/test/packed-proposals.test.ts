// packed-proposals.ts: a turn's proposals cross from the keeper to its Raft
// worker in one buffer of exactly their size, and come out equal and in order.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { packProposals, unpackProposals } from '../src/packed-proposals.js';

test('packed proposals come out equal and in order, as views into one buffer of exactly their size', () => {
  const parts = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new TextEncoder().encode('y'.repeat(70_000))];
  const packed = packProposals(parts);
  assert.equal(packed.byteLength, 3 * 4 + 3 + 0 + 70_000);
  const got = unpackProposals(packed);
  assert.deepEqual(
    got.map((p) => [...p]),
    parts.map((p) => [...p]),
  );
  for (const p of got) assert.equal(p.buffer, packed);
  assert.deepEqual(unpackProposals(packProposals([])), []);
});
