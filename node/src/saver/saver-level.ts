// The saver on LevelDB: durable inboxes, device cursors, idempotency records,
// the app broadcast log and topic histories, in one store per node.
//
// Values are JSON text (valueEncoding 'utf8'). Message data arrives as JSON
// from the API and leaves as JSON or MessagePack frames, and the Json type
// round-trips through JSON exactly; MessagePack would need pinned options to
// round-trip objects (maps decode as Map without mapsAsObjects), 64-bit ints
// (BigInt) and floats, for a size gain that does not matter here.
//
// Every write goes through one GroupCommit queue, and every change to in-memory
// counters (seqs, offsets, positions, drop ranges) happens in one FIFO `serial`
// step that also queues the matching writes, so memory and the store change in
// the same order.
import { Level } from 'level';
import {
  SaverSealedError,
  SaverUserMovedError,
  type AppendRequest,
  type BroadcastRecord,
  type DeviceCursor,
  type Gap,
  type IdempotencyHandoff,
  type InboxItem,
  type Json,
  type Saver,
  type SaverStats,
  type StoredMessage,
  type PublishedRecord,
  type TopicKey,
  type TopicRecord,
  type UserHandoff,
  type UserKey,
} from './saver.js';
import { addDrop, cloneMeta, dropOverflow, emptyMeta, gapsAfter, isDropped, type UserMeta } from './drops.js';
import { GroupCommit, type Op } from './group-commit.js';
import { RefCache, type CacheEntry } from './ref-cache.js';
import {
  EXPIRY_TARGET_AT,
  KIND_BROADCAST,
  KIND_BROADCAST_META,
  KIND_CURSOR,
  KIND_EXPIRY,
  KIND_IDEMPOTENCY,
  KIND_MESSAGE,
  KIND_SEALED,
  KIND_TOPIC,
  KIND_TOPIC_META,
  KIND_USER,
  KeyReader,
  checkApp,
  checkId,
  encodeKey,
  encodeU64,
  expiryKey,
  prefixRange,
} from './keys.js';

export const DEFAULT_TOPIC_HISTORY_MAX = 100;
export const DEFAULT_TOPIC_HISTORY_MS = 5 * 60_000;
export const IDEMPOTENCY_MS = 10 * 60_000;
/** Ops per LevelDB batch before a new batch starts (bounds one write's size and latency). */
export const DEFAULT_GROUP_COMMIT_OPS_MAX = 10_000;
/** Per-user inbox records (and, separately, topic offsets) kept in memory while idle; busy ones are never evicted. */
export const DEFAULT_CACHE_ENTRIES_MAX = 100_000;
/** Expiry index entries one sweep call handles by default. */
export const DEFAULT_SWEEP_ENTRIES_MAX = 1_000;
/** Messages fetched from LevelDB per iterator step in read. */
const READ_CHUNK_MAX = 256;
/** The first chunk of a range read (see readValues). */
const SCAN_CHUNK_MIN = 16;

export interface SaverOptions {
  /** LevelDB directory; created if missing. */
  readonly dir: string;
  /** Fsync every batch that holds an append, broadcast or publish (power-loss safe). */
  readonly fsync: boolean;
  /** Clock for message timestamps and expiry checks (tests inject one). */
  readonly now?: () => number;
  /** Topic records kept per topic. */
  readonly topicHistoryMax?: number;
  /** How long a topic record is kept. */
  readonly topicHistoryMs?: number;
  /** How long an idempotency answer is kept. */
  readonly idempotencyMs?: number;
  /** Ops per LevelDB batch before the next batch starts. */
  readonly groupCommitOpsMax?: number;
  /** Idle user records, and idle topic/broadcast counters, kept in memory. */
  readonly cacheEntriesMax?: number;
  /** Expiry index entries one sweep call handles. */
  readonly sweepEntriesMax?: number;
}

export async function openSaver(opts: SaverOptions): Promise<Saver> {
  for (const [name, v] of Object.entries({
    topicHistoryMax: opts.topicHistoryMax,
    topicHistoryMs: opts.topicHistoryMs,
    idempotencyMs: opts.idempotencyMs,
    groupCommitOpsMax: opts.groupCommitOpsMax,
    cacheEntriesMax: opts.cacheEntriesMax,
    sweepEntriesMax: opts.sweepEntriesMax,
  })) {
    if (v !== undefined && !(Number.isSafeInteger(v) && v > 0)) throw new RangeError(`saver option ${name} must be a positive integer, got ${v}`);
  }
  const db: Db = new Level<Buffer, string>(opts.dir, { keyEncoding: 'buffer', valueEncoding: 'utf8' });
  await db.open();
  const sealed = (await db.get(Buffer.of(KIND_SEALED))) !== undefined;
  return new LevelSaver(db, opts, sealed);
}

type Db = Level<Buffer, string>;

interface UserState {
  readonly meta: UserMeta;
  /** Highest seq whose batch is written: what lastSeq() reports. */
  durableSeq: number;
  /**
   * Set while an imported inbox is being written: meta (and its handoff mark)
   * already show it, the store not yet. A caller that sees the mark waits for it.
   */
  importing?: Promise<void>;
}

type UserEntry = CacheEntry<UserState>;

/** A topic record the sweep deletes, and the topic's counter key. */
interface ExpiredTopicRecord {
  readonly metaKey: Buffer;
  readonly offset: number;
}

