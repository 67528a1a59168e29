// packed-entries.ts: applied entries cross from the Raft worker to the keeper
// in one transferred buffer, and come out equal and in order.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { index, term } from '../../raft/src/index.js';
import type { Entry } from '../../raft/src/index.js';
import { packEntries, unpackEntries } from '../src/packed-entries.js';

const entries: Entry[] = [
  { index: index(7), term: term(3), type: 'normal', data: new Uint8Array(0) },
  { index: index(8), term: term(3), type: 'conf-change', data: new Uint8Array([1, 2, 3]) },
  { index: index(2 ** 40 + 1), term: term(2 ** 33), type: 'normal', data: new TextEncoder().encode('x'.repeat(1000)) },
];

test('packed entries come out equal, in order, with their types', () => {
  const got = unpackEntries(packEntries(entries));
  assert.deepEqual(
    got.map((e) => ({ ...e, data: [...e.data] })),
    entries.map((e) => ({ ...e, data: [...e.data] })),
  );
  assert.deepEqual(unpackEntries(packEntries([])), []);
});

test('the packed buffer is transferred through a port, not copied: the sender\'s is detached', async () => {
  const { port1, port2 } = new MessageChannel();
  const packed = packEntries(entries);
  const size = packed.byteLength;
  const received = new Promise<ArrayBuffer>((resolve) => port2.once('message', (m: { packed: ArrayBuffer }) => resolve(m.packed)));
  port1.postMessage({ packed }, [packed]);
  const buf = await received;
  port1.close();
  assert.equal(packed.byteLength, 0, 'detached on the sending side');
  assert.equal(buf.byteLength, size);
  assert.deepEqual(
    unpackEntries(buf).map((e) => e.index),
    entries.map((e) => e.index),
  );
});
