// The saver owns everything a node stores about delivery: per-user inboxes with
// sequence numbers, per-device cursors, idempotency records, the app broadcast
// log and short topic histories. The implementation is saver-level.ts (LevelDB).
import type { UserMeta } from './drops.js';

/** A JSON value as received from the API. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export type GapReason = 'expired' | 'overflow' | 'redelivery-limit';

export interface StoredMessage {
  readonly seq: number;
  readonly id: string;
  readonly data: Json;
  /** Unix ms when stored. */
  readonly ts: number;
  /** Unix ms after which the message is dropped with a gap 'expired'. */
  readonly expiresAt: number;
}

export interface Gap {
  readonly from: number;
  readonly to: number;
  readonly reason: GapReason;
}

/** One entry of a device's replay, in seq order: a message, or a range the device will never get. */
export type InboxItem = { readonly kind: 'msg'; readonly msg: StoredMessage } | { readonly kind: 'gap'; readonly gap: Gap };

export interface AppendRequest {
  readonly app: string;
  readonly users: readonly string[];
  readonly id: string;
  readonly data: Json;
  readonly ttlMs: number;
  /** Inbox cap: oldest messages past it are dropped (gap reason 'overflow'). */
  readonly maxInbox: number;
  /**
   * If set, the answer (built from the assigned seqs, in the order of `users`)
   * is stored under this key in the same atomic write, kept 10 minutes.
   */
  readonly idempotency?: { readonly key: string; readonly answer: (seqs: readonly number[]) => Json };
}

export interface DeviceCursor {
  /** Last seq the device acked (0: none). Invariant: acked <= lastSeq of the inbox. */
  readonly acked: number;
  /** Seq most recently delivered without an ack, and how many times it was sent. */
  readonly pendingSeq: number;
  readonly pendingSends: number;
  /** Last broadcast-log position this device was sent (0: none). */
  readonly broadcastPos: number;
}

export interface BroadcastRecord {
  readonly pos: number;
  readonly id: string;
  readonly data: Json;
  readonly ts: number;
  readonly expiresAt: number;
}

export interface TopicRecord {
  readonly offset: number;
  readonly data: Json;
  readonly ts: number;
}

/** A stored publish, with the offset of the record stored before it here (0: none), which members use to find a pub they missed. */
export interface PublishedRecord extends TopicRecord {
  readonly prev: number;
}

export interface TopicKey {
  readonly app: string;
  readonly topic: string;
}

/** One user's inbox and device cursors as a drained node hands them to the user's new owner. */
export interface UserHandoff {
  readonly app: string;
  readonly user: string;
  readonly meta: UserMeta;
  /** Stored messages in seq order (expired ones included: the new owner turns them into gaps). */
  readonly messages: readonly StoredMessage[];
  readonly cursors: readonly { readonly device: string; readonly cursor: DeviceCursor }[];
}

/** An idempotency record as handed over: the answer of the old owner's part of a push. */
export interface IdempotencyHandoff {
  readonly app: string;
  readonly key: string;
  readonly answer: Json;
  /** Unix ms when first stored; the record still ends 10 minutes after it. */
  readonly at: number;
}

/** Where an export stopped: the last user returned. */
export interface UserKey {
  readonly app: string;
  readonly user: string;
}

/** append or setCursor on a sealed saver: this node's inboxes belong to other nodes now. */
export class SaverSealedError extends Error {
  constructor() {
    super('this node is handing its inboxes to other nodes (drain): it stores nothing more');
    this.name = 'SaverSealedError';
  }
}

/**
 * append or setCursor for a user sealed here because a join moved it to
 * another node (`mark` names that join), or that `movingOut` says is moving.
 */
export class SaverUserMovedError extends Error {
  constructor(
    readonly app: string,
    readonly user: string,
    readonly mark: string,
  ) {
    super(`the inbox of ${user} of ${app} moved to a joining node: it is stored there now`);
    this.name = 'SaverUserMovedError';
  }
}

/** Counters for metrics: how well group commit batches. */
export interface SaverStats {
  /** LevelDB batches written. */
  readonly batches: number;
  /** Ops (puts and deletes) in those batches. */
  readonly ops: number;
  /** append calls that resolved. */
  readonly appends: number;
}

export interface Saver {
  /**
   * Appends one message to each user's inbox and resolves with the seqs, in the
   * order of `users`, once the write is durable (kill -9 safe; with fsync on,
   * power-loss safe). Concurrent calls share one LevelDB batch (group commit).
   */
  append(req: AppendRequest): Promise<number[]>;
  /**
   * The stored answer for an idempotency key within 10 minutes, else undefined.
   * While an append carrying the key is still being written, waits for it and
   * returns its answer. Two requests that both check before either appends are
   * not caught here: the caller serializes requests per key if that matters.
   */
  idempotent(app: string, key: string): Promise<Json | undefined>;
  /** Highest seq whose append is durable (0 for an empty inbox). */
  lastSeq(app: string, user: string): Promise<number>;
  /**
   * Items after `afterSeq` in seq order, at most `limit` messages; gaps for dropped
   * ranges. Items cover consecutive seqs from `afterSeq + 1` with no hole: every seq
   * is a message or inside a gap. Expired messages not yet swept are gaps too.
   */
  read(app: string, user: string, afterSeq: number, limit: number): Promise<InboxItem[]>;

