// One app bound on one connection: the delivery state of (connection, app, user).
import type { Client } from './client.js';
import { TokenBucket } from '../token-bucket.js';

export class Binding {
  /** Highest seq the device acked. Invariant: acked <= sent. */
  acked: number;
  /** Highest seq sent (or skipped by a gap) on this connection. Invariant: sent <= lastSeq. */
  sent: number;
  /** Unix ms when the message `sent` was written (0: none on this connection); for the ack latency metric. */
  sentAtMs = 0;
  /** Newest seq known to be stored in the user's inbox. */
  lastSeq: number;
  /** Newest broadcast-log position sent on this connection. */
  broadcastPos: number;
  /** First unacked seq at bind time and how often it has been sent to this device, for the redelivery limit. */
  pendingSeq = 0;
  pendingSends = 0;
  /** True while a read from the saver is in progress; the pump is single-flight. */
  pumping = false;
  /** True when the cursor changed since it was last written. */
  dirty = false;
  active = true;
  /** False until 'bound' is sent: live messages wait so they never precede it. */
  started = false;

  private upstream: TokenBucket | undefined;
  /** Upstream frames refused in a row; reset by the next admitted one. */
  upstreamStrikes = 0;

  /** Per-connection upstream rate (the app's upstreamPerSecond, 0 = unlimited; burst = one second's worth). */
  admitUpstream(ratePerSecond: number, nowMs: number): boolean {
    if (ratePerSecond <= 0) return true;
    if (this.upstream === undefined) this.upstream = new TokenBucket(ratePerSecond, ratePerSecond, nowMs);
    else this.upstream.configure(ratePerSecond, ratePerSecond);
    if (this.upstream.take(nowMs)) {
      this.upstreamStrikes = 0;
      return true;
    }
    this.upstreamStrikes++;
    return false;
  }

  constructor(
    readonly client: Client,
    readonly app: string,
    readonly user: string,
    acked: number,
    lastSeq: number,
    broadcastPos: number,
  ) {
    this.acked = acked;
    this.sent = acked;
    this.lastSeq = lastSeq;
    this.broadcastPos = broadcastPos;
  }
}
