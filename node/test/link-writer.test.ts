// Coalesced writes: every frame written in one event-loop turn (from plain
// code, promise jobs and I/O callbacks alike) reaches the socket in one
// write, in order; the next turn's frames in the next; nothing after close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkWriter } from '../src/peer/link-writer.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('frames of one turn leave in one write, in order; a closed writer writes nothing', async () => {
  const writes: Buffer[] = [];
  const w = new LinkWriter((b) => writes.push(b));
  w.write([Buffer.from('a'), Buffer.from('b')]);
  await Promise.resolve();
  w.write([Buffer.from('c')]);
  void Promise.resolve().then(() => w.write([Buffer.from('d')]));
  assert.equal(writes.length, 0, 'nothing is written before the turn ends');
  await turn();
  assert.deepEqual(writes.map(String), ['abcd']);

  w.write([Buffer.from('e')]);
  await turn();
  assert.deepEqual(writes.map(String), ['abcd', 'e']);

  w.write([Buffer.from('f')]);
  w.close();
  w.write([Buffer.from('g')]);
  await turn();
  assert.deepEqual(writes.map(String), ['abcd', 'e']);
});
