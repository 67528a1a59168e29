// Integrity of the peer link's frames, with or without TLS: each frame carries
// an HMAC-SHA256 tag (first 16 bytes) over its direction, its sequence number
// in that direction and its bytes, under a key made for this link alone. The
// key comes from the keeper-held peer key, both member ids, the signature of
// the upgrade that opened the link (unique: the replay window refuses a
// second use) and a nonce the listener chose, so frames cannot be altered,
// dropped, reordered, replayed, or moved to another link or direction
// without the link failing.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const TAG_BYTES = 16;
export const LINK_NONCE_HEADER = 'x-longwire-link-nonce';

export function newLinkNonce(): string {
  return randomBytes(16).toString('base64url');
}

/** The link's key: both ends derive it; it never travels. */
export function linkKey(peerKey: Buffer, dialer: string, listener: string, upgradeSig: string, nonce: string): Buffer {
  return createHmac('sha256', peerKey).update(`longwire-peer-link/v1\0${dialer}\0${listener}\0${upgradeSig}\0${nonce}`).digest();
}

export type LinkEnd = 'dialer' | 'listener';

export class FrameSeal {
  private sent = 0;
  private received = 0;

  constructor(
    private readonly key: Buffer,
    private readonly end: LinkEnd,
  ) {}

  private tag(from: LinkEnd, seq: number, body: Buffer): Buffer {
    const head = Buffer.allocUnsafe(9);
    head.writeUInt8(from === 'dialer' ? 0 : 1, 0);
    head.writeDoubleBE(seq, 1);
    return createHmac('sha256', this.key).update(head).update(body).digest().subarray(0, TAG_BYTES);
  }

  /** The tag of the next frame this end sends. Frames must be written in the order they are sealed. */
  seal(body: Buffer): Buffer {
    return this.tag(this.end, this.sent++, body);
  }

  /** Whether `tag` is right for the next frame from the other end. */
  open(body: Buffer, tag: Buffer): boolean {
    const want = this.tag(this.end === 'dialer' ? 'listener' : 'dialer', this.received++, body);
    return tag.length === TAG_BYTES && timingSafeEqual(want, tag);
  }
}
