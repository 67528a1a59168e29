// A latency histogram with log-spaced buckets (1 % wide, 1 µs to ~2 min):
// constant memory however many samples, and histograms of several rounds or
// generator processes merge by adding counts. Percentiles are accurate to the
// bucket width (about 1 %).
const GROWTH = 1.01;
const MIN_US = 1;
const LOG_GROWTH = Math.log(GROWTH);
export const BUCKETS = Math.ceil(Math.log(120_000_000 / MIN_US) / LOG_GROWTH) + 1;

export class Histogram {
  readonly counts: number[];
  total = 0;
  sumMs = 0;
  maxMs = 0;

  constructor(counts?: readonly number[]) {
    this.counts = counts === undefined ? new Array<number>(BUCKETS).fill(0) : [...counts];
    if (this.counts.length !== BUCKETS) throw new Error(`histogram needs ${BUCKETS} buckets, got ${this.counts.length}`);
    for (const c of this.counts) this.total += c;
  }

  record(ms: number): void {
    const us = Math.max(MIN_US, ms * 1000);
    const i = Math.min(BUCKETS - 1, Math.floor(Math.log(us / MIN_US) / LOG_GROWTH));
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.total++;
    this.sumMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  add(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] = (this.counts[i] ?? 0) + (other.counts[i] ?? 0);
    this.total += other.total;
    this.sumMs += other.sumMs;
    this.maxMs = Math.max(this.maxMs, other.maxMs);
  }

  /** Nearest-rank percentile in ms (the bucket's geometric middle); NaN when empty. */
  percentile(p: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return Math.min(this.maxMs, (MIN_US * GROWTH ** (i + 0.5)) / 1000);
    }
    return this.maxMs;
  }

  toJSON(): HistogramJson {
    return { counts: this.counts, sumMs: this.sumMs, maxMs: this.maxMs };
  }

  static fromJSON(j: HistogramJson): Histogram {
    const h = new Histogram(j.counts);
    h.sumMs = j.sumMs;
    h.maxMs = j.maxMs;
    return h;
  }
}

export interface HistogramJson {
  readonly counts: readonly number[];
  readonly sumMs: number;
  readonly maxMs: number;
}
