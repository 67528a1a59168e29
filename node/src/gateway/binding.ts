// One app bound on one connection: the delivery state of (connection, app, user).
import type { Client } from './client.js';

export class Binding {
  /** Highest seq the device acked. Invariant: acked <= sent. */
  acked: number;
  /** Highest seq sent (or skipped by a gap) on this connection. Invariant: sent <= lastSeq. */
  sent: number;
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