interface Counter {
  last: number;
  /**
   * Broadcast counters: the latest expiresAt of any record appended under it,
   * so that a replay past it opens no iterator. Absent in records written
   * before it was kept (and in topic counters): unknown.
   */
  liveUntil?: number;
}

interface IdempotencyRecord {
  readonly answer: Json;
  readonly at: number;
}

/** Time values are clamped so that huge TTLs still encode as 8-byte key fields. */
function clampTime(ms: number): number {
  return Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, Math.floor(ms)));
}

function decode<T>(text: string): T {
  return JSON.parse(text) as T;
}

/**
 * One atomic LevelDB write. A chained batch, not db.batch(array): abstract-level
 * copies and re-encodes every op of an array batch through several spreads,
 * which cost ~9–11 µs of CPU per op here against ~2 µs chained.
 */
async function writeBatch(db: Db, ops: readonly Op[], sync: boolean): Promise<void> {
  const batch = db.batch();
  try {
    for (const op of ops) {
      if (op.type === 'put') batch.put(op.key, op.value);
      else batch.del(op.key);
    }
  } catch (err) {
    await batch.close();
    throw err;
  }
  await batch.write({ sync });
}

function cacheKey(key: Buffer): string {
  return key.toString('latin1');
}

class LevelSaver implements Saver {
  private readonly now: () => number;
  private readonly topicHistoryMax: number;
  private readonly topicHistoryMs: number;
  private readonly idempotencyMs: number;
  private readonly sweepEntriesMax: number;
  private readonly commit: GroupCommit;
  private readonly users: RefCache<UserState>;
  /** Broadcast positions and topic offsets. */
  private readonly counters: RefCache<Counter>;
  /**
   * Answers of appends in progress, by idempotency key, registered when append is
   * called: a retry arriving before the first write is done waits for its answer.
   */
  private readonly pendingIdempotency = new Map<string, Promise<Json>>();
  private chain: Promise<unknown> = Promise.resolve();
  private appends = 0;
  private closed = false;
  /** Set while a join moves some of this node's users away (ownership.ts). */
  private movingOut: ((app: string, user: string) => string | undefined) | undefined;

  constructor(
    private readonly db: Db,
    opts: SaverOptions,
    /** Invariant: once true, never false again, and no user record, message or cursor is written. */
    private isSealed: boolean,
  ) {
    this.now = opts.now ?? Date.now;
    this.topicHistoryMax = opts.topicHistoryMax ?? DEFAULT_TOPIC_HISTORY_MAX;
    this.topicHistoryMs = opts.topicHistoryMs ?? DEFAULT_TOPIC_HISTORY_MS;
    this.idempotencyMs = opts.idempotencyMs ?? IDEMPOTENCY_MS;
    this.sweepEntriesMax = opts.sweepEntriesMax ?? DEFAULT_SWEEP_ENTRIES_MAX;
    this.users = new RefCache(opts.cacheEntriesMax ?? DEFAULT_CACHE_ENTRIES_MAX);
    this.counters = new RefCache(opts.cacheEntriesMax ?? DEFAULT_CACHE_ENTRIES_MAX);
    const sync = opts.fsync;
    // With sync false, LevelDB has written the batch to its log file (handed to the
    // OS) before batch() resolves, so it survives kill -9 of this process; with
    // sync true the log is fsynced first, so it survives power loss too.
    this.commit = new GroupCommit((ops, durable) => writeBatch(this.db, ops, sync && durable), opts.groupCommitOpsMax ?? DEFAULT_GROUP_COMMIT_OPS_MAX);
  }

  async append(req: AppendRequest): Promise<number[]> {
    this.checkOpen();
    if (this.isSealed) throw new SaverSealedError();
    checkApp(req.app);
    for (const u of req.users) checkId('user id', u);
    if (req.idempotency !== undefined) checkId('idempotency key', req.idempotency.key);
    const entries = req.users.map((u) => this.acquireUser(req.app, u));
    const appended = this.appendLoaded(req, entries);
    if (req.idempotency !== undefined) {
      const ck = cacheKey(encodeKey(KIND_IDEMPOTENCY, req.app, req.idempotency.key));
      const answer = appended.then((r) => r.answer);
      this.pendingIdempotency.set(ck, answer);
      const forget = (): void => {
        if (this.pendingIdempotency.get(ck) === answer) this.pendingIdempotency.delete(ck);
      };
      answer.then(forget, forget);
    }
    return (await appended).seqs;
  }

  private async appendLoaded(req: AppendRequest, entries: readonly UserEntry[]): Promise<{ seqs: number[]; answer: Json }> {
    try {
      const states = Promise.all(entries.map((e) => e.ready));
      const { seqs, answer, written, loaded } = await this.serial(states, (loaded) => {
        // Sealed while this append waited for its user records: it must not get a seq.
        if (this.isSealed) throw new SaverSealedError();
        for (const [i, st] of loaded.entries()) this.checkMoved(req.app, req.users[i] ?? '', st);
        return { ...this.queueAppend(req, loaded), loaded };
      });
      await written;
      for (const [i, st] of loaded.entries()) st.durableSeq = Math.max(st.durableSeq, seqs[i] ?? 0);
      this.appends++;
      return { seqs, answer };
    } finally {
      for (const e of entries) this.users.release(e);
    }
  }

  /** A user whose inbox a join moved (or is moving) to another node gets no seq and no cursor here. */
  private checkMoved(app: string, user: string, st: UserState): void {
    const mark = st.meta.movedOut ?? this.movingOut?.(app, user);
    if (mark !== undefined) throw new SaverUserMovedError(app, user, mark);
  }

