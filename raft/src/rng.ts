import { assert } from './assert.js';

/**
 * The only source of randomness the core uses (for randomized election
 * timeouts). Injected so that a seed replays a run exactly.
 */
export interface Rng {
  /** A uniform integer in [0, n). Invariant: n is a positive safe integer. */
  intn(n: number): number;
}

/** sfc32, a small fast counter-based generator seeded from one 32-bit integer. */
export class SeededRng implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), `seed must be a safe integer, got ${seed}`);
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = (seed ^ Math.floor(seed / 0x100000000)) >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    this.d >>>= 0;
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  intn(n: number): number {
    assert(Number.isSafeInteger(n) && n > 0, `intn bound must be positive, got ${n}`);
    return Math.floor((this.next() / 0x100000000) * n);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next() / 0x100000000;
  }
}
