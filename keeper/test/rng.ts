// A seeded PRNG for the randomized tests (mulberry32): a failing run prints
// its seed, and SEED=<n> replays it.

export class Rng {
  private s: number;
  constructor(readonly seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    const x = xs[this.int(xs.length)];
    if (x === undefined) throw new Error('pick from empty list');
    return x;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Seeds for a randomized test: SEED=<n> runs just that one, otherwise `count` fixed ones. */
export function seeds(count: number): number[] {
  const fixed = process.env['SEED'];
  if (fixed !== undefined) return [Number(fixed)];
  return Array.from({ length: count }, (_, i) => 1000 + i);
}
