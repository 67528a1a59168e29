// Small statistics over sample arrays (at most a few hundred thousand values).
export function sorted(xs: ArrayLike<number>): Float64Array {
  const a = Float64Array.from(xs);
  a.sort();
  return a;
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(asc: Float64Array, p: number): number {
  if (asc.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * asc.length);
  return asc[Math.min(asc.length - 1, Math.max(0, rank - 1))] ?? NaN;
}

export function median(xs: readonly number[]): number {
  return percentile(sorted(xs), 50);
}

export function min(xs: readonly number[]): number {
  return xs.reduce((a, b) => Math.min(a, b), Infinity);
}
