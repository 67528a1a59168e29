// The store-wide revision order check against known-good and known-bad histories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KvOperation } from '../checker/kv-history.js';
import { checkRevisionOrder } from '../checker/revision-order.js';

const put = (key: string, call: number, ret: number, revision: number): KvOperation => ({ clientId: 1, key, node: 'n1', input: { op: 'write', value: `${key}${revision}` }, call, return: ret, output: { kind: 'written', revision } });

test('good: concurrent writes on two keys may take revisions in either order', () => {
  assert.deepEqual(checkRevisionOrder([put('/a', 0, 10, 5), put('/b', 1, 9, 4), put('/a', 11, 12, 6)]).violations, []);
});

test('good: an unknown write and a failed cas carry no revision', () => {
  const unknown: KvOperation = { ...put('/a', 0, 1, 9), return: Infinity, output: { kind: 'unknown' } };
  const failed: KvOperation = { ...put('/b', 2, 3, 9), input: { op: 'cas', value: 'x', ifModRevision: 3 }, output: { kind: 'cas-failed' } };
  assert.deepEqual(checkRevisionOrder([unknown, failed, put('/a', 4, 5, 2)]).violations, []);
});

test('bad: revision goes backwards across keys in real time', () => {
  const r = checkRevisionOrder([put('/a', 0, 1, 7), put('/b', 2, 3, 6)]);
  assert.equal(r.ok, false);
  assert.match(r.violations[0] ?? '', /started after .* completed/);
});

test('bad: two writes on different keys share a revision', () => {
  const r = checkRevisionOrder([put('/a', 0, 5, 7), put('/b', 1, 6, 7)]);
  assert.equal(r.ok, false);
  assert.match(r.violations[0] ?? '', /share revision 7/);
});
