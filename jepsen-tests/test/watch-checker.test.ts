// The watch checker against known-good and known-bad histories: each bad
// history is named after the guarantee it breaks and must be caught by it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KvHistory, KvOperation, WatchEnd, WatchItem, WatchStream } from '../checker/kv-history.js';
import { checkWatches, describeWatchViolation, type WatchGuarantee } from '../checker/watch.js';

const P = '/jepsen/';
const put = (key: string, value: string, revision: number, clientId = 1): KvOperation => ({ clientId, key: P + key, node: 'n1', input: { op: 'write', value }, call: revision * 10, return: revision * 10 + 1, output: { kind: 'written', revision } });
const putUnknown = (key: string, value: string): KvOperation => ({ clientId: 9, key: P + key, node: 'n1', input: { op: 'write', value }, call: 0, return: Infinity, output: { kind: 'unknown' } });
const del = (key: string, revision: number): KvOperation => ({ clientId: 1, key: P + key, node: 'n1', input: { op: 'delete' }, call: revision * 10, return: revision * 10 + 1, output: { kind: 'deleted', revision, deleted: 1 } });
const ev = (key: string, value: string, revision: number): WatchItem => ({ type: 'event', kind: 'put', key: P + key, value, revision, at: revision });
const evDel = (key: string, revision: number): WatchItem => ({ type: 'event', kind: 'delete', key: P + key, revision, at: revision });
const prog = (revision: number): WatchItem => ({ type: 'progress', revision, at: revision });
const END: WatchEnd = { reason: 'client', at: 1000 };

function stream(watcher: string, n: number, fromRevision: number, items: WatchItem[], startedFresh = n === 0, end: WatchEnd = END): WatchStream {
  return { watcher, stream: n, node: 'n1', prefix: P, fromRevision, startedFresh, startedAt: 0, items, end };
}

const WRITES = [put('a', 'a1', 2), put('b', 'b1', 3), put('a', 'a2', 5), del('b', 6), put('c', 'c1', 8)];
const FINAL = { revision: 9, kvs: [{ key: P + 'a', value: 'a2', modRevision: 5 }, { key: P + 'c', value: 'c1', modRevision: 8 }] };
const ALL = [ev('a', 'a1', 2), ev('b', 'b1', 3), ev('a', 'a2', 5), evDel('b', 6), ev('c', 'c1', 8)];

function broken(watches: WatchStream[], operations: KvOperation[] = WRITES): WatchGuarantee[] {
  const r = checkWatches({ operations, watches, finalRead: FINAL } satisfies KvHistory);
  return [...new Set(r.violations.map((x) => x.guarantee))].sort();
}

test('good: a complete stream, a progress, and a resume from lastRevision + 1 after a drop', () => {
  const dropped: WatchEnd = { reason: 'dropped', at: 50, detail: 'ECONNRESET' };
  const h: KvHistory = {
    operations: WRITES,
    watches: [stream('w1', 0, 1, [...ALL, prog(9)]), stream('w2', 0, 1, [ev('a', 'a1', 2), ev('b', 'b1', 3), prog(4)], true, dropped), stream('w2', 1, 5, [ev('a', 'a2', 5), evDel('b', 6), ev('c', 'c1', 8)])],
    finalRead: FINAL,
  };
  const r = checkWatches(h);
  assert.deepEqual(r.violations.map(describeWatchViolation), []);
  assert.equal(r.stats.events, 10);
});

test('good: an event of a write with unknown outcome, seen consistently by two streams', () => {
  const ops = [...WRITES, putUnknown('d', 'd1')];
  const items = [...ALL, ev('d', 'd1', 9)];
  assert.deepEqual(broken([stream('w1', 0, 1, items), stream('w2', 0, 4, items.slice(2))], ops), []);
});

test('good: a stream resumed after compaction starts fresh', () => {
  const compacted: WatchEnd = { reason: 'compacted', at: 5, compactRevision: 4 };
  assert.deepEqual(broken([stream('w1', 0, 1, [], true, compacted), stream('w1', 1, 6, [evDel('b', 6), ev('c', 'c1', 8)], true)]), []);
});

