// Delivery of stored (qos 1) messages to bound devices: replay from the
// device's cursor on bind, live sends as messages are stored, cumulative acks,
// and the redelivery limit. Each binding has at most inflightMsgsMax unacked
// messages on the wire; past that delivery waits for acks (flow control).
import type { Saver, StoredMessage } from './saver/saver.js';
import type { Hub } from './hub.js';
import { Binding } from './gateway/binding.js';
import type { Client } from './gateway/client.js';
import type { DeviceCursor } from './saver/saver.js';
import type { AppRegistry } from './apps.js';
import { DEFAULT_LIMITS } from './apps.js';
import type { CursorWrite, Inbox, InboxKey } from './inbox.js';
import { PeerError } from './peer/errors.js';

/** Where a user's inbox and cursors live: this node's saver, or the owner's over peer RPC. */
export interface InboxResolver {
  of(app: string, user: string): Inbox;
  isLocal(app: string, user: string): boolean;
  /** Newest seqs of remote inboxes (undefined: local, or no answer), batched per owner. */
  lastSeqs(keys: readonly InboxKey[]): Promise<(number | undefined)[]>;
  /** Writes cursors, batched per owner; rejects once all settled if any failed. */
  setCursors(writes: readonly CursorWrite[]): Promise<void>;
}

/** Messages read from the saver per pump step. */
const READ_BATCH_MSGS = 128;
/** How often changed cursors are written. Losing them only causes redelivery. */
export const CURSOR_FLUSH_MS = 200;
/**
 * How often the bindings whose inbox is on another node ask the owners for
 * their newest seqs (one batched call per owner). The owner tells holding
 * nodes of each stored message, but it finds them in the register, which can
 * lag a fresh bind: this bounds the delay of a message missed that way.
 */
export const REMOTE_POLL_MS = 1000;

export class Delivery {
  private readonly dirty = new Set<Binding>();
  private readonly timer: NodeJS.Timeout;
  /** Started bindings whose inbox is on another node, polled every REMOTE_POLL_MS. */
  private readonly remote = new Set<Binding>();
  private pollingRound = false;
  /** Broadcast-log positions of remote bindings' cursors, as the owner keeps them. */
  private readonly ownerBroadcastPos = new WeakMap<Binding, number>();
  private readonly poller: NodeJS.Timeout;

  constructor(
    private readonly saver: Saver,
    private readonly hub: Hub,
    private readonly apps: AppRegistry,
    /** Live setting: read on each use. */
    private readonly inflightMax: () => number,
    private readonly onError: (err: unknown) => void,
    private readonly inboxes: InboxResolver = {
      of: () => saver,
      isLocal: () => true,
      lastSeqs: async (keys) => keys.map(() => undefined),
      setCursors: async (writes) => {
        await Promise.all(writes.map((w) => saver.setCursor(w.app, w.user, w.device, w.cursor)));
      },
    },
  ) {
    this.timer = setInterval(() => void this.flushCursors(), CURSOR_FLUSH_MS);
    this.timer.unref();
    this.poller = setInterval(() => this.pollRemote(), REMOTE_POLL_MS);
    this.poller.unref();
  }

  /** One round at a time: every remote binding's newest seq, in one peer call per owner. */
  private pollRemote(): void {
    if (this.pollingRound || this.remote.size === 0) return;
    const bs = [...this.remote].filter((b) => b.active);
    this.pollingRound = true;
    this.inboxes
      .lastSeqs(bs.map((b) => ({ app: b.app, user: b.user })))
      .then((seqs) => {
        for (const [i, b] of bs.entries()) {
          const last = seqs[i];
          if (last !== undefined && last > b.lastSeq) b.lastSeq = last;
          if (b.active && b.sent < b.lastSeq) void this.pump(b);
        }
      })
      .catch((err: unknown) => this.onError(err))
      .finally(() => (this.pollingRound = false));
  }

