// Stored bytes are checked at the edge: anything that is not what this code
// wrote is a KeeperError 'corrupt', never a crash deeper in apply.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCommand, encodeCommand, packr } from '../src/codec.js';
import { KeeperError } from '../src/errors.js';
import { restore, snapshot } from '../src/snapshot.js';
import { decodeKeeperEntry, encodeKeeperEntry } from '../src/entry.js';
import { raftIdOf } from '../src/raft-id.js';
import { emptyState } from '../src/state.js';

function isCorrupt(e: unknown): boolean {
  return e instanceof KeeperError && e.code === 'corrupt';
}

test('codec: garbage, a foreign format or a malformed command is corrupt', () => {
  assert.throws(() => restore(new Uint8Array([0xc1, 0xff, 0x00])), isCorrupt);
  assert.throws(() => restore(packr.pack({ format: 99 })), isCorrupt);
  assert.throws(() => restore(packr.pack({ format: 1, appliedIndex: 1, revision: 1, kvs: [['k', 'v', 1, 1, 1, 'no-such-lease']], leases: [], members: [], sessions: [] })), isCorrupt);
  assert.throws(() => decodeCommand(packr.pack({ type: 'nope' })), isCorrupt);
  assert.throws(() => decodeCommand(packr.pack({ type: 'put', key: 1, value: 'v' })), isCorrupt);
  assert.throws(() => decodeCommand(packr.pack({ type: 'memberAdd', member: { id: 'n', role: 'boss', peer: '', api: '', gateway: '', zone: '' } })), isCorrupt);
  assert.deepEqual(restore(snapshot(emptyState())), emptyState());
});

test('keeper entry: request id and command round-trip; anything else is corrupt', () => {
  const cmd = { type: 'put', key: 'a', value: '1', lease: 'l1' } as const;
  assert.deepEqual(decodeKeeperEntry(encodeKeeperEntry('inc.1', cmd)), { requestId: 'inc.1', command: cmd });
  assert.throws(() => decodeKeeperEntry(packr.pack({ r: 'x', c: 'not bytes' })), isCorrupt);
  assert.throws(() => decodeKeeperEntry(packr.pack({ r: 1, c: encodeCommand(cmd) })), isCorrupt);
  assert.throws(() => decodeKeeperEntry(packr.pack({ r: 'x', c: packr.pack({ type: 'nope' }) })), isCorrupt);
  assert.throws(() => decodeKeeperEntry(new Uint8Array([0xc1])), isCorrupt);
});

test('raft ids: stable, positive, distinct for distinct names', () => {
  assert.equal(raftIdOf('n1'), raftIdOf('n1'));
  const ids = new Set(['n1', 'n2', 'n3', 'node-a', 'node-b'].map(raftIdOf));
  assert.equal(ids.size, 5);
  for (const id of ids) assert.ok(Number.isSafeInteger(id) && id > 0);
});
