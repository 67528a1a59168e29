// Stored bytes are checked at the edge: anything that is not what this code
// wrote is a KeeperError 'corrupt', never a crash deeper in apply.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Level } from 'level';
import { decodeCommand, encodeCommand, packr } from '../src/codec.js';
import { KeeperError } from '../src/errors.js';
import { restore, snapshot } from '../src/snapshot.js';
import { SoloStore } from '../src/solo-store.js';
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

test('solo store: a gap in the log is corrupt, not silently skipped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keeper-store-'));
  try {
    const { store } = await SoloStore.open(dir);
    await store.append([
      { index: 1, command: { type: 'put', key: 'a', value: '1' } },
      { index: 2, command: { type: 'put', key: 'b', value: '1' } },
    ]);
    await store.close();
    const raw = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    await raw.put('log/0000000000000004', encodeCommand({ type: 'put', key: 'c', value: '1' }));
    await raw.close();
    await assert.rejects(SoloStore.open(dir), isCorrupt);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('solo store: compaction leaves a snapshot and only the log after it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keeper-store-'));
  try {
    const opened = await SoloStore.open(dir);
    const state = opened.state;
    await opened.store.append([1, 2, 3].map((index) => ({ index, command: { type: 'put' as const, key: `k${index}`, value: '' } })));
    state.appliedIndex = 2; // the snapshot covers entries 1 and 2
    await opened.store.compact(state);
    await opened.store.close();
    const reopened = await SoloStore.open(dir);
    assert.equal(reopened.state.appliedIndex, 2);
    assert.deepEqual(reopened.log.map((e) => e.index), [3]);
    await reopened.store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
