// Reads inside transactions: what they see of their branch's writes, and the
// one bound on the units all the reads of a transaction answer. (Everything
// else of transactions is checked against the reference model in
// model.test.ts.)

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Command } from '../src/command.js';
import type { TxnOp, TxnResponse } from '../src/keeper.js';
import { applyTxn } from '../src/txn.js';
import { apply } from '../src/state-machine.js';
import { emptyState } from '../src/state.js';
import type { KeeperState } from '../src/state.js';

function stateWith(kvs: Record<string, string>): KeeperState {
  const state = emptyState();
  let index = 0;
  for (const [key, value] of Object.entries(kvs)) apply(state, { type: 'put', key, value }, ++index);
  return state;
}

function txn(success: TxnOp[]): Extract<Command, { type: 'txn' }> {
  return { type: 'txn', compare: [], success, failure: [] };
}

function gets(responses: readonly TxnResponse[]): string[] {
  return responses.map((r) => (r.type === 'get' ? `${r.kvs.map((kv) => kv.key).join(',')}${r.more ? ' +more' : ''}` : r.type));
}

test('a get sees the writes before it in its branch, not those after', () => {
  const state = stateWith({ '/a': '1', '/b': '2' });
  const { result } = applyTxn(
    state,
    txn([
      { type: 'get', key: '/a', prefix: false },
      { type: 'put', key: '/a', value: 'new' },
      { type: 'get', key: '/a', prefix: false },
      { type: 'get', key: '/b', prefix: false },
      { type: 'delete', key: '/b', prefix: false },
      { type: 'get', key: '/', prefix: true },
    ]),
  );
  assert.equal(result.type, 'txn');
  if (result.type !== 'txn') return;
  assert.equal(result.revision, 3);
  const [before, , after, b, , all] = result.responses;
  assert.deepEqual(before?.type === 'get' && before.kvs.map((kv) => [kv.value, kv.modRevision]), [['1', 1]]);
  assert.deepEqual(after?.type === 'get' && after.kvs.map((kv) => [kv.value, kv.modRevision]), [['new', 3]]);
  assert.deepEqual(b?.type === 'get' && b.kvs.map((kv) => kv.value), ['2']);
  assert.deepEqual(all?.type === 'get' && all.kvs.map((kv) => kv.key), ['/a']);
  assert.deepEqual(gets(result.responses), ['/a', 'put', '/a', '/b', 'delete', '/a']);
});

test('a transaction that only reads leaves the state as it was', () => {
  const state = stateWith({ '/a': '1' });
  const before = structuredClone([...state.kvs.entries()]);
  const { result, events } = applyTxn(state, txn([{ type: 'get', key: '/', prefix: true }, { type: 'get', key: '/missing', prefix: false }]));
  assert.deepEqual(events, []);
  assert.equal(result.revision, 1);
  assert.equal(state.revision, 1);
  assert.deepEqual([...state.kvs.entries()], before);
  assert.deepEqual(result.type === 'txn' && gets(result.responses), ['/a', '']);
});

test('the reads of one transaction share one bound on the units they answer', () => {
  // Each key is 3 units and each value 7: 10 a key, or 3 keys-only.
  const state = stateWith({ '/a1': 'xxxxxxx', '/a2': 'xxxxxxx', '/a3': 'xxxxxxx', '/b1': 'xxxxxxx', '/b2': 'xxxxxxx' });
  const run = (ops: TxnOp[], unitsMax: number): string[] => {
    const { result } = applyTxn(state, txn(ops), unitsMax);
    assert.equal(result.type, 'txn');
    return result.type === 'txn' ? gets(result.responses) : [];
  };
  const a: TxnOp = { type: 'get', key: '/a', prefix: true };
  const b: TxnOp = { type: 'get', key: '/b', prefix: true };
  // A read takes keys while the units it answered are under what is left: 15 lets /a take two keys (20), and none is left.
  assert.deepEqual(run([a, b, a], 15), ['/a1,/a2 +more', ' +more', ' +more']);
  // 35: /a takes its three (30), /b one key with the 5 left.
  assert.deepEqual(run([a, b], 35), ['/a1,/a2,/a3', '/b1 +more']);
  // Enough for everything.
  assert.deepEqual(run([a, b], 50), ['/a1,/a2,/a3', '/b1,/b2']);
  // Keys-only reads count keys alone: 9 units for /a, leaving 3 for /b's first key.
  assert.deepEqual(run([{ ...a, keysOnly: true }, { ...b, keysOnly: true }], 12), ['/a1,/a2,/a3', '/b1 +more']);
  // A point read once the bound is spent answers no key, and more if the key exists.
  assert.deepEqual(run([a, { type: 'get', key: '/b1', prefix: false }, { type: 'get', key: '/zz', prefix: false }], 30), ['/a1,/a2,/a3', ' +more', '']);
  // limit bounds the count as a page's does.
  assert.deepEqual(run([{ ...a, limit: 2 }], 1000), ['/a1,/a2 +more']);
});

test('a get with a limit that is not a count is refused whole', () => {
  const state = stateWith({ '/a': '1' });
  for (const limit of [0, -1, 1.5]) {
    const { result, events } = applyTxn(state, txn([{ type: 'put', key: '/b', value: 'x' }, { type: 'get', key: '/', prefix: true, limit }]));
    assert.equal(result.type === 'error' && result.code, 'invalid', `limit ${limit}`);
    assert.deepEqual(events, []);
    assert.equal(state.kvs.has('/b'), false);
  }
});
