// Frames of the peer link (peer-client.ts dials it, link-server.ts serves it):
// a 4-byte big-endian length, then that many bytes: MessagePack (codec.ts)
// followed by the frame's 16-byte tag (frame-seal.ts). Requests carry an id
// the answer echoes, so answers may come in any order.
import { packPeer, unpackPeer } from './codec.js';
import { TAG_BYTES, type FrameSeal } from './frame-seal.js';

/** The length prefix of every frame. */
export const FRAME_HEADER_BYTES = 4;

export interface LinkRequest {
  readonly id: number;
  /** The method (peer-methods.ts). */
  readonly m: string;
  /** Its body. */
  readonly b: unknown;
}

/** How a refused call travels: the API error code and status the handler threw (center/errors.ts). */
export interface LinkRefusal {
  readonly code: string;
  readonly status: number;
  readonly message: string;
}

export type LinkAnswer = { readonly id: number; readonly ok: unknown } | { readonly id: number; readonly err: LinkRefusal };

/** A frame's MessagePack body; sealFrame() makes it ready to write. */
export function encodeFrame(value: LinkRequest | LinkAnswer): Buffer {
  return packPeer(value);
}

/** Bytes a body takes on the wire. */
export function wireBytes(body: Buffer): number {
  return FRAME_HEADER_BYTES + body.length + TAG_BYTES;
}

/** The buffers to write for `body` (length, body, tag), sealed in write order, so the writer copies them once. */
export function sealFrame(seal: FrameSeal, body: Buffer): [Buffer, Buffer, Buffer] {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(body.length + TAG_BYTES, 0);
  return [header, body, seal.seal(body)];
}

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/**
 * Cuts a byte stream into decoded frames. A length over `frameBytesMax` or
 * bytes that are not MessagePack throw FrameError: the link is then closed,
 * since its stream can no longer be trusted to be in step.
 * Invariant: `buffered` is the sum of the lengths in `chunks`.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** `frameBytesMax` bounds the MessagePack body; every frame's tag is checked with `seal`. */
  constructor(
    private readonly frameBytesMax: number,
    private readonly seal: FrameSeal,
  ) {}

  /** Feeds bytes; calls `onFrame` for each frame they complete, in order. */
  push(chunk: Buffer, onFrame: (frame: unknown) => void): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < FRAME_HEADER_BYTES) return;
      const head = this.peek(FRAME_HEADER_BYTES);
      const len = head.readUInt32BE(0);
      if (len < TAG_BYTES) throw new FrameError(`frame of ${len} bytes has no tag`);
      if (len - TAG_BYTES > this.frameBytesMax) throw new FrameError(`frame of ${len - TAG_BYTES} bytes over the ${this.frameBytesMax}-byte limit`);
      if (this.buffered < FRAME_HEADER_BYTES + len) return;
      this.take(FRAME_HEADER_BYTES);
      const body = this.take(len - TAG_BYTES);
      // A copy: the tag may be a view into the next chunk's bytes.
      const tag = Buffer.from(this.take(TAG_BYTES));
      if (!this.seal.open(body, tag)) throw new FrameError('a frame failed its integrity check');
      let frame: unknown;
      try {
        frame = unpackPeer(body);
      } catch (err) {
        throw new FrameError(`malformed frame: ${err instanceof Error ? err.message : String(err)}`);
      }
      onFrame(frame);
    }
  }

  /** The first `n` buffered bytes, without consuming them (n <= buffered). */
  private peek(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first;
    const all = Buffer.concat(this.chunks);
    this.chunks = [all];
    return all;
  }

  /** Consumes the first `n` buffered bytes (n <= buffered); a slice, not a copy, when one chunk holds them. */
  private take(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const c = this.chunks[0] as Buffer;
        const k = Math.min(c.length, n - at);
        c.copy(out, at, 0, k);
        at += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

/** A request frame, or undefined if the frame is not one. */
export function asLinkRequest(v: unknown): LinkRequest | undefined {
  if (!isRecord(v) || !isId(v.id) || typeof v.m !== 'string') return undefined;
  return { id: v.id, m: v.m, b: v.b ?? null };
}

/** An answer frame, or undefined if the frame is not one. */
export function asLinkAnswer(v: unknown): LinkAnswer | undefined {
  if (!isRecord(v) || !isId(v.id)) return undefined;
  if ('err' in v) {
    const e = v.err;
    if (!isRecord(e) || typeof e.code !== 'string' || typeof e.message !== 'string' || typeof e.status !== 'number') return undefined;
    return { id: v.id, err: { code: e.code, status: e.status, message: e.message } };
  }
  if (!('ok' in v)) return undefined;
  return { id: v.id, ok: v.ok };
}
