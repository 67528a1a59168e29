// Push and kick: the node-local paths behind the service API (topics: cluster-topics.ts).
import { randomUUID } from 'node:crypto';
import type { AppConfig } from './apps.js';
import type { Delivery } from './delivery.js';
import type { Hub } from './hub.js';
import { SaverSealedError, SaverUserMovedError, type Json, type Saver } from './saver/saver.js';
import { ApiError } from './center/errors.js';
import { SharedFrame } from './protocol/codec.js';

export interface PushRequest {
  readonly users: readonly string[];
  readonly data: Json;
  readonly qos: 0 | 1;
  readonly ttlSeconds: number | undefined;
  readonly id: string | undefined;
  /** The message id when a peer forwarded part of a request (every owner uses the same); else the idempotency key or a new one. */
  readonly messageId?: string | undefined;
}

export type PushResult =
  | { readonly user: string; readonly seq: number }
  /** qos 0: how many connections of the user it was written to. */
  | { readonly user: string; readonly delivered: number };

export interface PushAnswer {
  readonly id: string;
  readonly results: readonly PushResult[];
}

/** What the owner needs from the nodes that hold its users' other connections. */
export interface RemoteHolders {
  /** A qos 1 message was stored: tell the holding nodes (fire and forget; they also poll). */
  stored(app: string, results: readonly { user: string; seq: number }[], m: { id: string; data: Json; ts: number; expiresAt: number }): void;
  /** A qos 0 message: written by the holding nodes to their connections now; answers how many per user. */
  volatile(app: string, users: readonly string[], m: VolatileMessage): Promise<Map<string, number>>;
}

export interface VolatileMessage {
  readonly id: string;
  readonly data: Json;
  readonly ts: number;
}

/** Writes a qos 0 message to the users' connections on this node; answers how many per user. */
export function writeVolatile(hub: Hub, app: string, users: readonly string[], m: VolatileMessage): Map<string, number> {
  const frame = new SharedFrame({ t: 'msg', app, id: m.id, data: m.data, ts: m.ts, qos: 0 });
  const counts = new Map<string, number>();
  for (const user of users) {
    let delivered = 0;
    for (const b of hub.bindingsOf(app, user)) {
      b.client.writeShared(frame);
      delivered++;
    }
    counts.set(user, delivered);
  }
  return counts;
}

export class Pusher {
  /** Pushes with an idempotency key still being stored: a concurrent repeat waits for the first. */
  private readonly inflight = new Map<string, Promise<PushAnswer>>();

  constructor(
    private readonly saver: Saver,
    private readonly delivery: Delivery,
    private readonly hub: Hub,
    private readonly now: () => number,
    /** Other nodes holding connections of these users (cross-node delivery); none on a node alone. */
    private readonly remote?: RemoteHolders,
    /** Holds a store until the users are owned here with their inboxes here (handoff-gate.ts). */
    private readonly gate?: {
      admit(app: string, users: readonly string[]): Promise<void>;
      recall(app: string, users: readonly string[], key: string): Promise<boolean>;
      settle(err: SaverUserMovedError): Promise<void>;
    },
  ) {}

  async push(app: AppConfig, req: PushRequest): Promise<PushAnswer> {
    const users = [...new Set(req.users)];
    if (req.qos === 0) return this.pushVolatile(app.app, users, req);
    if (req.id === undefined) return this.store(app, users, req, undefined);
    const key = `${app.app}\u0000${req.id}`;
    const pending = this.inflight.get(key);
    if (pending !== undefined) return pending;
    const p = (async () => {
      const id = req.id ?? '';
      // The saver keeps answers as stored JSON; this is the shape store() built.
      let earlier = (await this.saver.idempotent(app.app, id)) as PushAnswer | undefined;
      // A user moving here: the earlier push may be on its previous owner, its record not handed over yet.
      if (earlier === undefined && (await this.gate?.recall(app.app, users, id)) === true) earlier = (await this.saver.idempotent(app.app, id)) as PushAnswer | undefined;
      return earlier ?? this.store(app, users, req, req.id);
    })();
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(key);
    }
  }

  private async store(app: AppConfig, users: readonly string[], req: PushRequest, idemKey: string | undefined): Promise<PushAnswer> {
    const id = req.messageId ?? req.id ?? randomUUID();
    const ttlMs = (req.ttlSeconds ?? app.limits.defaultTtl) * 1000;
    const ts = this.now();
    // The answer is stored with the messages, atomically, so a retry after a
    // crash finds both or neither.
    const answer = (seqs: readonly number[]): Json => ({ id, results: users.map((user, i) => ({ user, seq: seqs[i] ?? 0 })) });
    await this.gate?.admit(app.app, users);
    const seqs = await this.saver
      .append({
      app: app.app,
      users,
      id,
      data: req.data,
      ttlMs,
      maxInbox: app.limits.maxInbox,
      ...(idemKey === undefined ? {} : { idempotency: { key: idemKey, answer } }),
      })
      .catch(async (err: unknown) => {
        // This node is being drained and a caller still had it as the owner.
        if (err instanceof SaverSealedError) throw new ApiError('notReady', `${err.message}; retry`, { headers: { 'retry-after': '1' }, cause: err });
        if (err instanceof SaverUserMovedError) {
          // A join moved the user away (a caller with an older ring), or ended without it: then the retry goes through.
          await this.gate?.settle(err).catch(() => undefined);
          throw new ApiError('notReady', `${err.message}; retry`, { headers: { 'retry-after': '1' }, cause: err });
        }
        throw err;
      });
    const results = users.map((user, i) => ({ user, seq: seqs[i] ?? 0 }));
    for (const r of results) {
      this.delivery.stored(app.app, r.user, { seq: r.seq, id, data: req.data, ts, expiresAt: ts + ttlMs });
    }
    this.remote?.stored(app.app, results, { id, data: req.data, ts, expiresAt: ts + ttlMs });
    return { id, results };
  }

  private async pushVolatile(app: string, users: readonly string[], req: PushRequest): Promise<PushAnswer> {
    const id = req.messageId ?? req.id ?? randomUUID();
    const ts = this.now();
    const local = writeVolatile(this.hub, app, users, { id, data: req.data, ts });
    const remote = this.remote === undefined ? undefined : await this.remote.volatile(app, users, { id, data: req.data, ts });
    const results = users.map((user) => ({ user, delivered: (local.get(user) ?? 0) + (remote?.get(user) ?? 0) }));
    return { id, results };
  }

  /** Kicks the user's connections on this node, or only those of one device or session. */
  async kick(app: string, user: string, reason: string, only: { device?: string; session?: string }): Promise<number> {
    // A connection already closing (its bindings are released just after) is not counted again.
    const bs = [...this.hub.bindingsOf(app, user)].filter(
      (b) =>
        b.client.state !== 'closed' &&
        (only.device === undefined || b.client.device === only.device) &&
        (only.session === undefined || b.client.session === only.session),
    );
    await Promise.all(bs.map((b) => b.client.kick(app, reason)));
    return bs.length;
  }
}
