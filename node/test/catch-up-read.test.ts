// A catch-up's history read is tried again after a failure (the link to the
// owner often flaps just then), until it succeeds, the pauses or the deadline
// run out, or the connection no longer wants it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { catchUpRead } from '../src/gateway/catch-up-read.js';

const failingTimes = (n: number): { read: () => Promise<string>; calls: () => number } => {
  let calls = 0;
  return {
    read: async () => {
      if (calls++ < n) throw new Error('owner unreachable');
      return 'history';
    },
    calls: () => calls,
  };
};

test('a read that fails at first is tried again until it succeeds', async () => {
  const r = failingTimes(2);
  assert.equal(await catchUpRead(r.read, { retryMs: [1, 1, 1], wanted: () => true }), 'history');
  assert.equal(r.calls(), 3);
});

test('the pauses running out gives up: the hole stays', async () => {
  const r = failingTimes(10);
  assert.equal(await catchUpRead(r.read, { retryMs: [1, 1], wanted: () => true }), undefined);
  assert.equal(r.calls(), 3);
});

test('no read starts past the deadline', async () => {
  const r = failingTimes(10);
  assert.equal(await catchUpRead(r.read, { retryMs: [5, 50], deadlineMs: 30, wanted: () => true }), undefined);
  assert.equal(r.calls(), 2, 'the second pause would end past the deadline');
});

test('a connection that closed or left the topic stops the reads', async () => {
  const r = failingTimes(10);
  let wanted = true;
  const done = catchUpRead(r.read, { retryMs: [20, 20, 20], wanted: () => wanted });
  wanted = false;
  assert.equal(await done, undefined);
  assert.equal(r.calls(), 1);
});
