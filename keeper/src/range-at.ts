// Reads at a past revision (etcd's range with a revision), so the pages of a
// prefix read can all be read at the first page's revision. The keeper holds
// one version of each key, not etcd's multi-version store: a past state is
// the current one with the changes since undone, newest first, from the
// watch history, whose events carry each key as it was before (prevKv). How
// far back it reaches is the watch history's bound.

import type { KeyValue, RangeOptions, WatchEvent } from './keeper.js';
import { kvsUnder, takePage } from './kv.js';
import type { RangePage } from './kv.js';
import { compareKeys } from './ordered-map.js';
import type { KeeperState } from './state.js';

/** A range read as `range` answers it, but of the keys as they were before the events of `later` (the revisions since, oldest first). */
export function rangeAt(state: KeeperState, later: readonly (readonly WatchEvent[])[], key: string, req: RangeOptions = {}): RangePage {
  const then = undone(later, key, req);
  if (req.prefix !== true) {
    const kv = then.has(key) ? then.get(key) : state.kvs.get(key);
    return { kvs: kv === undefined ? [] : [kv], more: false };
  }
  return takePage(kvsThen(state, key, req.after, then), req);
}

/** The number of keys `rangeAt` would answer without a limit. */
export function countAt(state: KeeperState, later: readonly (readonly WatchEvent[])[], key: string, req: Pick<RangeOptions, 'prefix' | 'after'> = {}): number {
  const then = undone(later, key, req);
  if (req.prefix !== true) return (then.has(key) ? then.get(key) : state.kvs.get(key)) === undefined ? 0 : 1;
  let n = 0;
  for (const _ of kvsThen(state, key, req.after, then)) n++;
  return n;
}

/**
 * Each key of the range that changed since, as it was then (undefined: it
 * did not exist). Walking the revisions newest first, the oldest change of a
 * key is seen last and its prevKv is the key's state then.
 */
function undone(later: readonly (readonly WatchEvent[])[], key: string, req: Pick<RangeOptions, 'prefix' | 'after'>): Map<string, KeyValue | undefined> {
  const inRange = (k: string): boolean => (req.prefix === true ? k.startsWith(key) && (req.after === undefined || compareKeys(k, req.after) > 0) : k === key);
  const then = new Map<string, KeyValue | undefined>();
  for (let i = later.length - 1; i >= 0; i--) for (const e of later[i] ?? []) if (inRange(e.key)) then.set(e.key, e.prevKv);
  return then;
}

/** The kvs under `prefix` after `after` as they were then, in key order: the current ones that did not change, merged with the restored ones. */
function* kvsThen(state: KeeperState, prefix: string, after: string | undefined, then: Map<string, KeyValue | undefined>): Generator<KeyValue, void, undefined> {
  const restored = [...then.values()].filter((kv): kv is KeyValue => kv !== undefined).sort((a, b) => compareKeys(a.key, b.key));
  let i = 0;
  for (const kv of kvsUnder(state, prefix, after)) {
    for (let r = restored[i]; r !== undefined && compareKeys(r.key, kv.key) < 0; r = restored[++i]) yield r;
    // A key that changed since comes from `restored` (or not at all, if it did not exist then).
    if (!then.has(kv.key)) yield kv;
  }
  for (let r = restored[i]; r !== undefined; r = restored[++i]) yield r;
}
