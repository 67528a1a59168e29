// A digest of the keys and values as they were at one revision (etcd's
// HashKV): members that applied the same log agree on it, so comparing it
// across members at one revision finds a member whose store went wrong
// (a bug, a bad disk) while writes go on.

import { createHash } from 'node:crypto';
import type { KeyValue } from './keeper.js';

/** SHA-256 over every key in key order: key, value, createRevision, modRevision, version and lease, each length-prefixed. */
export function kvHash(kvs: Iterable<KeyValue>): { hash: string; keys: number } {
  const h = createHash('sha256');
  let keys = 0;
  const field = (s: string): void => {
    h.update(`${s.length}:`);
    h.update(s);
  };
  for (const kv of kvs) {
    field(kv.key);
    field(kv.value);
    field(`${kv.createRevision},${kv.modRevision},${kv.version}`);
    field(kv.lease ?? '');
    keys++;
  }
  return { hash: h.digest('hex'), keys };
}
