import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unpack } from 'msgpackr';
import { jsonCodec, msgpackCodec } from '../src/core/codec.js';

test('json: text frames only', () => {
  assert.equal(jsonCodec.encode({ t: 'ping' }), '{"t":"ping"}');
  assert.deepEqual(jsonCodec.decode('{"t":"pong"}'), { ok: true, value: { t: 'pong' } });
  assert.equal(jsonCodec.decode(new Uint8Array([1])).ok, false);
  assert.equal(jsonCodec.decode('{').ok, false);
});

test('msgpack: binary frames with plain maps any MessagePack peer reads', () => {
  const bytes = msgpackCodec.encode({ t: 'ack', app: 'a', seq: 4 });
  assert.ok(bytes instanceof Uint8Array);
  assert.deepEqual(unpack(bytes), { t: 'ack', app: 'a', seq: 4 });
  assert.deepEqual(msgpackCodec.decode(bytes), { ok: true, value: { t: 'ack', app: 'a', seq: 4 } });
  assert.equal(msgpackCodec.decode('text').ok, false);
});
