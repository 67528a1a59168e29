// A clock tests move by hand: timers fire in deadline order as time advances.
import type { Clock } from '../../src/core/clock.js';

interface Timer {
  readonly at: number;
  readonly fn: () => void;
  cancelled: boolean;
}

export class FakeClock implements Clock {
  private nowMs = 0;
  private timers: Timer[] = [];

  now(): number {
    return this.nowMs;
  }

  setTimeout(fn: () => void, ms: number): () => void {
    const t: Timer = { at: this.nowMs + ms, fn, cancelled: false };
    this.timers.push(t);
    return () => {
      t.cancelled = true;
    };
  }

  /** Moves time forward by `ms`, firing every timer that comes due on the way. */
  advance(ms: number): void {
    const end = this.nowMs + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.nowMs = Math.max(this.nowMs, due.at);
      due.cancelled = true;
      due.fn();
    }
    this.nowMs = end;
  }

  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}
