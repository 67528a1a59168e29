// Client frame validation at the edge: every frame of the contract, and the
// answers for malformed ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toClientFrame, type ServerFrame } from '../src/protocol/frames.js';
import { decode, encode, SharedFrame, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK } from '../src/protocol/codec.js';

test('every client frame of the contract validates', () => {
  const ok: unknown[] = [
    { t: 'hello', device: 'd1' },
    { t: 'hello', device: 'd1', apps: [{ app: 'a', token: 'x', after: 3 }] },
    { t: 'bind', app: 'a', token: 'x' },
    { t: 'unbind', app: 'a' },
    { t: 'ack', app: 'a', seq: 4 },
    { t: 'up', app: 'a', id: 'u1', data: { k: 1 } },
    { t: 'sub', app: 'a', topic: 'news', after: 2 },
    { t: 'unsub', app: 'a', topic: 'news' },
    { t: 'ping' },
  ];
  for (const f of ok) {
    const r = toClientFrame(f);
    assert.ok(!('error' in r), `${JSON.stringify(f)} → ${JSON.stringify(r)}`);
  }
});

test('malformed frames get an error that names the problem', () => {
  const bad: [unknown, RegExp][] = [
    [[1, 2], /object/],
    [{ t: 'nope' }, /unknown frame type/],
    [{ t: 'hello' }, /device/],
    [{ t: 'bind', app: 'bad app!', token: 'x' }, /app/],
    [{ t: 'bind', app: 'a', token: '' }, /token/],
    [{ t: 'ack', app: 'a', seq: -1 }, /seq/],
    [{ t: 'ack', app: 'a', seq: 1.5 }, /seq/],
    [{ t: 'up', app: 'a', id: 'i' }, /data/],
    [{ t: 'sub', app: 'a', topic: '' }, /topic/],
    [{ t: 'hello', device: 'd', apps: new Array(17).fill({ app: 'a', token: 'x' }) }, /apps/],
  ];
  for (const [f, re] of bad) {
    const r = toClientFrame(f);
    assert.ok('error' in r, JSON.stringify(f));
    assert.match(r.error, re);
  }
});

test('both subprotocols round-trip the same object and refuse the wrong frame kind', () => {
  const frame: ServerFrame = { t: 'msg', app: 'a', seq: 1, id: 'i', data: { x: [1, 'y'] }, ts: 5, qos: 1 };
  const json = encode(SUBPROTOCOL_JSON, frame);
  const mp = encode(SUBPROTOCOL_MSGPACK, frame);
  assert.deepEqual(decode(SUBPROTOCOL_JSON, Buffer.from(json as string), false), { ok: true, value: frame });
  assert.deepEqual(decode(SUBPROTOCOL_MSGPACK, mp as Buffer, true), { ok: true, value: frame });
  assert.equal(decode(SUBPROTOCOL_JSON, Buffer.from('{'), false).ok, false);
  assert.equal(decode(SUBPROTOCOL_JSON, Buffer.from('{}'), true).ok, false);
  assert.equal(decode(SUBPROTOCOL_MSGPACK, Buffer.from([0x82, 0xa1, 0x74]), true).ok, false);
  assert.equal(decode(SUBPROTOCOL_MSGPACK, Buffer.from('x'), false).ok, false);
});

test('a shared frame is encoded once per protocol', () => {
  const f = new SharedFrame({ t: 'pong' });
  assert.equal(f.payload(SUBPROTOCOL_JSON), f.payload(SUBPROTOCOL_JSON));
  assert.equal(f.payload(SUBPROTOCOL_MSGPACK), f.payload(SUBPROTOCOL_MSGPACK));
  assert.equal(f.framed(SUBPROTOCOL_JSON), f.framed(SUBPROTOCOL_JSON));
  assert.equal(f.framed(SUBPROTOCOL_MSGPACK), f.framed(SUBPROTOCOL_MSGPACK));
});
