// A set of topic keys summed up in a few numbers, so that a member and a
// topic owner can check in one small call that the owner's copy of the
// member's interest (topic-audience.ts) is the member's (topic-interest.ts):
// the count and two 32-bit sums of the keys' hashes, one by xor and one by
// addition, each updated in O(1) as keys come and go, whatever their order.

/** The summary as it travels. */
export interface DigestValue {
  readonly count: number;
  readonly x: number;
  readonly s: number;
}

/** FNV-1a over the key's UTF-16 units, from `basis`. */
function fnv(key: string, basis: number): number {
  let h = basis;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const BASIS_X = 0x811c9dc5;
const BASIS_S = 0x050c5d1f;

export class InterestDigest {
  private count = 0;
  private x = 0;
  private s = 0;

  add(key: string): void {
    this.count++;
    this.x = (this.x ^ fnv(key, BASIS_X)) >>> 0;
    this.s = (this.s + fnv(key, BASIS_S)) >>> 0;
  }

  remove(key: string): void {
    this.count--;
    this.x = (this.x ^ fnv(key, BASIS_X)) >>> 0;
    this.s = (this.s - fnv(key, BASIS_S)) >>> 0;
  }

  value(): DigestValue {
    return { count: this.count, x: this.x, s: this.s };
  }

  matches(v: DigestValue): boolean {
    return v.count === this.count && v.x === this.x && v.s === this.s;
  }
}