  private queueAppend(req: AppendRequest, states: readonly UserState[]): { seqs: number[]; answer: Json; written: Promise<void> } {
    const ts = this.now();
    const expiresAt = clampTime(ts + req.ttlMs);
    const ops: Op[] = [];
    const seqs: number[] = [];
    for (const [i, st] of states.entries()) {
      const user = req.users[i] ?? '';
      const seq = ++st.meta.lastSeq;
      const msg: StoredMessage = { seq, id: req.id, data: req.data, ts, expiresAt };
      const key = encodeKey(KIND_MESSAGE, req.app, user, seq);
      ops.push({ type: 'put', key, value: JSON.stringify(msg) }, { type: 'put', key: expiryKey(expiresAt, key), value: '' });
      for (const run of dropOverflow(st.meta, req.maxInbox)) {
        for (let s = run.from; s <= run.to; s++) ops.push({ type: 'del', key: encodeKey(KIND_MESSAGE, req.app, user, s) });
      }
      // The user record (lastSeq, drops) goes in the same batch, so a seq is never reused after restart.
      ops.push({ type: 'put', key: encodeKey(KIND_USER, req.app, user), value: JSON.stringify(st.meta) });
      seqs.push(seq);
    }
    const idem = req.idempotency;
    let answer: Json = null;
    if (idem !== undefined) {
      const key = encodeKey(KIND_IDEMPOTENCY, req.app, idem.key);
      answer = idem.answer(seqs);
      const record: IdempotencyRecord = { answer, at: ts };
      ops.push({ type: 'put', key, value: JSON.stringify(record) }, { type: 'put', key: expiryKey(clampTime(ts + this.idempotencyMs), key), value: '' });
    }
    return { seqs, answer, written: this.commit.add(ops, true) };
  }

  async idempotent(app: string, key: string): Promise<Json | undefined> {
    this.checkOpen();
    checkApp(app);
    checkId('idempotency key', key);
    const k = encodeKey(KIND_IDEMPOTENCY, app, key);
    const pending = this.pendingIdempotency.get(cacheKey(k));
    if (pending !== undefined) {
      // A failed append stored nothing: then the stored record (if any) answers.
      const answer = await pending.then(
        (a) => a,
        () => undefined,
      );
      if (answer !== undefined) return answer;
    }
    const text = await this.get(k);
    if (text === undefined) return undefined;
    const record = decode<IdempotencyRecord>(text);
    return record.at + this.idempotencyMs > this.now() ? record.answer : undefined;
  }

  async lastSeq(app: string, user: string): Promise<number> {
    this.checkOpen();
    checkApp(app);
    checkId('user id', user);
    const key = encodeKey(KIND_USER, app, user);
    if (this.users.has(cacheKey(key))) return this.withUser(app, user, (st) => st.durableSeq);
    // Read, not cached: every bind asks this, and an idle user's record held in
    // the cache costs ~250 B per connection. Uncached means no operation holds
    // the record, so the store has what memory would have had (a write racing
    // this read is seen or not, as if lastSeq were asked just before it).
    const text = await this.get(key);
    return text === undefined ? 0 : decode<UserMeta>(text).lastSeq;
  }

  async read(app: string, user: string, afterSeq: number, limit: number): Promise<InboxItem[]> {
    this.checkOpen();
    return this.withUser(app, user, async (st) => {
      const now = this.now();
      const stored = await this.readStored(app, user, afterSeq, limit, now);
      // Drop ranges are taken after the store was read: every deletion the read missed
      // was applied to memory before its batch was written, so it is covered here.
      return mergeInbox(stored, gapsAfter(st.meta, afterSeq), st.meta, limit);
    });
  }

  /** Stored messages after `afterSeq` until `limit` unexpired ones; expired ones come back as one-seq gaps. */
  private async readStored(app: string, user: string, afterSeq: number, limit: number, now: number): Promise<(StoredMessage | Gap)[]> {
    const out: (StoredMessage | Gap)[] = [];
    const range = prefixRange(encodeKey(KIND_MESSAGE, app, user));
    const it = this.db.iterator({ gt: encodeKey(KIND_MESSAGE, app, user, Math.max(0, afterSeq)), lt: range.lt });
    try {
      let live = 0;
      while (live < limit) {
        const chunk = await it.nextv(Math.min(READ_CHUNK_MAX, limit - live + 1));
        if (chunk.length === 0) break;
        for (const [, value] of chunk) {
          const msg = decode<StoredMessage>(value);
          if (msg.expiresAt <= now) {
            out.push({ from: msg.seq, to: msg.seq, reason: 'expired' });
          } else if (live < limit) {
            out.push(msg);
            live++;
          }
        }
      }
    } finally {
      await it.close();
    }
    return out;
  }

  async cursor(app: string, user: string, device: string): Promise<DeviceCursor | undefined> {
    this.checkOpen();
    const text = await this.get(this.cursorKey(app, user, device));
    return text === undefined ? undefined : decode<DeviceCursor>(text);
  }

  async setCursor(app: string, user: string, device: string, cursor: DeviceCursor): Promise<void> {
    this.checkOpen();
    if (this.isSealed) throw new SaverSealedError();
    const value: DeviceCursor = { acked: cursor.acked, pendingSeq: cursor.pendingSeq, pendingSends: cursor.pendingSends, broadcastPos: cursor.broadcastPos };
    const key = this.cursorKey(app, user, device);
    const entry = this.acquireUser(app, user);
    try {
      // A serial step, so that a seal for a join queued after it finds this write in the store (and one before it refuses it).
      const { written } = await this.serial(entry.ready, (st) => {
        if (this.isSealed) throw new SaverSealedError();
        this.checkMoved(app, user, st);
        // Not fsynced: a cursor lost in a crash only moves the device back, which means
        // redelivery, and at-least-once delivery allows that.
        return { written: this.commit.add([{ type: 'put', key, value: JSON.stringify(value) }], false) };
      });
      await written;
    } finally {
      this.users.release(entry);
    }
  }

