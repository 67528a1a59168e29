// Items gathered over one event-loop turn and handed on together: the peer
// link's frames leave in one write (link-writer.ts), the keeper wire's
// answers in one message (keeper-wire-server.ts). The flush runs from
// setImmediate, after the turn's I/O callbacks and promise jobs, so all of
// them join the batch. The batch is bounded by what feeds it (calls in flight
// on a link or a connection).

export class TurnBatch<T> {
  private items: T[] = [];
  private scheduled = false;
  private closed = false;

  /** `sink` gets one non-empty array per turn. */
  constructor(private readonly sink: (items: T[]) => void) {}

  add(item: T): void {
    if (this.closed) return;
    this.items.push(item);
    this.schedule();
  }

  addAll(items: readonly T[]): void {
    if (this.closed) return;
    for (const i of items) this.items.push(i);
    this.schedule();
  }

  /** Drops what is gathered and ignores later items (their destination is gone). */
  close(): void {
    this.closed = true;
    this.items = [];
  }

  /** Hands on what is gathered now (also what the scheduled flush runs). */
  flushNow(): void {
    this.scheduled = false;
    if (this.closed || this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.sink(items);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(flush, this);
  }
}

// Module-level, so scheduling a flush makes no closure.
function flush(b: { flushNow(): void }): void {
  b.flushNow();
}
