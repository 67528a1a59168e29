// Counts the calls that complete inside the measured window [from, to] (on
// performance.now()): ok ones with their round trip, failed ones by error code.
// Completions during warmup or the drain after the window are not counted.
import { Histogram } from './histogram.js';

export class Meter {
  readonly latency = new Histogram();
  ok = 0;
  readonly errors: Record<string, number> = {};
  from = Infinity;
  to = Infinity;

  setWindow(from: number, to: number): void {
    this.from = from;
    this.to = to;
  }

  /** `error` undefined means the call succeeded. */
  done(sentAt: number, now: number, error?: string): void {
    if (now < this.from || now > this.to) return;
    if (error === undefined) {
      this.ok++;
      this.latency.record(now - sentAt);
    } else {
      this.errors[error] = (this.errors[error] ?? 0) + 1;
    }
  }

  get windowMs(): number {
    return this.to - this.from;
  }
}