  private cursorKey(app: string, user: string, device: string): Buffer {
    checkApp(app);
    checkId('user id', user);
    checkId('device id', device);
    return encodeKey(KIND_CURSOR, app, user, device);
  }

  async appendBroadcast(app: string, id: string, data: Json, ttlMs: number): Promise<BroadcastRecord> {
    this.checkOpen();
    checkApp(app);
    const metaKey = encodeKey(KIND_BROADCAST_META, app);
    return this.withCounter(metaKey, (c) => {
      const ts = this.now();
      const rec: BroadcastRecord = { pos: ++c.last, id, data, ts, expiresAt: clampTime(ts + ttlMs) };
      c.liveUntil = Math.max(c.liveUntil ?? 0, rec.expiresAt);
      const key = encodeKey(KIND_BROADCAST, app, rec.pos);
      const ops: Op[] = [
        { type: 'put', key, value: JSON.stringify(rec) },
        { type: 'put', key: expiryKey(rec.expiresAt, key), value: '' },
        { type: 'put', key: metaKey, value: JSON.stringify(c) },
      ];
      return { result: rec, written: this.commit.add(ops, true) };
    });
  }

  async readBroadcasts(app: string, afterPos: number): Promise<BroadcastRecord[]> {
    this.checkOpen();
    checkApp(app);
    // Every bind asks: past the newest position, or once every record has
    // expired (swept or not), there is nothing to replay and no iterator is opened.
    const { last, liveUntil } = await this.counter(encodeKey(KIND_BROADCAST_META, app));
    const now = this.now();
    if (afterPos >= last || (liveUntil !== undefined && liveUntil <= now)) return [];
    const range = prefixRange(encodeKey(KIND_BROADCAST, app));
    const values = await this.readValues({ gt: encodeKey(KIND_BROADCAST, app, Math.max(0, afterPos)), lt: range.lt });
    return values.map((v) => decode<BroadcastRecord>(v)).filter((r) => r.expiresAt > now);
  }

  async publish(app: string, topic: string, data: Json, offset?: number): Promise<PublishedRecord> {
    this.checkOpen();
    checkApp(app);
    checkId('topic', topic);
    const metaKey = encodeKey(KIND_TOPIC_META, app, topic);
    return this.withCounter(metaKey, (c) => {
      if (offset !== undefined && !(Number.isSafeInteger(offset) && offset > c.last)) throw new Error(`topic ${topic}: offset ${offset} is not above the last, ${c.last}`);
      const prev = c.last;
      c.last = offset ?? c.last + 1;
      const rec: TopicRecord = { offset: c.last, data, ts: this.now() };
      const key = encodeKey(KIND_TOPIC, app, topic, rec.offset);
      const ops: Op[] = [
        { type: 'put', key, value: JSON.stringify(rec) },
        { type: 'put', key: expiryKey(clampTime(rec.ts + this.topicHistoryMs), key), value: '' },
        { type: 'put', key: metaKey, value: JSON.stringify(c) },
      ];
      // Offsets skip where the topic changed owner, so this can miss a record past the cap:
      // reads never return it (they count records) and its expiry deletes it.
      const evicted = rec.offset - this.topicHistoryMax;
      if (evicted >= 1) ops.push({ type: 'del', key: encodeKey(KIND_TOPIC, app, topic, evicted) });
      return { result: { ...rec, prev }, written: this.commit.add(ops, true) };
    });
  }

  async topicLast(app: string, topic: string): Promise<number> {
    this.checkOpen();
    checkApp(app);
    checkId('topic', topic);
    return (await this.counter(encodeKey(KIND_TOPIC_META, app, topic))).last;
  }

  async readTopic(app: string, topic: string, afterOffset: number): Promise<TopicRecord[]> {
    this.checkOpen();
    checkApp(app);
    checkId('topic', topic);
    const now = this.now();
    // The newest records up to the current cap, counted in records: offsets skip
    // where the topic changed owner (topic-offsets.ts), and a larger cap may have left older ones behind.
    const range = prefixRange(encodeKey(KIND_TOPIC, app, topic));
    const newest = await this.db.values({ gt: encodeKey(KIND_TOPIC, app, topic, Math.max(0, afterOffset)), lt: range.lt, reverse: true, limit: this.topicHistoryMax }).all();
    return newest
      .reverse()
      .map((v) => decode<TopicRecord>(v))
      .filter((r) => r.ts + this.topicHistoryMs > now);
  }

  async listTopics(after: TopicKey | undefined, limit: number): Promise<TopicKey[]> {
    this.checkOpen();
    const lo = after === undefined ? { gte: Buffer.of(KIND_TOPIC_META) } : { gt: encodeKey(KIND_TOPIC_META, after.app, after.topic) };
    const keys = await this.db.keys({ ...lo, lt: Buffer.of(KIND_TOPIC_META + 1), limit }).all();
    return keys.map((k) => {
      const r = new KeyReader(k, 0);
      return { app: r.string(), topic: r.string() };
    });
  }

