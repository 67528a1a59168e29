// Coalesced writes for the peer link: frames written during one event-loop
// turn (every call a burst of pushes makes, every answer a batch of finished
// handlers gives) leave in one write — one syscall, one TLS record run —
// instead of one per frame. The flush runs from setImmediate, after the
// turn's I/O callbacks and promise jobs, so all of them join the batch.
// The queue is bounded by what feeds it: callers' in-flight bytes
// (PeerLimits) and the server's executing calls per link.

export class LinkWriter {
  private parts: Buffer[] = [];
  private scheduled = false;
  private closed = false;

  /** `sink` gets one buffer per turn; it is the socket's write. */
  constructor(private readonly sink: (bytes: Buffer) => void) {}

  write(parts: readonly Buffer[]): void {
    if (this.closed) return;
    for (const p of parts) this.parts.push(p);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(flush, this);
    }
  }

  /** Drops what is queued and ignores later writes (the socket is gone). */
  close(): void {
    this.closed = true;
    this.parts = [];
  }

  /** @internal */
  flushNow(): void {
    this.scheduled = false;
    if (this.closed || this.parts.length === 0) return;
    const parts = this.parts;
    this.parts = [];
    this.sink(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts));
  }
}

// Module-level, so scheduling a flush makes no closure.
function flush(w: LinkWriter): void {
  w.flushNow();
}
