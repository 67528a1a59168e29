// The delivery checker against known-good and known-bad histories: each bad
// history must be caught by the guarantee it breaks, and only by it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDelivery, type Guarantee } from '../checker/delivery.js';
import type { DeliveryHistory, DeviceEvent, PushOp } from '../checker/history.js';

function pushes(user: string, n: number): PushOp[] {
  return Array.from({ length: n }, (_, i) => ({ user, value: `v${i + 1}`, call: i, return: i + 1, outcome: { kind: 'ok' as const, seq: i + 1 } }));
}
const conn = (c: number): DeviceEvent => ({ type: 'connected', conn: c, at: 0 });
const msg = (c: number, seq: number, value = `v${seq}`): DeviceEvent => ({ type: 'msg', conn: c, seq, value, at: 0 });
const ack = (c: number, seq: number): DeviceEvent => ({ type: 'ack', conn: c, seq, at: 0 });
const gap = (c: number, from: number, to: number): DeviceEvent => ({ type: 'gap', conn: c, from, to, reason: 'overflow', at: 0 });
const bye = (c: number): DeviceEvent => ({ type: 'disconnected', conn: c, at: 0 });

function history(n: number, events: DeviceEvent[], extra: PushOp[] = []): DeliveryHistory {
  return { pushes: [...pushes('u', n), ...extra], devices: [{ device: 'd', user: 'u', events }] };
}

function broken(h: DeliveryHistory): Guarantee[] {
  return [...new Set(checkDelivery(h).violations.map((v) => v.guarantee))];
}

test('a clean history with a reconnect, a redelivery of an unacked message and a gap passes', () => {
  const h = history(5, [conn(1), msg(1, 1), ack(1, 1), msg(1, 2), bye(1), conn(2), msg(2, 2), ack(2, 2), gap(2, 3, 3), msg(2, 4), msg(2, 5), ack(2, 5)]);
  const r = checkDelivery(h);
  assert.deepEqual(r.violations, []);
  assert.equal(r.stats.redelivered, 1);
});

test('a lost answered message breaks "complete"', () => {
  assert.deepEqual(broken(history(3, [conn(1), msg(1, 1), msg(1, 2), ack(1, 2)])), ['complete']);
});

test('out-of-order seqs on one connection break "ordered"', () => {
  assert.deepEqual(broken(history(3, [conn(1), msg(1, 1), msg(1, 3), msg(1, 2)])), ['gapFree', 'ordered']);
});

test('a hole without a gap frame breaks "gap-free"', () => {
  assert.deepEqual(broken(history(3, [conn(1), msg(1, 1), msg(1, 3)])), ['gapFree', 'complete']);
});

test('a reconnect that skips past the acked seq breaks "resumed"', () => {
  assert.deepEqual(broken(history(3, [conn(1), msg(1, 1), ack(1, 1), bye(1), conn(2), msg(2, 3)])), ['resumed', 'complete']);
});

test('the wrong payload under a seq breaks "faithful"', () => {
  assert.deepEqual(broken(history(2, [conn(1), msg(1, 1, 'v2'), msg(1, 2, 'v1')])), ['faithful']);
});

test('a payload from a push with unknown outcome is allowed', () => {
  const unknown: PushOp = { user: 'u', value: 'maybe', call: 9, return: Infinity, outcome: { kind: 'unknown' } };
  assert.deepEqual(broken(history(1, [conn(1), msg(1, 1), msg(1, 2, 'maybe')], [unknown])), []);
});

test('a payload from a push with unknown outcome to another user breaks "faithful"', () => {
  const elsewhere: PushOp = { user: 'other', value: 'maybe', call: 9, return: Infinity, outcome: { kind: 'unknown' } };
  assert.deepEqual(broken(history(1, [conn(1), msg(1, 1), msg(1, 2, 'maybe')], [elsewhere])), ['faithful']);
});

test('one value pushed to two users (a multicast) is faithful under each user\'s own seq', () => {
  const h: DeliveryHistory = {
    pushes: [
      { user: 'a', value: 'm', call: 0, return: 1, outcome: { kind: 'ok', seq: 1 } },
      { user: 'b', value: 'm', call: 0, return: 1, outcome: { kind: 'ok', seq: 7 } },
    ],
    devices: [
      { device: 'da', user: 'a', events: [conn(1), msg(1, 1, 'm')] },
      { device: 'db', user: 'b', events: [conn(1), gap(1, 1, 6), msg(1, 7, 'm')] },
    ],
  };
  assert.deepEqual(broken(h), []);
  const swapped: DeliveryHistory = { ...h, devices: [{ device: 'db', user: 'b', events: [conn(1), msg(1, 1, 'm')] }] };
  assert.deepEqual(broken(swapped), ['faithful', 'complete']);
});

test('one push stored twice (a repeat that was not recognized) breaks "idempotent"', () => {
  const retried: PushOp = { user: 'u', value: 'again', call: 5, return: 6, outcome: { kind: 'ok', seq: 3 } };
  assert.deepEqual(broken(history(1, [conn(1), msg(1, 1), msg(1, 2, 'again'), msg(1, 3, 'again')], [retried])), ['faithful', 'idempotent']);
});

test('redelivery of an acked message breaks "redelivery"', () => {
  assert.deepEqual(broken(history(2, [conn(1), msg(1, 1), msg(1, 2), ack(1, 2), bye(1), conn(2), msg(2, 2)])), ['redelivery']);
});