  async importTopic(app: string, topic: string, records: readonly TopicRecord[]): Promise<number> {
    this.checkOpen();
    checkApp(app);
    checkId('topic', topic);
    const now = this.now();
    const live = records.filter((r) => Number.isSafeInteger(r.offset) && r.offset >= 1 && r.ts + this.topicHistoryMs > now);
    if (live.length === 0) return 0;
    const metaKey = encodeKey(KIND_TOPIC_META, app, topic);
    return this.withCounter(metaKey, (c) => {
      const ops: Op[] = [];
      for (const rec of live) {
        const key = encodeKey(KIND_TOPIC, app, topic, rec.offset);
        ops.push({ type: 'put', key, value: JSON.stringify({ offset: rec.offset, data: rec.data, ts: rec.ts }) }, { type: 'put', key: expiryKey(clampTime(rec.ts + this.topicHistoryMs), key), value: '' });
        c.last = Math.max(c.last, rec.offset);
      }
      ops.push({ type: 'put', key: metaKey, value: JSON.stringify(c) });
      return { result: live.length, written: this.commit.add(ops, true) };
    });
  }

  /** A copy of the counter under `metaKey` (broadcast positions or topic offsets). */
  private async counter(metaKey: Buffer): Promise<Counter> {
    const entry = this.counters.acquire(cacheKey(metaKey), () => this.loadCounter(metaKey));
    try {
      return { ...(await entry.ready) };
    } finally {
      this.counters.release(entry);
    }
  }

  /**
   * Every value in the range, read in chunks that start small: classic-level
   * reserves native room for a whole chunk on a thread-pool thread and frees it
   * only when the iterator is garbage-collected (`all()` asks for 1,000
   * entries, ~28 KB, for a read that finds one record or none).
   */
  private async readValues(range: { gt: Buffer; lt: Buffer }): Promise<string[]> {
    const it = this.db.values(range);
    try {
      const out: string[] = [];
      for (let size = SCAN_CHUNK_MIN; ; size = Math.min(size * 2, READ_CHUNK_MAX)) {
        const chunk = await it.nextv(size);
        if (chunk.length === 0) return out;
        for (const v of chunk) out.push(v);
      }
    } finally {
      await it.close();
    }
  }

  async sweep(nowMs: number): Promise<void> {
    this.checkOpen();
    // A sealed store is being exported: it must not change under the export (the new owners sweep).
    if (this.isSealed) return;
    const end = Buffer.concat([Buffer.of(KIND_EXPIRY), encodeU64(clampTime(nowMs) + 1)]);
    const keys = await this.db.keys({ gt: Buffer.of(KIND_EXPIRY), lt: end, limit: this.sweepEntriesMax }).all();
    const ops: Op[] = [];
    const messages: { app: string; user: string; seq: number; index: Buffer }[] = [];
    const idempotency: { target: Buffer; index: Buffer }[] = [];
    const topicRecords: ExpiredTopicRecord[] = [];
    for (const index of keys) {
      const target = index.subarray(EXPIRY_TARGET_AT);
      const kind = target[0];
      if (kind === KIND_MESSAGE) {
        const r = new KeyReader(target, 0);
        messages.push({ app: r.string(), user: r.string(), seq: r.number(), index });
        continue;
      }
      if (kind === KIND_IDEMPOTENCY) {
        idempotency.push({ target, index });
        continue;
      }
      if (kind === KIND_TOPIC) {
        const r = new KeyReader(target, 0);
        topicRecords.push({ metaKey: encodeKey(KIND_TOPIC_META, r.string(), r.string()), offset: r.number() });
      }
      // Broadcasts and topic records have unique keys: the entry's time is theirs.
      ops.push({ type: 'del', key: target }, { type: 'del', key: index });
    }
    const entries = new Map<string, UserEntry>();
    for (const m of messages) {
      const ck = cacheKey(encodeKey(KIND_USER, m.app, m.user));
      if (!entries.has(ck)) entries.set(ck, this.acquireUser(m.app, m.user));
    }
    const counters = new Map<string, CacheEntry<Counter>>();
    for (const t of topicRecords) {
      const ck = cacheKey(t.metaKey);
      if (!counters.has(ck)) counters.set(ck, this.counters.acquire(ck, () => this.loadCounter(t.metaKey)));
    }
    try {
      const loaded = Promise.all([...[...entries.values()].map((e) => e.ready), ...[...counters.values()].map((e) => e.ready)]);
      const written = await this.serial(loaded, () => {
        this.forgetQuietTopics(topicRecords, counters, ops);
        return this.queueSweep(nowMs, ops, messages, idempotency, entries);
      });
      await written;
    } finally {
      for (const e of entries.values()) this.users.release(e);
      for (const e of counters.values()) this.counters.release(e);
    }
  }

  /**
   * A topic whose newest record expired has no history left: its counter is
   * deleted too, or every topic ever published would keep one here (and
   * hand-overs would list them all). Its offsets stay safe without it: the
   * keeper's block bound, or once that is reaped the topics floor, is above
   * every offset handed out (topic-offsets.ts). In the serial step, against
   * the counter in memory: a publish after it finds the counter at 0 and
   * writes it again.
   */
  private forgetQuietTopics(expired: readonly ExpiredTopicRecord[], counters: ReadonlyMap<string, CacheEntry<Counter>>, ops: Op[]): void {
    for (const t of expired) {
      const c = counters.get(cacheKey(t.metaKey))?.value;
      if (c === undefined || c.last === 0 || c.last > t.offset) continue;
      c.last = 0;
      ops.push({ type: 'del', key: t.metaKey });
    }
  }

