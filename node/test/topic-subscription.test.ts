// One connection's topic subscription: live pubs at or below what the
// connection has are dropped, those arriving while the history is read wait
// and go after it (in offset order, above it), the wait is bounded, a failed
// read (no history) lets the held pubs go, and a pub whose previous record
// the connection lacks starts a catch-up, as does an owner's newest offset
// above what the connection has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedFrame } from '../src/protocol/codec.js';
import { REPLAY_BUFFER_MAX, TopicSubscription } from '../src/gateway/topic-subscription.js';

const frame = (offset: number): SharedFrame => new SharedFrame({ t: 'pub', app: 'a', topic: 't', offset, data: offset, ts: 0 });
const offsetOf = (f: SharedFrame): number => Number((JSON.parse(f.payload('longwire.v1.json').toString()) as { offset: number }).offset);
const rec = (offset: number): { offset: number } => ({ offset });

test('live pubs: written while above the last, dropped at or below it', () => {
  const s = new TopicSubscription(5);
  assert.equal(s.live(5, undefined, frame(5)), 'repeat', 'the client said it has 5');
  assert.equal(s.live(6, undefined, frame(6)), 'write');
  assert.equal(s.live(8, undefined, frame(8)), 'write');
  assert.equal(s.live(7, undefined, frame(7)), 'repeat', 'a late one from before 8');
});

test('a history read holds the live pubs and writes them after it, above it and in order', () => {
  const s = new TopicSubscription(2);
  s.replaying();
  assert.equal(s.live(7, undefined, frame(7)), 'held');
  assert.equal(s.live(6, undefined, frame(6)), 'held');
  assert.equal(s.live(4, undefined, frame(4)), 'held', 'published before the read answered: also in the history');
  const { records, pubs } = s.replayed([rec(1), rec(3), rec(4), rec(5)]);
  assert.deepEqual(records.map((r) => r.offset), [3, 4, 5], 'above `after` only');
  assert.deepEqual(pubs.map(offsetOf), [6, 7], 'each once, after the history, in offset order');
  assert.equal(s.live(7, undefined, frame(7)), 'repeat');
  assert.equal(s.live(9, undefined, frame(9)), 'write', 'no longer held');
});

test('a second read on a subscription replays nothing the connection already has', () => {
  const s = new TopicSubscription(0);
  assert.equal(s.live(10, undefined, frame(10)), 'write');
  s.replaying();
  const { records, pubs } = s.replayed([rec(8), rec(9), rec(10), rec(11)]);
  assert.deepEqual(records.map((r) => r.offset), [11]);
  assert.deepEqual(pubs, []);
});

test('the hold is bounded; a failed read lets the held pubs go', () => {
  const s = new TopicSubscription(0);
  s.replaying();
  for (let i = 1; i <= REPLAY_BUFFER_MAX; i++) assert.equal(s.live(i, undefined, frame(i)), 'held');
  assert.equal(s.live(REPLAY_BUFFER_MAX + 1, undefined, frame(REPLAY_BUFFER_MAX + 1)), 'buffer-full');
  const { records, pubs } = s.replayed([]);
  assert.deepEqual(records, []);
  assert.equal(pubs.length, REPLAY_BUFFER_MAX);
  assert.equal(offsetOf(pubs[pubs.length - 1] ?? frame(0)), REPLAY_BUFFER_MAX);
});

test('a pub whose previous record the connection lacks waits for the history to fill the hole', () => {
  const s = new TopicSubscription(3);
  assert.equal(s.live(4, 3, frame(4)), 'write', 'its previous record is the last the connection has');
  assert.equal(s.live(7, 6, frame(7)), 'catch-up', '5 and 6 were missed');
  assert.equal(s.lastOffset, 4, 'the catch-up reads after what the connection has');
  assert.equal(s.live(8, 7, frame(8)), 'held', 'later pubs wait behind it');
  const { records, pubs } = s.replayed([rec(5), rec(6), rec(7)]);
  assert.deepEqual(records.map((r) => r.offset), [5, 6, 7]);
  assert.deepEqual(pubs.map(offsetOf), [8], 'the held 7 came with the history; 8 after it');
  assert.equal(s.live(9, 8, frame(9)), 'write');
  // A failed read: the held pubs still go, the hole stays.
  assert.equal(s.live(12, 11, frame(12)), 'catch-up');
  assert.deepEqual(s.replayed([]).pubs.map(offsetOf), [12]);
  // A pub from an owner that did not say (an older member), or whose previous record is below: written.
  assert.equal(s.live(20, undefined, frame(20)), 'write');
  assert.equal(s.live(30, 15, frame(30)), 'write', 'skipped offsets (a block change) are not a hole');
});

test('a live-only subscription starts at its first pub, whatever came before it', () => {
  const s = new TopicSubscription(undefined);
  assert.equal(s.lastOffset, undefined);
  assert.equal(s.live(50, 49, frame(50)), 'write', 'no catch-up for what came before it subscribed');
  assert.equal(s.live(52, 51, frame(52)), 'catch-up', 'from then on a hole is filled');
});

test("a subscription behind its owner's newest offset (an interest sync) reads the history once; one not behind, or reading already, does not", () => {
  assert.equal(new TopicSubscription(undefined).behind(9), false, 'a live-only subscription before its first pub has no place to be behind');
  const s = new TopicSubscription(5);
  assert.equal(s.behind(5), false, 'up to date');
  assert.equal(s.behind(8), true);
  assert.equal(s.behind(8), false, 'its read is running');
  assert.equal(s.live(9, 8, frame(9)), 'held', 'live pubs wait behind the read');
  const { records, pubs } = s.replayed([rec(6), rec(7), rec(8)]);
  assert.deepEqual(records.map((r) => r.offset), [6, 7, 8]);
  assert.deepEqual(pubs.map(offsetOf), [9]);
  assert.equal(s.behind(9), false);
});
