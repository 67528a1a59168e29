// The peer link's frames: a length prefix and MessagePack, cut out of a byte
// stream however it arrives (split anywhere, several per chunk); a length
// over the limit or bytes that are not MessagePack are errors, and only
// well-formed requests and answers are accepted as such.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, FrameError, asLinkAnswer, asLinkRequest, encodeFrame } from '../src/peer/link-frame.js';

const FRAMES = [
  { id: 1, m: 'push', b: { users: ['a', 'b'], data: { n: 2 ** 40 } } },
  { id: 2, ok: null },
  { id: 3, err: { code: 'not-ready', status: 503, message: 'owner has no app x (yet)' } },
  { id: 4, m: 'big', b: 'x'.repeat(70_000) },
];

function stream(): Buffer {
  return Buffer.concat(FRAMES.flatMap((f) => encodeFrame(f)));
}

test('frames decode in order whether they arrive whole, several per chunk, or split at any byte', () => {
  const bytes = stream();
  const whole: unknown[] = [];
  new FrameDecoder(1 << 20).push(bytes, (f) => whole.push(f));
  assert.deepEqual(whole, FRAMES);
  for (let cut = 1; cut < bytes.length; cut += 997) {
    const got: unknown[] = [];
    const d = new FrameDecoder(1 << 20);
    d.push(bytes.subarray(0, cut), (f) => got.push(f));
    d.push(bytes.subarray(cut), (f) => got.push(f));
    assert.deepEqual(got, FRAMES, `cut at ${cut}`);
  }
  // One byte at a time, across the headers too.
  const got: unknown[] = [];
  const d = new FrameDecoder(1 << 20);
  for (let i = 0; i < 200; i++) d.push(bytes.subarray(i, i + 1), (f) => got.push(f));
  d.push(bytes.subarray(200), (f) => got.push(f));
  assert.deepEqual(got, FRAMES);
});

test('a frame over the limit is refused from its header alone; bytes that are not MessagePack are refused', () => {
  const [head, body] = encodeFrame({ id: 1, m: 'x', b: 'y'.repeat(2000) });
  assert.throws(() => new FrameDecoder(1000).push(head, () => assert.fail('no frame')), (e: unknown) => e instanceof FrameError && /over the 1000-byte limit/.test(e.message));
  assert.doesNotThrow(() => new FrameDecoder(body.length).push(Buffer.concat([head, body]), () => undefined));
  const junk = Buffer.from([0, 0, 0, 2, 0x92, 0x01]); // an array of two holding one
  assert.throws(() => new FrameDecoder(1000).push(junk, () => undefined), FrameError);
});

test('requests and answers are told apart and checked', () => {
  assert.deepEqual(asLinkRequest({ id: 7, m: 'kick', b: { a: 1 } }), { id: 7, m: 'kick', b: { a: 1 } });
  assert.deepEqual(asLinkRequest({ id: 7, m: 'kick' }), { id: 7, m: 'kick', b: null });
  assert.equal(asLinkRequest({ id: 0, m: 'kick' }), undefined);
  assert.equal(asLinkRequest({ id: 1.5, m: 'kick' }), undefined);
  assert.equal(asLinkRequest({ id: 1, ok: 1 }), undefined);
  assert.deepEqual(asLinkAnswer({ id: 2, ok: [1] }), { id: 2, ok: [1] });
  assert.deepEqual(asLinkAnswer({ id: 2, err: { code: 'c', status: 400, message: 'm' } }), { id: 2, err: { code: 'c', status: 400, message: 'm' } });
  assert.equal(asLinkAnswer({ id: 2, err: { code: 'c' } }), undefined);
  assert.equal(asLinkAnswer({ id: 2 }), undefined);
  assert.equal(asLinkAnswer([2, 1]), undefined);
});