  private queueSweep(
    nowMs: number,
    ops: Op[],
    messages: readonly { app: string; user: string; seq: number; index: Buffer }[],
    idempotency: readonly { target: Buffer; index: Buffer }[],
    entries: ReadonlyMap<string, UserEntry>,
  ): Promise<void> {
    const touched = new Set<string>();
    for (const m of messages) {
      const ck = cacheKey(encodeKey(KIND_USER, m.app, m.user));
      const st = entries.get(ck)?.value;
      ops.push({ type: 'del', key: m.index });
      // Messages already dropped by overflow have nothing left to record.
      if (st === undefined || m.seq > st.meta.lastSeq || isDropped(st.meta, m.seq)) continue;
      // An inbox handed over from another node may hold a newer message under this seq.
      const stored = this.db.getSync(encodeKey(KIND_MESSAGE, m.app, m.user, m.seq));
      if (stored !== undefined && decode<StoredMessage>(stored).expiresAt > nowMs) continue;
      addDrop(st.meta, m.seq, m.seq, 'expired');
      ops.push({ type: 'del', key: encodeKey(KIND_MESSAGE, m.app, m.user, m.seq) });
      touched.add(ck);
    }
    for (const ck of touched) {
      const st = entries.get(ck)?.value;
      if (st !== undefined) ops.push({ type: 'put', key: Buffer.from(ck, 'latin1'), value: JSON.stringify(st.meta) });
    }
    for (const e of idempotency) {
      ops.push({ type: 'del', key: e.index });
      // A key reused after expiry has a newer record (and its own index entry) that must
      // stay: it is either still queued (pending) or already in the store, which is read
      // synchronously here so that no append can slip in between the check and the delete.
      if (this.pendingIdempotency.has(cacheKey(e.target))) continue;
      const text = this.db.getSync(e.target);
      if (text !== undefined && decode<IdempotencyRecord>(text).at + this.idempotencyMs <= nowMs) ops.push({ type: 'del', key: e.target });
    }
    return this.commit.add(ops, false);
  }

  async seal(): Promise<void> {
    this.checkOpen();
    if (!this.isSealed) {
      const written = await this.serial(Promise.resolve(), () => {
        this.isSealed = true;
        return this.commit.add([{ type: 'put', key: Buffer.of(KIND_SEALED), value: '' }], true);
      });
      await written;
    }
    // Every append and cursor queued before the seal is in the store once this resolves.
    await this.commit.idle();
  }

  sealed(): boolean {
    return this.isSealed;
  }

  async exportUsers(after: UserKey | undefined, limit: number): Promise<UserHandoff[]> {
    this.checkOpen();
    const lo = after === undefined ? { gte: Buffer.of(KIND_USER) } : { gt: encodeKey(KIND_USER, after.app, after.user) };
    const rows: { app: string; user: string; meta: UserMeta }[] = [];
    const it = this.db.iterator({ ...lo, lt: Buffer.of(KIND_USER + 1) });
    try {
      // A user sealed for a join is left out: its live inbox is on the joiner, and a handed-over copy would replace it.
      while (rows.length < limit) {
        const chunk = await it.nextv(limit - rows.length);
        if (chunk.length === 0) break;
        for (const [key, value] of chunk) {
          const meta = decode<UserMeta>(value);
          if (meta.movedOut !== undefined) continue;
          const r = new KeyReader(key, 0);
          rows.push({ app: r.string(), user: r.string(), meta });
        }
      }
    } finally {
      await it.close();
    }
    return Promise.all(rows.map((x) => this.exportOne(x.app, x.user, x.meta)));
  }

  async listUsers(after: UserKey | undefined, limit: number): Promise<UserKey[]> {
    this.checkOpen();
    const lo = after === undefined ? { gte: Buffer.of(KIND_USER) } : { gt: encodeKey(KIND_USER, after.app, after.user) };
    const keys = await this.db.keys({ ...lo, lt: Buffer.of(KIND_USER + 1), limit }).all();
    return keys.map((k) => {
      const r = new KeyReader(k, 0);
      return { app: r.string(), user: r.string() };
    });
  }

  async sealUsers(mark: string, users: readonly UserKey[]): Promise<void> {
    this.checkOpen();
    if (this.isSealed) throw new SaverSealedError();
    const entries = users.map((u) => this.acquireUser(u.app, u.user));
    try {
      const loaded = Promise.all(entries.map((e) => e.ready));
      const { written } = await this.serial(loaded, (states) => {
        const ops: Op[] = [];
        for (const [i, st] of states.entries()) {
          const u = users[i];
          if (u === undefined || st.meta.movedOut === mark) continue;
          st.meta.movedOut = mark;
          ops.push({ type: 'put', key: encodeKey(KIND_USER, u.app, u.user), value: JSON.stringify(st.meta) });
        }
        // Batches are written in order: once this one is, every append and cursor queued before it is too.
        return { written: this.commit.add(ops, true) };
      });
      await written;
    } finally {
      for (const e of entries) this.users.release(e);
    }
  }

  async movedOut(app: string, user: string): Promise<string | undefined> {
    this.checkOpen();
    return this.withUser(app, user, (st) => st.meta.movedOut);
  }