test('bad "ordered": revisions go down on one stream', () => {
  assert.deepEqual(broken([stream('w1', 0, 1, [ev('a', 'a1', 2), ev('a', 'a2', 5), ev('b', 'b1', 3), evDel('b', 6), ev('c', 'c1', 8)])]), ['ordered']);
});

test('bad "unique": an event delivered twice on one stream', () => {
  assert.deepEqual(broken([stream('w1', 0, 1, [...ALL.slice(0, 3), ev('a', 'a2', 5), ...ALL.slice(3)])]), ['unique']);
});

test('bad "reliable": an acknowledged write missing in the middle of a stream', () => {
  assert.deepEqual(broken([stream('w1', 0, 1, [ev('a', 'a1', 2), ev('a', 'a2', 5), evDel('b', 6), ev('c', 'c1', 8)])]), ['reliable']);
});

test('bad "reliable": a write only another stream and the final read know of', () => {
  const ops = [...WRITES, putUnknown('d', 'd1')];
  const final = { revision: 10, kvs: [...FINAL.kvs, { key: P + 'd', value: 'd1', modRevision: 9 }] };
  const r = checkWatches({ operations: ops, watches: [stream('w1', 0, 1, [...ALL, ev('a', 'a3', 10)])], finalRead: final });
  // a3 was never written: faithful; d1 @9 missing before it: reliable.
  assert.deepEqual([...new Set(r.violations.map((x) => x.guarantee))].sort(), ['faithful', 'reliable']);
});

test('bad "resumable": a resumed stream skips past the last revision', () => {
  assert.deepEqual(broken([stream('w1', 0, 1, ALL.slice(0, 2), true, { reason: 'dropped', at: 4, detail: 'x' }), stream('w1', 1, 6, ALL.slice(3))]), ['resumable']);
});

test('bad "resumable": a stream delivers events before its fromRevision', () => {
  assert.deepEqual(broken([stream('w1', 0, 1, ALL.slice(0, 2), true, { reason: 'dropped', at: 4, detail: 'x' }), stream('w1', 1, 4, ALL.slice(1))]), ['resumable']);
});

test('bad "bookmarkable": progress ahead of a delivered event', () => {
  assert.deepEqual(broken([stream('w1', 0, 1, [ev('a', 'a1', 2), prog(5), ev('b', 'b1', 3), ev('a', 'a2', 5), evDel('b', 6), ev('c', 'c1', 8)])]), ['bookmarkable']);
});

test('bad "bookmarkable": progress past an event the stream never delivers', () => {
  assert.deepEqual(broken([stream('w1', 0, 1, [ev('a', 'a1', 2), ev('b', 'b1', 3), prog(6)])]), ['bookmarkable']);
});

test('bad "bookmarkable": a cancelled stream claims a lastRevision past an event it never delivered', () => {
  const cancelled: WatchEnd = { reason: 'cancelled', at: 7, code: 'watch-slow', lastRevision: 6 };
  assert.deepEqual(broken([stream('w1', 0, 1, [ev('a', 'a1', 2), ev('b', 'b1', 3)], true, cancelled), stream('w1', 1, 7, [ev('c', 'c1', 8)])]), ['bookmarkable']);
});

test('bad "faithful": an event with the wrong revision for an acknowledged write', () => {
  assert.deepEqual(broken([stream('w1', 0, 1, [ev('a', 'a1', 2), ev('b', 'b1', 4), ev('a', 'a2', 5), evDel('b', 6), ev('c', 'c1', 8)])]), ['faithful', 'reliable']);
});

test('bad "faithful": two streams disagree on the event at a revision', () => {
  const ops = [...WRITES, putUnknown('d', 'd1'), putUnknown('d', 'd2')];
  assert.deepEqual(broken([stream('w1', 0, 1, [...ALL, ev('d', 'd1', 9)]), stream('w2', 0, 1, [...ALL, ev('d', 'd2', 9)])], ops), ['faithful']);
});
