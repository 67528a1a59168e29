// Transactions (etcd v3 Txn, writes only): compares on keys decide between two
// branches of writes, and the branch taken is applied at one revision, or,
// if any of its writes cannot be made, not at all. A branch may not touch a
// key twice (two puts of it, or a put of a key a delete of the branch
// removes), as in etcd: the order of writes within one revision would
// otherwise matter, and the watch events of a revision carry each key once.

import { errorResult } from './command.js';
import type { Applied, Command } from './command.js';
import type { TxnCompare, TxnOp, WatchEvent } from './keeper.js';
import { compareKeys } from './ordered-map.js';
import { deleteKeys, matchingKeys, writeKey } from './kv.js';
import type { KeeperState } from './state.js';

type Txn = Extract<Command, { type: 'txn' }>;

export function applyTxn(state: KeeperState, cmd: Txn): Applied {
  const succeeded = cmd.compare.every((c) => holds(state, c));
  const ops = succeeded ? cmd.success : cmd.failure;
  const refused = checkOps(state, ops);
  if (refused !== undefined) return { result: errorResult(state.revision, refused.code, refused.message), events: [] };
  const deleting = new Set<string>();
  for (const op of ops) if (op.type === 'delete') for (const k of matchingKeys(state, op.key, op.prefix)) deleting.add(k);
  const puts = ops.filter((op): op is Extract<TxnOp, { type: 'put' }> => op.type === 'put');
  if (puts.length === 0 && deleting.size === 0) return { result: { type: 'txn', revision: state.revision, succeeded, deleted: 0 }, events: [] };
  const revision = (state.revision += 1);
  const events: WatchEvent[] = deleteKeys(state, [...deleting].sort(compareKeys), revision);
  for (const op of puts) events.push(writeKey(state, op.key, op.value, op.lease, revision));
  events.sort((a, b) => compareKeys(a.key, b.key));
  return { result: { type: 'txn', revision, succeeded, deleted: deleting.size }, events };
}

function holds(state: KeeperState, c: TxnCompare): boolean {
  const kv = state.kvs.get(c.key);
  if (c.target === 'value') return kv !== undefined && test(compareKeys(kv.value, c.value), c.op);
  const actual = kv === undefined ? 0 : kv[c.target];
  return test(actual < c.value ? -1 : actual > c.value ? 1 : 0, c.op);
}

function test(order: number, op: TxnCompare['op']): boolean {
  switch (op) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '>':
      return order > 0;
  }
}

/** Why the writes cannot be made as a whole, or undefined: a malformed branch first, then a missing lease. */
function checkOps(state: KeeperState, ops: readonly TxnOp[]): { code: 'invalid' | 'lease-not-found'; message: string } | undefined {
  const putKeys = new Set<string>();
  for (const op of ops) {
    if (op.key.length === 0) return { code: 'invalid', message: 'empty key' };
    if (op.type !== 'put') continue;
    if (putKeys.has(op.key)) return { code: 'invalid', message: `${op.key} is put twice in one branch` };
    putKeys.add(op.key);
  }
  for (const op of ops) {
    if (op.type !== 'delete') continue;
    for (const k of putKeys) {
      if (op.prefix ? k.startsWith(op.key) : k === op.key) return { code: 'invalid', message: `${k} is put and deleted in one branch` };
    }
  }
  for (const op of ops) {
    if (op.type === 'put' && op.lease !== undefined && !state.leases.has(op.lease)) return { code: 'lease-not-found', message: `lease ${op.lease} not found` };
  }
  return undefined;
}
