// The topic checker on known-good and known-bad histories: each guarantee has
// a history that breaks only it, and the good history (a change of owner
// skipping offsets, an unknown publish stored or not, a full history that let
// go of old records, a record past its time) passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTopics, type PublishOp, type TopicsHistory, type TopicGuarantee } from '../checker/topics.js';

const ok = (value: string, offset: number, call: number, ret: number, topic = 't'): PublishOp => ({ topic, value, call, return: ret, outcome: { kind: 'ok', offset } });
const unknown = (value: string, call: number, topic = 't'): PublishOp => ({ topic, value, call, return: Infinity, outcome: { kind: 'unknown' } });

function good(): TopicsHistory {
  return {
    publishes: [ok('a', 1, 0, 5), ok('b', 2, 6, 9), unknown('u', 10), ok('c', 1025, 20, 25), ok('d', 1026, 24, 30)],
    subscribers: [
      {
        subscriber: 's1',
        pubs: [
          { conn: 1, topic: 't', offset: 1, value: 'a', at: 5 },
          { conn: 1, topic: 't', offset: 2, value: 'b', at: 9 },
          // Reconnected: the history from its last offset on, then live.
          { conn: 2, topic: 't', offset: 3, value: 'u', at: 15 },
          { conn: 2, topic: 't', offset: 1025, value: 'c', at: 25 },
          { conn: 2, topic: 't', offset: 1026, value: 'd', at: 30 },
        ],
        last: { t: 1026 },
      },
    ],
    finals: [{ topic: 't', records: [{ offset: 1, value: 'a' }, { offset: 2, value: 'b' }, { offset: 3, value: 'u' }, { offset: 1025, value: 'c' }, { offset: 1026, value: 'd' }], readAt: 100 }],
    historyMax: 100,
    historyMs: 1000,
  };
}

function only(h: TopicsHistory, g: TopicGuarantee): void {
  const r = checkTopics(h);
  assert.equal(r.ok, false);
  assert.deepEqual([...new Set(r.violations.map((v) => v.guarantee))], [g], JSON.stringify(r.violations));
}

test('a good history passes, with what it kept counted', () => {
  const r = checkTopics(good());
  assert.deepEqual(r.violations, []);
  assert.equal(r.ok, true);
  assert.deepEqual(r.stats, { answered: 4, unknown: 1, received: 5, kept: 4 });
});

test('unique: two answered publishes under one offset', () => {
  const h = good();
  only({ ...h, publishes: [ok('a', 1, 0, 5), ok('b', 1, 2, 6)], subscribers: [], finals: [] }, 'unique');
});

test('growing: a publish answered before another started got a higher offset', () => {
  const h = good();
  only({ ...h, publishes: [ok('a', 1025, 0, 5), ok('b', 7, 6, 9)], subscribers: [], finals: [] }, 'growing');
  // Overlapping publishes may get their offsets either way.
  assert.equal(checkTopics({ ...h, publishes: [ok('a', 1025, 0, 10), ok('b', 7, 5, 9)], subscribers: [], finals: [] }).ok, true);
});

test('ordered: a connection got a lower offset after a higher one', () => {
  const h = good();
  const s = h.subscribers[0];
  assert.ok(s !== undefined);
  only({ ...h, subscribers: [{ ...s, pubs: [...s.pubs, { conn: 2, topic: 't', offset: 2, value: 'b', at: 40 }] }] }, 'ordered');
  // On a new connection the history may replay it.
  assert.equal(checkTopics({ ...h, subscribers: [{ ...s, pubs: [...s.pubs, { conn: 3, topic: 't', offset: 2, value: 'b', at: 40 }] }] }).ok, true);
});

test('faithful: another value under an answered offset, live or in the history', () => {
  const h = good();
  const s = h.subscribers[0];
  assert.ok(s !== undefined);
  only({ ...h, subscribers: [{ ...s, pubs: [{ conn: 1, topic: 't', offset: 1, value: 'b', at: 5 }] }] }, 'faithful');
  const f = h.finals[0];
  assert.ok(f !== undefined);
  const r = checkTopics({ ...h, subscribers: [], finals: [{ ...f, records: f.records.map((x) => (x.offset === 2 ? { ...x, value: 'x' } : x)) }] });
  // The history's record is not the publish's: it is also not kept.
  assert.deepEqual(r.violations.map((v) => v.guarantee).sort(), ['faithful', 'kept']);
});

test('kept: an answered publish missing from the history it fits in; nothing owed below a full history or past its time', () => {
  const h = good();
  const f = h.finals[0];
  assert.ok(f !== undefined);
  // The old owner's records did not move with the topic.
  only({ ...h, finals: [{ ...f, records: f.records.filter((r) => r.offset > 1000) }] }, 'kept');
  // A full history (cap 3) that let go of 1 and 2.
  assert.equal(checkTopics({ ...h, historyMax: 3, finals: [{ ...f, records: f.records.filter((r) => r.offset >= 3) }] }).ok, true);
  // Read long after: 'a' and 'b' are past the history's time.
  assert.equal(checkTopics({ ...h, finals: [{ ...f, readAt: 1010, records: f.records.filter((r) => r.offset >= 3) }] }).ok, true);
});

test('complete: a connection got offsets around an answered publish but not it; nothing owed past the history', () => {
  const h = good();
  const s = h.subscribers[0];
  assert.ok(s !== undefined);
  // Connection 1 got 1 and 1025 but not 2.
  only({ ...h, subscribers: [{ ...s, pubs: [{ conn: 1, topic: 't', offset: 1, value: 'a', at: 5 }, { conn: 1, topic: 't', offset: 1025, value: 'c', at: 25 }] }] }, 'complete');
  // Across connections it is not owed (a reconnect resumes from the history, which the kept check covers).
  assert.equal(checkTopics({ ...h, subscribers: [{ ...s, pubs: [{ conn: 1, topic: 't', offset: 1, value: 'a', at: 5 }, { conn: 2, topic: 't', offset: 1025, value: 'c', at: 25 }] }] }).ok, true);
  // Past the history's time when the later pub came: not owed.
  assert.equal(checkTopics({ ...h, subscribers: [{ ...s, pubs: [{ conn: 1, topic: 't', offset: 1, value: 'a', at: 5 }, { conn: 1, topic: 't', offset: 1025, value: 'c', at: 2000 }] }] }).ok, true);
});

test('complete: a publish without an answer that the history shows stored is owed too', () => {
  const h = good();
  const s = h.subscribers[0];
  assert.ok(s !== undefined);
  // 'u' (unknown at the client) is in the history under offset 3; connection 2 got 1025 after 2 without it.
  only({ ...h, subscribers: [{ ...s, pubs: [{ conn: 2, topic: 't', offset: 2, value: 'b', at: 9 }, { conn: 2, topic: 't', offset: 1025, value: 'c', at: 25 }] }] }, 'complete');
});

test("caught-up: a subscriber that never got a topic's newest record", () => {
  const h = good();
  const s = h.subscribers[0];
  assert.ok(s !== undefined);
  only({ ...h, subscribers: [{ ...s, last: { t: 1025 } }] }, 'caught-up');
  only({ ...h, subscribers: [{ ...s, last: {} }] }, 'caught-up');
  // An empty history owes nothing.
  assert.equal(checkTopics({ ...h, subscribers: [{ ...s, last: {} }], finals: [{ topic: 't', records: [], readAt: 100 }], publishes: [] }).ok, true);
});
