import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeServerFrame } from '../src/core/frames.js';

test('valid frames decode to their union member', () => {
  assert.deepEqual(decodeServerFrame({ t: 'welcome', session: 's', node: 'n', heartbeat: 25 }), {
    ok: true,
    frame: { t: 'welcome', session: 's', node: 'n', heartbeat: 25 },
  });
  assert.deepEqual(decodeServerFrame({ t: 'msg', app: 'a', seq: 3, id: 'i', data: { x: 1 }, ts: 9, qos: 1 }), {
    ok: true,
    frame: { t: 'msg', app: 'a', seq: 3, id: 'i', data: { x: 1 }, ts: 9, qos: 1 },
  });
  assert.deepEqual(decodeServerFrame({ t: 'reply', id: 'u', ok: false, error: 'timeout' }), { ok: true, frame: { t: 'reply', id: 'u', ok: false, error: 'timeout' } });
  assert.deepEqual(decodeServerFrame({ t: 'redirect', reason: 'drain', nodes: ['ws://x/ws'] }), {
    ok: true,
    frame: { t: 'redirect', reason: 'drain', nodes: [{ id: 'ws://x/ws', url: 'ws://x/ws', zone: '' }] },
  });
});

test('malformed frames are refused with a reason', () => {
  for (const bad of [null, [], 'x', { t: 1 }, { t: 'nope' }, { t: 'msg', app: 'a', seq: -1, id: 'i' }, { t: 'gap', app: 'a', from: 5, to: 2, reason: 'expired' }, { t: 'welcome', session: 's', node: 'n', heartbeat: 0 }]) {
    const r = decodeServerFrame(bad);
    assert.equal(r.ok, false, JSON.stringify(bad));
  }
});
