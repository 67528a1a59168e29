// Online/offline events of users, batched per app by count and by time to the
// app's statusCallback, signed like webhooks, retried with backoff while the
// callback is down. The buffer per app is bounded (statusBufferMax): past it
// the oldest events are dropped, counted, and the next delivered batch says
// how many with `dropped`, so the backend knows to resync from the user route.
import type { AppRegistry } from './apps.js';
import type { Metrics } from './metrics.js';
import type { StatusSettings } from './settings.js';
import { backoffMs, postSigned } from './webhook-signer.js';

export interface StatusEvent {
  readonly user: string;
  readonly device: string;
  readonly session: string;
  readonly online: boolean;
  /** Increases per user, so a backend can order events that arrive out of order. */
  readonly version: number;
  readonly ts: number;
}

const CALLBACK_TIMEOUT_MS = 5000;
const RETRY_BASE_MS = 250;
const RETRY_MAX_MS = 30_000;
/** Per-user version entries older than this are forgotten; the clock then keeps versions increasing. */
const VERSION_KEEP_MS = 60_000;

interface AppBuffer {
  events: StatusEvent[];
  dropped: number;
  timer: NodeJS.Timeout | undefined;
  sending: boolean;
  attempt: number;
}

export class StatusCallbacks {
  private readonly buffers = new Map<string, AppBuffer>();
  private readonly versions = new Map<string, { version: number; atMs: number }>();
  private closed = false;

  constructor(
    private readonly apps: AppRegistry,
    private readonly settings: StatusSettings,
    private readonly metrics: Metrics,
    private readonly now: () => number,
  ) {}

  /**
   * A version from the clock in microseconds, bumped past the user's last one:
   * it increases per user on this node even when events share a millisecond.
   */
  private nextVersion(app: string, user: string, nowMs: number): number {
    const key = `${app}\u0000${user}`;
    const prev = this.versions.get(key);
    const version = Math.max(nowMs * 1000, (prev?.version ?? 0) + 1);
    this.versions.set(key, { version, atMs: nowMs });
    if (this.versions.size > 100_000) {
      for (const [k, v] of this.versions) if (nowMs - v.atMs > VERSION_KEEP_MS) this.versions.delete(k);
    }
    return version;
  }

  emit(app: string, e: { user: string; device: string; session: string; online: boolean }): void {
    if (this.closed || this.apps.get(app)?.statusCallback === undefined) return;
    const ts = this.now();
    let b = this.buffers.get(app);
    if (b === undefined) this.buffers.set(app, (b = { events: [], dropped: 0, timer: undefined, sending: false, attempt: 0 }));
    b.events.push({ ...e, version: this.nextVersion(app, e.user, ts), ts });
    if (b.events.length > this.settings.statusBufferMax) {
      b.events.shift();
      b.dropped++;
      this.metrics.statusDropped.inc();
    }
    if (b.events.length >= this.settings.statusBatchMax) this.flushSoon(app, b, 0);
    else if (b.timer === undefined && !b.sending) this.flushSoon(app, b, this.settings.statusBatchMs);
  }

  private flushSoon(app: string, b: AppBuffer, delayMs: number): void {
    if (b.sending) return;
    if (b.timer !== undefined) clearTimeout(b.timer);
    b.timer = setTimeout(() => {
      b.timer = undefined;
      void this.flush(app, b);
    }, delayMs);
  }

  private async flush(app: string, b: AppBuffer): Promise<void> {
    const config = this.apps.get(app);
    if (config?.statusCallback === undefined || b.events.length === 0) {
      if (config?.statusCallback === undefined) this.buffers.delete(app);
      return;
    }
    b.sending = true;
    const batch = b.events.slice(0, this.settings.statusBatchMax);
    const dropped = b.dropped;
    const body = JSON.stringify({ app, events: batch, ...(dropped > 0 ? { dropped } : {}) });
    const r = await postSigned(config.statusCallback, config.apiKey, body, CALLBACK_TIMEOUT_MS, this.now());
    b.sending = false;
    if (r.kind === 'ok') {
      this.metrics.statusCalls.labels('ok').inc();
      // Overflow while the batch was in flight shifted events off the front;
      // those that were in this batch were delivered after all, not dropped.
      const shifted = Math.min(b.dropped - dropped, batch.length);
      b.events.splice(0, batch.length - shifted);
      b.dropped -= dropped + shifted;
      b.attempt = 0;
      if (b.events.length > 0) this.flushSoon(app, b, b.events.length >= this.settings.statusBatchMax ? 0 : this.settings.statusBatchMs);
      return;
    }
    this.metrics.statusCalls.labels('error').inc();
    if (this.closed) return;
    b.attempt++;
    this.flushSoon(app, b, RETRY_BASE_MS + backoffMs(b.attempt, RETRY_BASE_MS, RETRY_MAX_MS));
  }

  close(): void {
    this.closed = true;
    for (const b of this.buffers.values()) if (b.timer !== undefined) clearTimeout(b.timer);
  }
}