  async liftSeal(app: string, user: string, mark: string): Promise<void> {
    this.checkOpen();
    const entry = this.acquireUser(app, user);
    try {
      const { written } = await this.serial(entry.ready, (st) => {
        if (st.meta.movedOut !== mark) return { written: Promise.resolve() };
        delete st.meta.movedOut;
        return { written: this.commit.add([{ type: 'put', key: encodeKey(KIND_USER, app, user), value: JSON.stringify(st.meta) }], true) };
      });
      await written;
    } finally {
      this.users.release(entry);
    }
  }

  setMovingOut(check: ((app: string, user: string) => string | undefined) | undefined): void {
    this.movingOut = check;
  }

  async exportUser(app: string, user: string): Promise<UserHandoff> {
    this.checkOpen();
    checkApp(app);
    checkId('user id', user);
    const text = await this.get(encodeKey(KIND_USER, app, user));
    return this.exportOne(app, user, text === undefined ? emptyMeta() : decode<UserMeta>(text));
  }

  private async exportOne(app: string, user: string, meta: UserMeta): Promise<UserHandoff> {
    const messages = (await this.db.values(prefixRange(encodeKey(KIND_MESSAGE, app, user))).all()).map((v) => decode<StoredMessage>(v));
    const cursors = (await this.db.iterator(prefixRange(encodeKey(KIND_CURSOR, app, user))).all()).map(([k, v]) => {
      const r = new KeyReader(k, 0);
      r.string();
      r.string();
      return { device: r.string(), cursor: decode<DeviceCursor>(v) };
    });
    return { app, user, meta, messages, cursors };
  }

  async importUsers(mark: string, users: readonly UserHandoff[]): Promise<{ users: number; messages: number }> {
    this.checkOpen();
    if (this.isSealed) throw new SaverSealedError();
    const entries = users.map((u) => this.acquireUser(u.app, u.user));
    try {
      // Whatever this node kept of these users from an earlier ownership is replaced, not merged.
      const old = await Promise.all(
        users.map(async (u) => [
          ...(await this.db.keys(prefixRange(encodeKey(KIND_MESSAGE, u.app, u.user))).all()),
          ...(await this.db.keys(prefixRange(encodeKey(KIND_CURSOR, u.app, u.user))).all()),
        ]),
      );
      const loaded = Promise.all(entries.map((e) => e.ready));
      const { written, waits, replaced, messages } = await this.serial(loaded, (states) => {
        const ops: Op[] = [];
        const replaced: UserState[] = [];
        // The same inbox imported by a call still being written (a pull and a batch crossing): this one waits for it.
        const waits: Promise<void>[] = [];
        let messages = 0;
        for (const [i, st] of states.entries()) {
          const u = users[i];
          if (u === undefined) continue;
          if (st.meta.handoff === mark) {
            if (st.importing !== undefined) waits.push(st.importing);
            continue;
          }
          for (const key of old[i] ?? []) ops.push({ type: 'del', key });
          Object.assign(st.meta, cloneMeta(u.meta), { handoff: mark });
          // The exporter sealed its copy for a join; here it is the live inbox (and a user handed back is no longer moved out).
          delete st.meta.movedOut;
          for (const m of u.messages) {
            const key = encodeKey(KIND_MESSAGE, u.app, u.user, m.seq);
            ops.push({ type: 'put', key, value: JSON.stringify(m) }, { type: 'put', key: expiryKey(clampTime(m.expiresAt), key), value: '' });
          }
          for (const c of u.cursors) {
            // Broadcast positions count in the old owner's broadcast log: the whole log here is replayed (clients drop repeats by id).
            const cursor: DeviceCursor = { ...c.cursor, broadcastPos: 0 };
            ops.push({ type: 'put', key: this.cursorKey(u.app, u.user, c.device), value: JSON.stringify(cursor) });
          }
          ops.push({ type: 'put', key: encodeKey(KIND_USER, u.app, u.user), value: JSON.stringify(st.meta) });
          replaced.push(st);
          messages += u.messages.length;
        }
        const done: Promise<void> = this.commit.add(ops, true).then(() => {
          for (const st of replaced) {
            st.durableSeq = st.meta.lastSeq;
            if (st.importing === done) delete st.importing;
          }
        });
        for (const st of replaced) st.importing = done;
        return { written: done, waits, replaced, messages };
      });
      await written;
      await Promise.all(waits);
      return { users: replaced.length, messages };
    } finally {
      for (const e of entries) this.users.release(e);
    }
  }

  async handoffMark(app: string, user: string): Promise<string | undefined> {
    this.checkOpen();
    return this.withUser(app, user, async (st) => {
      // A mark whose inbox is still being written is not reported yet: what it names must be readable.
      while (st.importing !== undefined) await st.importing;
      return st.meta.handoff;
    });
  }

  async exportIdempotencyRecord(app: string, key: string): Promise<IdempotencyHandoff | undefined> {
    this.checkOpen();
    checkApp(app);
    checkId('idempotency key', key);
    const text = await this.get(encodeKey(KIND_IDEMPOTENCY, app, key));
    if (text === undefined) return undefined;
    const rec = decode<IdempotencyRecord>(text);
    return { app, key, answer: rec.answer, at: rec.at };
  }

  async exportIdempotency(after: { app: string; key: string } | undefined, limit: number): Promise<IdempotencyHandoff[]> {
    this.checkOpen();
    const lo = after === undefined ? { gte: Buffer.of(KIND_IDEMPOTENCY) } : { gt: encodeKey(KIND_IDEMPOTENCY, after.app, after.key) };
    const rows = await this.db.iterator({ ...lo, lt: Buffer.of(KIND_IDEMPOTENCY + 1), limit }).all();
    // Expired ones too (a page is then full or the last): their import is answered as expired and swept.
    return rows.map(([k, v]) => {
      const r = new KeyReader(k, 0);
      const rec = decode<IdempotencyRecord>(v);
      return { app: r.string(), key: r.string(), answer: rec.answer, at: rec.at };
    });
  }

