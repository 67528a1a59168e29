// Fans status events out to callbacks and async iterators. Each iterator has
// its own bounded queue, so a consumer that stops reading loses old events
// instead of holding memory; iterators end after the `closed` event.
import type { Status } from './status.js';

/** Events kept per iterator that is not reading; older ones are dropped. */
export const STATUS_QUEUE_MAX = 256;

interface Reader {
  readonly queue: Status[];
  wake: (() => void) | undefined;
}

export class StatusHub {
  private readonly listeners = new Set<(s: Status) => void>();
  private readonly readers = new Set<Reader>();
  private ended = false;

  on(listener: (s: Status) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(status: Status): void {
    if (this.ended) return;
    if (status.type === 'closed') this.ended = true;
    for (const l of [...this.listeners]) l(status);
    for (const r of this.readers) {
      r.queue.push(status);
      if (r.queue.length > STATUS_QUEUE_MAX) r.queue.shift();
      r.wake?.();
    }
  }

  iterate(): AsyncIterable<Status> {
    const hub = this;
    return {
      async *[Symbol.asyncIterator]() {
        const r: Reader = { queue: [], wake: undefined };
        if (hub.ended) return;
        hub.readers.add(r);
        try {
          for (;;) {
            const next = r.queue.shift();
            if (next !== undefined) {
              yield next;
              if (next.type === 'closed') return;
              continue;
            }
            await new Promise<void>((resolve) => (r.wake = resolve));
            r.wake = undefined;
          }
        } finally {
          hub.readers.delete(r);
        }
      },
    };
  }
}
