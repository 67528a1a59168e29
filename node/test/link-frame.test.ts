// The peer link's frames: a length prefix, MessagePack and a tag, cut out of
// a byte stream however it arrives (split anywhere, several per chunk); a
// length over the limit, bytes that are not MessagePack, and any frame whose
// tag is wrong (altered, reordered, replayed, from the other direction or
// another link) are errors; only well-formed requests and answers are
// accepted as such.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, FrameError, asLinkAnswer, asLinkRequest, encodeFrame, sealFrame } from '../src/peer/link-frame.js';
import { FrameSeal, TAG_BYTES } from '../src/peer/frame-seal.js';

const KEY = Buffer.alloc(32, 3);
/** The receiving end of a link whose dialer sealed with KEY. */
const listener = (key: Buffer = KEY): FrameSeal => new FrameSeal(key, 'listener');

const FRAMES = [
  { id: 1, m: 'push', b: { users: ['a', 'b'], data: { n: 2 ** 40 } } },
  { id: 2, ok: null },
  { id: 3, err: { code: 'not-ready', status: 503, message: 'owner has no app x (yet)' } },
  { id: 4, m: 'big', b: 'x'.repeat(70_000) },
];

function stream(): Buffer {
  const dialer = new FrameSeal(KEY, 'dialer');
  return Buffer.concat(FRAMES.flatMap((f) => sealFrame(dialer, encodeFrame(f))));
}

test('frames decode in order whether they arrive whole, several per chunk, or split at any byte', () => {
  const bytes = stream();
  const whole: unknown[] = [];
  new FrameDecoder(1 << 20, listener()).push(bytes, (f) => whole.push(f));
  assert.deepEqual(whole, FRAMES);
  for (let cut = 1; cut < bytes.length; cut += 997) {
    const got: unknown[] = [];
    const d = new FrameDecoder(1 << 20, listener());
    d.push(bytes.subarray(0, cut), (f) => got.push(f));
    d.push(bytes.subarray(cut), (f) => got.push(f));
    assert.deepEqual(got, FRAMES, `cut at ${cut}`);
  }
  // One byte at a time, across the headers too.
  const got: unknown[] = [];
  const d = new FrameDecoder(1 << 20, listener());
  for (let i = 0; i < 200; i++) d.push(bytes.subarray(i, i + 1), (f) => got.push(f));
  d.push(bytes.subarray(200), (f) => got.push(f));
  assert.deepEqual(got, FRAMES);
});

test('a frame over the limit is refused from its header alone; bytes that are not MessagePack are refused', () => {
  const body = encodeFrame({ id: 1, m: 'x', b: 'y'.repeat(2000) });
  const [head, , tag] = sealFrame(new FrameSeal(KEY, 'dialer'), body);
  assert.throws(() => new FrameDecoder(1000, listener()).push(head, () => assert.fail('no frame')), (e: unknown) => e instanceof FrameError && /over the 1000-byte limit/.test(e.message));
  assert.doesNotThrow(() => new FrameDecoder(body.length, listener()).push(Buffer.concat([head, body, tag]), () => undefined));
  const junkBody = Buffer.from([0x92, 0x01]); // an array of two holding one
  assert.throws(() => new FrameDecoder(1000, listener()).push(Buffer.concat(sealFrame(new FrameSeal(KEY, 'dialer'), junkBody)), () => undefined), /malformed frame/);
});

test('a frame altered, replayed, reordered, sent back the other way or sealed for another link fails its integrity check', () => {
  const fails = (bytes: Buffer, seal: FrameSeal = listener()): void =>
    assert.throws(() => new FrameDecoder(1 << 20, seal).push(bytes, () => undefined), /integrity check/);
  const dialer = new FrameSeal(KEY, 'dialer');
  const first = Buffer.concat(sealFrame(dialer, encodeFrame({ id: 1, m: 'kick', b: { user: 'u1' } })));
  const second = Buffer.concat(sealFrame(dialer, encodeFrame({ id: 2, m: 'kick', b: { user: 'u2' } })));
  const flipped = Buffer.from(first);
  flipped[10] = (flipped[10] ?? 0) ^ 1;
  fails(flipped);
  fails(Buffer.concat([first, first]));
  fails(second);
  fails(first, new FrameSeal(KEY, 'dialer'));
  fails(first, listener(Buffer.alloc(32, 4)));
  const ok: unknown[] = [];
  new FrameDecoder(1 << 20, listener()).push(Buffer.concat([first, second]), (f) => ok.push(f));
  assert.equal(ok.length, 2);
  assert.equal(first.length, 4 + encodeFrame({ id: 1, m: 'kick', b: { user: 'u1' } }).length + TAG_BYTES);
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
