// Coalesced writes for the peer link: frames written during one event-loop
// turn (every call a burst of pushes makes, every answer a batch of finished
// handlers gives) leave in one write — one syscall, one TLS record run —
// instead of one per frame (turn-batch.ts). The queue is bounded by what
// feeds it: callers' in-flight bytes (PeerLimits) and the server's executing
// calls per link.
import { TurnBatch } from '../turn-batch.js';

export class LinkWriter extends TurnBatch<Buffer> {
  /** `sink` gets one buffer per turn; it is the socket's write. */
  constructor(sink: (bytes: Buffer) => void) {
    super((parts) => sink(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)));
  }

  write(parts: readonly Buffer[]): void {
    this.addAll(parts);
  }
}
