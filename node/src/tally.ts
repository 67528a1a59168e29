// A count bumped on a hot path (every frame in or out): a plain number, added
// to its prom-client counter when that counter is collected (a scrape, the
// admin stats). prom-client's inc() allocates two objects per call.
import type { Counter } from 'prom-client';

export class Tally {
  private pending = 0;

  add(n = 1): void {
    this.pending += n;
  }

  /** Moves the pending count into `counter`; called from the counter's collect(). */
  flushInto(counter: Counter): void {
    if (this.pending === 0) return;
    counter.inc(this.pending);
    this.pending = 0;
  }
}