  cursor(app: string, user: string, device: string): Promise<DeviceCursor | undefined>;
  setCursor(app: string, user: string, device: string, cursor: DeviceCursor): Promise<void>;

  appendBroadcast(app: string, id: string, data: Json, ttlMs: number): Promise<BroadcastRecord>;
  /** Unexpired broadcasts after `afterPos`, oldest first. */
  readBroadcasts(app: string, afterPos: number): Promise<BroadcastRecord[]>;

  /**
   * Stores a publish under `offset` (above the topic's last; by default the
   * next one). Offsets may skip: the cluster reserves them in blocks
   * (topic-offsets.ts), and passes each, since the store forgets a topic
   * whose history expired (sweep): its last is 0 again.
   */
  publish(app: string, topic: string, data: Json, offset?: number): Promise<PublishedRecord>;
  /** The highest offset stored for the topic here (0: none, or its history expired and was swept). */
  topicLast(app: string, topic: string): Promise<number>;
  /** Kept history after `afterOffset` (the last `topicHistoryMax` records, within `topicHistoryMs`). */
  readTopic(app: string, topic: string, afterOffset: number): Promise<TopicRecord[]>;
  /** Up to `limit` topics this store has published under, in key order after `after` (from the first when undefined). */
  listTopics(after: TopicKey | undefined, limit: number): Promise<TopicKey[]>;
  /**
   * Stores a previous owner's history of the topic under its offsets and
   * times (records already expired are skipped; one stored already is
   * written again unchanged), raising the topic's last offset to the highest.
   * Answers how many records it stored.
   */
  importTopic(app: string, topic: string, records: readonly TopicRecord[]): Promise<number>;

  /**
   * Deletes expired messages, idempotency records and history; called periodically.
   * Does bounded work per call (the oldest expiries first), so a backlog takes several calls.
   */
  sweep(nowMs: number): Promise<void>;

  // ---- Handoff (a node being removed hands its inboxes to their new owners;
  // a joining node takes its users' inboxes from their previous owners).

  /**
   * Durably stops this saver from storing: once it resolves, every append
   * queued before it is written and every later append or setCursor rejects
   * with SaverSealedError, so what export reads is final. Sweeps stop too.
   */
  seal(): Promise<void>;
  sealed(): boolean;
  /** Up to `limit` users in key order after `after` (from the first when undefined); users sealed for a join are left out (their inbox lives on the joiner). */
  exportUsers(after: UserKey | undefined, limit: number): Promise<UserHandoff[]>;
  exportUser(app: string, user: string): Promise<UserHandoff>;
  /**
   * Replaces each user's inbox and cursors with the handed-over ones and marks
   * them with `mark`, in one durable write; a user already carrying `mark` is
   * left as it is (a repeated handoff). Answers how many users (and their
   * messages) were replaced.
   */
  importUsers(mark: string, users: readonly UserHandoff[]): Promise<{ users: number; messages: number }>;
  /** The handoff mark of the user's inbox, if it was handed over. */
  handoffMark(app: string, user: string): Promise<string | undefined>;
  /**
   * Seals each user for the join `mark` (durably; resolves once every write
   * queued before it is in the store): later appends and cursor writes for
   * them reject with SaverUserMovedError, so an export after it is final.
   * With no users it is a barrier: every write queued before it is stored.
   */
  sealUsers(mark: string, users: readonly UserKey[]): Promise<void>;
  /** The join mark a user is sealed under here, if any. */
  movedOut(app: string, user: string): Promise<string | undefined>;
  /** Lifts the seal of a join that ended without the user (its joiner removed by force). */
  liftSeal(app: string, user: string, mark: string): Promise<void>;
  /**
   * Consulted inside the step that gives out a seq or stores a cursor: a
   * mark when a join in progress is moving the user away from this node
   * (refused like a sealed user, before any export could miss the write).
   */
  setMovingOut(check: ((app: string, user: string) => string | undefined) | undefined): void;
  /** Up to `limit` users (those with an inbox record) in key order after `after`. */
  listUsers(after: UserKey | undefined, limit: number): Promise<UserKey[]>;
  /** The idempotency record of `key`, expired or not, for a new owner asking ahead of the batches; undefined if none. */
  exportIdempotencyRecord(app: string, key: string): Promise<IdempotencyHandoff | undefined>;
  /** Idempotency records (expired ones not yet swept included) in key order, up to `limit`, after `after` (from the first when undefined). */
  exportIdempotency(after: { app: string; key: string } | undefined, limit: number): Promise<IdempotencyHandoff[]>;
  /** Stores handed-over records; one that exists already gets the union of both answers' results. */
  importIdempotency(records: readonly IdempotencyHandoff[]): Promise<void>;
  close(): Promise<void>;
  /** Optional: counters for metrics. */
  stats?(): SaverStats;
}