  async importIdempotency(records: readonly IdempotencyHandoff[]): Promise<void> {
    this.checkOpen();
    const keys = records.map((r) => {
      checkApp(r.app);
      checkId('idempotency key', r.key);
      return encodeKey(KIND_IDEMPOTENCY, r.app, r.key);
    });
    const written = await this.serial(Promise.resolve(), () => {
      const ops: Op[] = [];
      for (const [i, r] of records.entries()) {
        const key = keys[i];
        if (key === undefined) continue;
        // Read synchronously inside the serial step, so no append of the same key slips in between.
        const text = this.db.getSync(key);
        const answer = text === undefined ? r.answer : mergeAnswers(decode<IdempotencyRecord>(text).answer, r.answer);
        const record: IdempotencyRecord = { answer, at: r.at };
        ops.push({ type: 'put', key, value: JSON.stringify(record) }, { type: 'put', key: expiryKey(clampTime(r.at + this.idempotencyMs), key), value: '' });
      }
      return this.commit.add(ops, true);
    });
    await written;
  }

  stats(): SaverStats {
    const c = this.commit.stats();
    return { batches: c.batches, ops: c.ops, appends: this.appends };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain;
    await this.commit.idle();
    await this.db.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('saver is closed');
  }

  /**
   * Runs `step` once `ready` resolves, after every step queued before it. Steps are
   * synchronous, so the counters they change and the writes they queue line up.
   */
  private serial<R, T>(ready: Promise<R>, step: (r: R) => T): Promise<T> {
    const run = this.chain.then(() => ready).then(step);
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async withUser<T>(app: string, user: string, fn: (st: UserState) => T | Promise<T>): Promise<T> {
    const entry = this.acquireUser(app, user);
    try {
      return await fn(await entry.ready);
    } finally {
      this.users.release(entry);
    }
  }

  /** The cached user state, loading it on first use; the caller must release it. */
  private acquireUser(app: string, user: string): UserEntry {
    checkApp(app);
    checkId('user id', user);
    const key = encodeKey(KIND_USER, app, user);
    return this.users.acquire(cacheKey(key), async () => {
      const text = await this.get(key);
      const meta = text === undefined ? emptyMeta() : decode<UserMeta>(text);
      return { meta, durableSeq: meta.lastSeq };
    });
  }

  /**
   * Runs `step` on the counter stored under `metaKey` as a serial step and resolves
   * with its result once its writes are in the store.
   */
  private async withCounter<T>(metaKey: Buffer, step: (c: Counter) => { result: T; written: Promise<void> }): Promise<T> {
    const entry = this.counters.acquire(cacheKey(metaKey), () => this.loadCounter(metaKey));
    try {
      const { result, written } = await this.serial(entry.ready, step);
      await written;
      return result;
    } finally {
      this.counters.release(entry);
    }
  }

  private async loadCounter(metaKey: Buffer): Promise<Counter> {
    const text = await this.get(metaKey);
    return text === undefined ? { last: 0 } : decode<Counter>(text);
  }

  private async get(key: Buffer): Promise<string | undefined> {
    const v: string | undefined = await this.db.get(key);
    return v;
  }
}

/**
 * An idempotency answer is {id, results: [{user, …}]} (pusher.ts); two owners'
 * parts of one push merge into one answer with the results of both, each user once.
 */
function mergeAnswers(a: Json, b: Json): Json {
  const results = (x: Json): Json[] => (typeof x === 'object' && x !== null && !Array.isArray(x) && Array.isArray(x.results) ? x.results : []);
  const userOf = (r: Json): unknown => (typeof r === 'object' && r !== null && !Array.isArray(r) ? r.user : undefined);
  if (typeof a !== 'object' || a === null || Array.isArray(a)) return b;
  const seen = new Set(results(a).map(userOf));
  return { ...a, results: [...results(a), ...results(b).filter((r) => !seen.has(userOf(r)))] };
}

/**
 * One replay page: stored messages (expired ones already turned into gaps) and the
 * dropped ranges, in seq order, up to `limit` messages; adjacent gaps of one reason merge.
 */
function mergeInbox(stored: readonly (StoredMessage | Gap)[], gaps: readonly Gap[], meta: UserMeta, limit: number): InboxItem[] {
  const events: (StoredMessage | Gap)[] = [...gaps, ...stored.filter((s) => !isDropped(meta, 'seq' in s ? s.seq : s.from))];
  events.sort((a, b) => ('seq' in a ? a.seq : a.from) - ('seq' in b ? b.seq : b.from));
  const items: InboxItem[] = [];
  let msgs = 0;
  for (const e of events) {
    if ('seq' in e) {
      if (msgs >= limit) break;
      items.push({ kind: 'msg', msg: e });
      msgs++;
      continue;
    }
    if (msgs >= limit) break;
    const last = items[items.length - 1];
    if (last !== undefined && last.kind === 'gap' && last.gap.reason === e.reason && last.gap.to + 1 === e.from) {
      items[items.length - 1] = { kind: 'gap', gap: { from: last.gap.from, to: e.to, reason: e.reason } };
    } else {
      items.push({ kind: 'gap', gap: e });
    }
  }
  return items;
}
