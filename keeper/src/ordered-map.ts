// A Map with string keys that also holds its keys in order (a B+ tree), for
// the keeper's keys and its leases: a prefix read or delete visits only the
// keys under the prefix, not every key in the store, and a page starts
// where the last ended. The order is derived from the Map and private to
// it, so two maps with the same entries compare deep-equal however they
// were built (restore(snapshot(s)) deep-equals s).

import sortedBtree from 'sorted-btree';

// A CommonJS module: its class is the `default` of what Node hands an ES module.
const BTree = sortedBtree.default;

/** Code-unit order, the same on every replica (localeCompare is not). */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class OrderedMap<V> extends Map<string, V> {
  readonly #order = new BTree<string, undefined>(undefined, compareKeys);

  override set(key: string, value: V): this {
    if (!super.has(key)) this.#order.set(key, undefined);
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    this.#order.delete(key);
    return super.delete(key);
  }

  override clear(): void {
    this.#order.clear();
    super.clear();
  }

  /**
   * The keys that start with `prefix`, in order, beginning after `after` when
   * it is given. Lazy, so a caller that wants a page stops early.
   */
  *keysUnder(prefix: string, after?: string): Generator<string, void, undefined> {
    const from = after !== undefined && compareKeys(after, prefix) >= 0 ? after : prefix;
    for (const k of this.#order.keys(from)) {
      if (k === after) continue;
      if (!k.startsWith(prefix)) return;
      yield k;
    }
  }
}
