// The revisioned key/value space (etcd v3 semantics): puts with optional lease
// and compare-and-swap on modRevision, deletes of a key or a prefix.

import { assert } from './assert.js';
import { errorResult } from './command.js';
import type { Applied, Command } from './command.js';
import type { KeyValue, RangeOptions, WatchEvent } from './keeper.js';
import { kvBytes, makeKeyValue } from './state.js';
import type { KeeperState } from './state.js';

type Put = Extract<Command, { type: 'put' }>;
type Delete = Extract<Command, { type: 'delete' }>;

export function applyPut(state: KeeperState, cmd: Put): Applied {
  if (cmd.key.length === 0) return { result: errorResult(state.revision, 'invalid', 'empty key'), events: [] };
  const prev = state.kvs.get(cmd.key);
  if (cmd.ifModRevision !== undefined) {
    if (!Number.isSafeInteger(cmd.ifModRevision) || cmd.ifModRevision < 0) {
      return { result: errorResult(state.revision, 'invalid', `ifModRevision ${cmd.ifModRevision} is not a revision`), events: [] };
    }
    const actual = prev?.modRevision ?? 0;
    if (actual !== cmd.ifModRevision) {
      const message = `${cmd.key}: modRevision is ${actual}, expected ${cmd.ifModRevision}`;
      return { result: errorResult(state.revision, 'compare-failed', message), events: [] };
    }
  }
  if (cmd.lease !== undefined && !state.leases.has(cmd.lease)) {
    return { result: errorResult(state.revision, 'lease-not-found', `lease ${cmd.lease} not found`), events: [] };
  }
  const revision = (state.revision += 1);
  return { result: { type: 'put', revision }, events: [writeKey(state, cmd.key, cmd.value, cmd.lease, revision)] };
}

/**
 * Sets `key` at `revision` (the caller advanced state.revision to it and
 * checked that `lease`, if any, exists); returns its put event.
 */
export function writeKey(state: KeeperState, key: string, value: string, leaseId: string | undefined, revision: number): WatchEvent {
  const prev = state.kvs.get(key);
  const lease = leaseId === undefined ? undefined : state.leases.get(leaseId);
  assert(leaseId === undefined || lease !== undefined, `writeKey: lease ${leaseId} absent`);
  if (prev?.lease !== undefined && prev.lease !== leaseId) detachKey(state, prev);
  lease?.keys.add(key);
  state.kvs.set(key, makeKeyValue(key, value, prev?.createRevision ?? revision, revision, (prev?.version ?? 0) + 1, leaseId));
  state.kvBytes += kvBytes(key, value) - (prev === undefined ? 0 : kvBytes(prev.key, prev.value));
  return prev === undefined ? { type: 'put', revision, key, value } : { type: 'put', revision, key, value, prevKv: prev };
}

export function applyDelete(state: KeeperState, cmd: Delete): Applied {
  if (cmd.key.length === 0) return { result: errorResult(state.revision, 'invalid', 'empty key'), events: [] };
  const keys = matchingKeys(state, cmd.key, cmd.prefix);
  if (keys.length === 0) return { result: { type: 'delete', revision: state.revision, deleted: 0 }, events: [] };
  const revision = (state.revision += 1);
  return { result: { type: 'delete', revision, deleted: keys.length }, events: deleteKeys(state, keys, revision) };
}

/** Removes `keys` (sorted, all present) at `revision`; returns their delete events. */
export function deleteKeys(state: KeeperState, keys: readonly string[], revision: number): WatchEvent[] {
  const events: WatchEvent[] = [];
  for (const key of keys) {
    const kv = state.kvs.get(key);
    assert(kv !== undefined, `deleteKeys: ${key} absent`);
    if (kv.lease !== undefined) detachKey(state, kv);
    state.kvs.delete(key);
    state.kvBytes -= kvBytes(kv.key, kv.value);
    events.push({ type: 'delete', revision, key, prevKv: kv });
  }
  return events;
}

export interface RangePage {
  readonly kvs: KeyValue[];
  /** True when keys of the range remain past the last one in `kvs`. */
  readonly more: boolean;
}

/**
 * A prefix read (and the reads of one transaction together) stops, answering
 * "more", once its keys and values reach this many UTF-16 units, so one
 * request cannot build an answer near V8's string limit (2^29 units) out of a
 * store the quota lets grow to 256 MiB and more.
 */
export const RANGE_UNITS_MAX = 32 * 1024 * 1024;

/** The kvs at `key`, or under it when `prefix`, sorted by key; a page of them when `limit` or `unitsMax` stops it. */
export function range(state: KeeperState, key: string, req: RangeOptions = {}): RangePage {
  if (req.prefix !== true) {
    const kv = state.kvs.get(key);
    return { kvs: kv === undefined ? [] : [kv], more: false };
  }
  return takePage(kvsUnder(state, key, req.after), req);
}

/** The kvs under `prefix` (after `after`) in key order, lazily. */
export function* kvsUnder(state: KeeperState, prefix: string, after: string | undefined): Generator<KeyValue, void, undefined> {
  for (const k of state.kvs.keysUnder(prefix, after)) {
    const kv = state.kvs.get(k);
    assert(kv !== undefined, `range: ${k} vanished`);
    yield kv;
  }
}

/** The first page of `kvs` (in key order) that `limit` and `unitsMax` let through. */
export function takePage(kvs: Iterable<KeyValue>, req: Pick<RangeOptions, 'limit' | 'unitsMax' | 'keysOnly'>): RangePage {
  const limit = req.limit ?? Infinity;
  const unitsMax = req.unitsMax ?? Infinity;
  const page: KeyValue[] = [];
  let units = 0;
  for (const kv of kvs) {
    if (page.length >= limit || (page.length > 0 && units >= unitsMax)) return { kvs: page, more: true };
    page.push(kv);
    units += kv.key.length + (req.keysOnly === true ? 0 : kv.value.length);
  }
  return { kvs: page, more: false };
}

/** The number of keys at `key`, or under it when `prefix` (after `after`). */
export function countRange(state: KeeperState, key: string, req: Pick<RangeOptions, 'prefix' | 'after'> = {}): number {
  if (req.prefix !== true) return state.kvs.has(key) ? 1 : 0;
  let n = 0;
  for (const _ of state.kvs.keysUnder(key, req.after)) n++;
  return n;
}

/** The keys a delete of `key` (a prefix when `prefix`) removes, in key order. */
export function matchingKeys(state: KeeperState, key: string, prefix: boolean): string[] {
  if (!prefix) return state.kvs.has(key) ? [key] : [];
  return [...state.kvs.keysUnder(key)];
}

function detachKey(state: KeeperState, kv: KeyValue): void {
  assert(kv.lease !== undefined, 'detachKey: key has no lease');
  const lease = state.leases.get(kv.lease);
  assert(lease !== undefined && lease.keys.delete(kv.key), `key ${kv.key} not indexed under lease ${kv.lease}`);
}