  /** Reads the device's cursor and the inbox tail; `after` from the client overrides the stored cursor. */
  async open(client: Client, app: string, user: string, after: number | undefined): Promise<{ binding: Binding; stored: DeviceCursor | undefined }> {
    const inbox = this.inboxes.of(app, user);
    const [stored, lastSeq] = await Promise.all([inbox.cursor(app, user, client.device), inbox.lastSeq(app, user)]);
    const acked = Math.min(after ?? stored?.acked ?? 0, lastSeq);
    if (this.inboxes.isLocal(app, user)) return { binding: new Binding(client, app, user, acked, lastSeq, stored?.broadcastPos ?? 0), stored };
    // A cursor's broadcast position counts in the owner's broadcast log, not in
    // this node's: here the whole unexpired log is replayed (the client drops
    // repeats by id), and the owner's position is written back unchanged.
    const binding = new Binding(client, app, user, acked, lastSeq, 0);
    this.ownerBroadcastPos.set(binding, stored?.broadcastPos ?? 0);
    return { binding, stored };
  }

  /**
   * Starts delivery on a binding: applies the redelivery limit to the first
   * unacked message, then replays the inbox and the broadcast log.
   */
  async start(b: Binding, stored: DeviceCursor | undefined): Promise<void> {
    const app = b.app;
    const maxRedeliveries = this.apps.get(app)?.limits.maxRedeliveries ?? DEFAULT_LIMITS.maxRedeliveries;
    if (b.acked < b.lastSeq) {
      const next = b.acked + 1;
      const sends = stored !== undefined && stored.pendingSeq === next ? stored.pendingSends : 0;
      if (sends >= maxRedeliveries) {
        // A device that never acks this message would loop on it forever.
        b.client.send({ t: 'gap', app, from: next, to: next, reason: 'redelivery-limit' });
        b.client.ctx.metrics.gaps.labels('redelivery-limit').inc();
        b.acked = next;
        b.sent = next;
        await this.writeCursor(b);
      } else {
        b.pendingSeq = next;
        b.pendingSends = sends + 1;
        await this.writeCursor(b);
      }
    }
    // A message stored between open() and now reached no binding: pick it up here.
    b.lastSeq = Math.max(b.lastSeq, await this.inboxes.of(app, b.user).lastSeq(app, b.user));
    b.started = true;
    if (!this.inboxes.isLocal(app, b.user) && b.active) this.remote.add(b);
    await this.pump(b);
    await this.replayBroadcasts(b);
  }

  private async replayBroadcasts(b: Binding): Promise<void> {
    const records = await this.saver.readBroadcasts(b.app, b.broadcastPos);
    for (const r of records) {
      if (!b.active) return;
      b.client.send({ t: 'msg', app: b.app, id: r.id, data: r.data, ts: r.ts, qos: 0 });
      b.broadcastPos = r.pos;
      this.markDirty(b);
    }
  }

  /** Sends stored messages after b.sent while the in-flight window allows. Single-flight per binding. */
  async pump(b: Binding): Promise<void> {
    if (b.pumping) return;
    b.pumping = true;
    try {
      while (b.active && b.sent < b.lastSeq && b.sent - b.acked < this.inflightMax()) {
        const room = this.inflightMax() - (b.sent - b.acked);
        const items = await this.inboxes.of(b.app, b.user).read(b.app, b.user, b.sent, Math.min(room, READ_BATCH_MSGS));
        if (!b.active) return;
        // Nothing readable yet: the newest seq is assigned but its write is not durable; stored() pumps again.
        if (items.length === 0) break;
        for (const it of items) {
          if (it.kind === 'msg') {
            if (it.msg.seq <= b.sent) continue;
            this.sendMsg(b, it.msg, false);
          } else {
            if (it.gap.to <= b.sent) continue;
            b.client.send({ t: 'gap', app: b.app, from: Math.max(it.gap.from, b.sent + 1), to: it.gap.to, reason: it.gap.reason });
            b.client.ctx.metrics.gaps.labels(it.gap.reason).inc();
            b.sent = it.gap.to;
          }
        }
      }
    } catch (err) {
      this.onError(err);
    } finally {
      b.pumping = false;
    }
  }

