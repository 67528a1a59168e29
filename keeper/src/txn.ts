// Transactions (etcd v3 Txn): compares on keys decide between two branches of
// operations, and the branch taken runs in order at one revision, or, if any
// of its writes cannot be made, not at all. A read in a branch sees the writes
// before it. A branch may not write a key twice (two puts of it, or a put of a
// key a delete of the branch removes), as in etcd: the watch events of a
// revision carry each key once.

import { errorResult } from './command.js';
import type { Applied, Command } from './command.js';
import type { KeyValue, TxnCompare, TxnOp, TxnResponse, WatchEvent } from './keeper.js';
import { compareKeys } from './ordered-map.js';
import { RANGE_UNITS_MAX, deleteKeys, matchingKeys, range, writeKey } from './kv.js';
import type { KeeperState } from './state.js';

type Txn = Extract<Command, { type: 'txn' }>;

/**
 * Applies `cmd`; a transaction without writes changes nothing, so the keeper
 * also runs it on its applied state to answer one without the log. The reads
 * of one transaction share one bound of `unitsMax` UTF-16 units, as a prefix
 * read does: a read past it answers what fits (none once it is spent) and
 * `more`.
 */
export function applyTxn(state: KeeperState, cmd: Txn, unitsMax = RANGE_UNITS_MAX): Applied {
  const succeeded = cmd.compare.every((c) => holds(state, c));
  const ops = succeeded ? cmd.success : cmd.failure;
  const refused = checkOps(state, ops);
  if (refused !== undefined) return { result: errorResult(state.revision, refused.code, refused.message), events: [] };
  // No delete of a branch removes a key one of its puts writes, so whether it changes anything is known before it runs.
  const changes = ops.some((op) => op.type === 'put' || (op.type === 'delete' && anyAt(state, op.key, op.prefix)));
  const revision = changes ? state.revision + 1 : state.revision;
  state.revision = revision;
  const events: WatchEvent[] = [];
  const responses: TxnResponse[] = [];
  let deleted = 0;
  let unitsLeft = unitsMax;
  for (const op of ops) {
    switch (op.type) {
      case 'put':
        events.push(writeKey(state, op.key, op.value, op.lease, revision));
        responses.push({ type: 'put' });
        break;
      case 'delete': {
        const gone = deleteKeys(state, matchingKeys(state, op.key, op.prefix), revision);
        events.push(...gone);
        deleted += gone.length;
        responses.push({ type: 'delete', deleted: gone.length });
        break;
      }
      case 'get': {
        const read = readWithin(state, op, unitsLeft);
        unitsLeft -= read.units;
        responses.push({ type: 'get', kvs: read.kvs, more: read.more });
        break;
      }
    }
  }
  events.sort((a, b) => compareKeys(a.key, b.key));
  return { result: { type: 'txn', revision, succeeded, deleted, responses }, events };
}

function readWithin(state: KeeperState, op: Extract<TxnOp, { type: 'get' }>, unitsLeft: number): { kvs: readonly KeyValue[]; more: boolean; units: number } {
  const keysOnly = op.keysOnly === true;
  // range() always answers one key; a spent budget answers none.
  if (unitsLeft <= 0) return { kvs: [], more: anyAt(state, op.key, op.prefix), units: 0 };
  const page = range(state, op.key, { prefix: op.prefix, keysOnly, unitsMax: unitsLeft, ...(op.limit === undefined ? {} : { limit: op.limit }) });
  const units = page.kvs.reduce((n, kv) => n + kv.key.length + (keysOnly ? 0 : kv.value.length), 0);
  return { ...page, units };
}

/** Whether a key is at `key` (or under it, with `prefix`). */
function anyAt(state: KeeperState, key: string, prefix: boolean): boolean {
  return prefix ? state.kvs.keysUnder(key).next().done !== true : state.kvs.has(key);
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

/** Why the branch cannot run as a whole, or undefined: a malformed branch first, then a missing lease. */
function checkOps(state: KeeperState, ops: readonly TxnOp[]): { code: 'invalid' | 'lease-not-found'; message: string } | undefined {
  const putKeys = new Set<string>();
  for (const op of ops) {
    if (op.key.length === 0) return { code: 'invalid', message: 'empty key' };
    if (op.type === 'get' && op.limit !== undefined && !(Number.isSafeInteger(op.limit) && op.limit > 0)) return { code: 'invalid', message: `a get's limit is a count of 1 or more, not ${op.limit}` };
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
