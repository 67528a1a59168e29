// Frames for the current socket, written together at the end of the current
// microtask. Acks are cumulative, so a newer ack for an app replaces one still
// waiting: a burst of handled messages becomes one ack frame.
import type { ClientFrame } from './frames.js';

export class Outbox {
  private queue: ClientFrame[] = [];
  private scheduled = false;

  constructor(private readonly write: (frame: ClientFrame) => void) {}

  push(frame: ClientFrame): void {
    if (frame.t === 'ack') {
      const app = frame.app;
      this.queue = this.queue.filter((f) => f.t !== 'ack' || f.app !== app);
    }
    this.queue.push(frame);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Writes what is waiting now, before its socket is closed (the last acks still count). */
  flush(): void {
    this.scheduled = false;
    const frames = this.queue;
    this.queue = [];
    for (const f of frames) this.write(f);
  }
}