  private sendMsg(b: Binding, m: StoredMessage, live: boolean): void {
    b.client.send({ t: 'msg', app: b.app, seq: m.seq, id: m.id, data: m.data, ts: m.ts, qos: 1 });
    b.sent = m.seq;
    const ctx = b.client.ctx;
    const now = ctx.now();
    b.sentAtMs = now;
    (live ? ctx.metrics.deliveryLive : ctx.metrics.deliveryStore).observe(Math.max(0, now - m.ts) / 1000);
  }

  /** A message was durably stored: send it to the user's local connections in order. */
  stored(app: string, user: string, m: StoredMessage): void {
    for (const b of this.hub.bindingsOf(app, user)) {
      if (m.seq > b.lastSeq) b.lastSeq = m.seq;
      if (!b.started) continue;
      if (!b.pumping && b.sent === m.seq - 1 && b.sent - b.acked < this.inflightMax()) {
        this.sendMsg(b, m, true);
      } else {
        void this.pump(b);
      }
    }
  }

  /** Cumulative ack. Returns false for a seq this connection was never sent. */
  ack(b: Binding, seq: number): boolean {
    if (seq > b.sent) return false;
    if (seq <= b.acked) return true;
    // Sampled: only an ack that covers the newest message sent has a known send time.
    if (seq === b.sent && b.sentAtMs > 0) b.client.ctx.metrics.ackLatency.observe(Math.max(0, b.client.ctx.now() - b.sentAtMs) / 1000);
    b.acked = seq;
    this.markDirty(b);
    if (b.sent < b.lastSeq) void this.pump(b);
    return true;
  }

  /**
   * A broadcast was written to this binding. The position is written with the
   * cursor when the binding stops, not per broadcast: a fan-out to every
   * connection must not cost a store write per connection.
   */
  noteBroadcast(b: Binding, pos: number): void {
    b.broadcastPos = pos;
    b.dirty = true;
  }

  private markDirty(b: Binding): void {
    b.dirty = true;
    this.dirty.add(b);
  }

  /** Stops delivery on a binding and writes its cursor. */
  async stop(b: Binding): Promise<void> {
    b.active = false;
    this.dirty.delete(b);
    this.remote.delete(b);
    if (!b.dirty) return;
    try {
      await this.writeCursor(b);
    } catch (err) {
      // An owner out of reach must not keep the binding's session in the
      // register: the lost cursor write only means redelivery.
      if (!(err instanceof PeerError)) throw err;
      this.onError(err);
    }
  }

  /** The binding's cursor as it is to be written; clears its dirty mark. */
  private cursorWrite(b: Binding): CursorWrite {
    b.dirty = false;
    const pending = b.pendingSeq > b.acked;
    const cursor = {
      acked: b.acked,
      pendingSeq: pending ? b.pendingSeq : 0,
      pendingSends: pending ? b.pendingSends : 0,
      broadcastPos: this.ownerBroadcastPos.get(b) ?? b.broadcastPos,
    };
    return { app: b.app, user: b.user, device: b.client.device, cursor };
  }

  private async writeCursor(b: Binding): Promise<void> {
    const w = this.cursorWrite(b);
    await this.inboxes.of(w.app, w.user).setCursor(w.app, w.user, w.device, w.cursor);
  }

  /** Writes every changed cursor: one saver write each here, one peer call per owner for the rest. */
  async flushCursors(): Promise<void> {
    const batch = [...this.dirty];
    this.dirty.clear();
    try {
      await this.inboxes.setCursors(batch.map((b) => this.cursorWrite(b)));
    } catch (err) {
      this.onError(err);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.poller);
    await this.flushCursors();
  }
}
