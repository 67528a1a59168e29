// Order-preserving binary keys for the saver's LevelDB store.
//
// A key is one kind byte followed by fields. A string field is a 2-byte
// big-endian byte length and its UTF-8 bytes, so every field is self-delimiting:
// no character in a user id can act as a separator, and one user's keys can
// never be a prefix of another user's. Numbers are 8-byte big-endian, so byte
// order equals numeric order and one user's inbox is one contiguous range
// sorted by seq.

export const KIND_MESSAGE = 0x6d; // 'm' app user seq -> StoredMessage
export const KIND_USER = 0x75; // 'u' app user -> UserMeta (lastSeq, dropped ranges)
export const KIND_CURSOR = 0x63; // 'c' app user device -> DeviceCursor
export const KIND_IDEMPOTENCY = 0x69; // 'i' app key -> IdempotencyRecord
export const KIND_BROADCAST = 0x62; // 'b' app pos -> BroadcastRecord
export const KIND_BROADCAST_META = 0x42; // 'B' app -> last pos
export const KIND_TOPIC = 0x74; // 't' app topic offset -> TopicRecord
export const KIND_TOPIC_META = 0x54; // 'T' app topic -> last offset
export const KIND_EXPIRY = 0x65; // 'e' expiresAt <target key> -> '' (index for sweep)
export const KIND_SEALED = 0x53; // 'S' -> '' (present once this node's inboxes are being handed over)

const APP_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Lone UTF-16 surrogates would all encode to U+FFFD and collide, so they are refused. */
const LONE_SURROGATE_RE = /\p{Cs}/u;
export const ID_BYTES_MAX = 256;
const U32 = 0x1_0000_0000;

export function checkApp(app: string): void {
  if (!APP_RE.test(app)) throw new RangeError(`invalid app name: ${JSON.stringify(app)}`);
}

/** User ids, device ids, topics and idempotency keys: any well-formed non-empty string up to 256 UTF-8 bytes. */
export function checkId(what: string, id: string): void {
  if (id.length === 0 || LONE_SURROGATE_RE.test(id) || Buffer.byteLength(id, 'utf8') > ID_BYTES_MAX) {
    throw new RangeError(`invalid ${what}: must be a well-formed non-empty string of at most ${ID_BYTES_MAX} UTF-8 bytes`);
  }
}

type Field = string | number;

export function encodeKey(kind: number, ...fields: readonly Field[]): Buffer {
  const parts: Buffer[] = [Buffer.of(kind)];
  for (const f of fields) {
    if (typeof f === 'number') {
      parts.push(encodeU64(f));
    } else {
      const bytes = Buffer.from(f, 'utf8');
      const len = Buffer.alloc(2);
      len.writeUInt16BE(bytes.length);
      parts.push(len, bytes);
    }
  }
  return Buffer.concat(parts);
}

export function encodeU64(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a key number: ${n}`);
  const b = Buffer.alloc(8);
  b.writeUInt32BE(Math.floor(n / U32), 0);
  b.writeUInt32BE(n % U32, 4);
  return b;
}

export function decodeU64(b: Buffer, at: number): number {
  return b.readUInt32BE(at) * U32 + b.readUInt32BE(at + 4);
}

/** Reads fields laid out by encodeKey, starting after the kind byte at `at`. */
export class KeyReader {
  private pos: number;
  constructor(
    private readonly key: Buffer,
    at: number,
  ) {
    this.pos = at + 1;
  }
  string(): string {
    const len = this.key.readUInt16BE(this.pos);
    const s = this.key.toString('utf8', this.pos + 2, this.pos + 2 + len);
    this.pos += 2 + len;
    return s;
  }
  number(): number {
    const n = decodeU64(this.key, this.pos);
    this.pos += 8;
    return n;
  }
}

/** The bounds of every key that starts with `prefix` (exclusive upper bound). */
export function prefixRange(prefix: Buffer): { gte: Buffer; lt: Buffer } {
  // The least key above every extension of `prefix`: its last non-0xff byte, incremented.
  const lt = Buffer.from(prefix);
  let i = lt.length - 1;
  while (i >= 0 && lt[i] === 0xff) i--;
  if (i < 0) throw new RangeError('prefix has no upper bound');
  lt[i] = (lt[i] ?? 0) + 1;
  return { gte: prefix, lt: lt.subarray(0, i + 1) };
}

/** Expiry index entry: sweep scans these in time order and deletes `target`. */
export function expiryKey(expiresAt: number, target: Buffer): Buffer {
  return Buffer.concat([Buffer.of(KIND_EXPIRY), encodeU64(expiresAt), target]);
}

/** Where the target key starts inside an expiry index key (after kind byte and time). */
export const EXPIRY_TARGET_AT = 9;
