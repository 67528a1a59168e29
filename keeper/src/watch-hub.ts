/**
 * The watch hub: fans the events `apply` produced out to watch streams. It is
 * kept apart from `apply` (as centrifuge keeps its hub apart from its broker):
 * the state machine produces events, the hub only routes them.
 *
 * Guarantees of one watch stream (after etcd's robustness `validate/watch.go`;
 * each has a test of the same name in test/watch-hub.test.ts):
 *
 * - **ordered**: events arrive in increasing revision order; within one
 *   revision, in key order. The revision a stream reports never goes down.
 * - **unique**: no event is delivered twice on one stream.
 * - **atomic per revision**: the matching events of one revision arrive in one
 *   `events` message, never split across messages.
 * - **reliable**: every matching event from `fromRevision` on is delivered, with
 *   no gap, until the stream ends with `compacted` or `cancelled`.
 * - **resumable**: a new stream from `lastRevision + 1` of a `cancelled` one (or
 *   from the last delivered revision + 1) continues exactly where it stopped,
 *   as long as that revision is still in the history; otherwise it gets an
 *   explicit `compacted`, never a silent gap.
 * - **bookmarkable**: a `progress` at revision p promises that every matching
 *   event up to p was delivered, so resuming from p + 1 loses nothing.
 *
 * Writers are never slowed by watchers: `publish` appends to bounded queues and
 * schedules delivery. It finds the streams an event matches through an index
 * (key watchers by key, prefix watchers by prefix, probed at each prefix
 * length in use), so its cost follows the matching streams, not all of them.
 * A watcher that lets its queue grow past `watcherQueueEventsMax` (its listener returned false and it did not resume)
 * is cut off with `cancelled`/`slow` and the last revision it was given. A
 * watcher that is not paused is drained on the spot instead, so batching
 * alone never makes a stream slow.
 */

import { assert } from './assert.js';
import { KeeperError } from './errors.js';
import type { WatchEvent, WatchListener, WatchMessage, WatchRequest, Watcher } from './keeper.js';

export interface WatchHubOptions {
  /** Events kept for streams that start in the past; when exceeded the oldest revisions are dropped and answer `compacted`. */
  readonly watchHistoryEventsMax: number;
  /**
   * The same bound in size, as values may be large: key length + value
   * length + the previous value's length per event (a delete has no value),
   * counted in UTF-16 code units (string .length), not encoded bytes.
   */
  readonly watchHistoryBytesMax: number;
  /** Undelivered events one watcher may have queued; beyond it the watcher is cancelled with reason 'slow'. */
  readonly watcherQueueEventsMax: number;
  /** Runs a delivery pass soon. The default is queueMicrotask; tests pass their own and call flush(). */
  readonly schedule: (run: () => void) => void;
}

export const DEFAULT_WATCH_HUB_OPTIONS: WatchHubOptions = {
  watchHistoryEventsMax: 10_000,
  watchHistoryBytesMax: 64 * 1024 * 1024,
  watcherQueueEventsMax: 1_000,
  schedule: queueMicrotask,
};

interface RevisionEvents {
  readonly revision: number;
  readonly events: readonly WatchEvent[];
  /** The events' size as watchHistoryBytesMax counts it. */
  readonly bytes: number;
}

function eventBytes(e: WatchEvent): number {
  return e.key.length + (e.type === 'put' ? e.value.length : 0) + (e.prevKv?.value.length ?? 0);
}

class Stream implements Watcher {
  readonly queue: WatchMessage[] = [];
  /** Invariant: the number of events in `queue`. */
  queuedEvents = 0;
  /** Invariant: every matching event with revision ≤ deliveredRevision has been handed to the listener, none above it. */
  deliveredRevision: number;
  /** Events before it were replayed from the history (or precede fromRevision); `publish` queues those from it on. */
  readonly startsAt: number;
  paused = false;
  /** Set once a terminal message is queued or the owner cancelled; nothing more is queued after it. */
  ended = false;

  constructor(
    readonly hub: WatchHub,
    readonly key: string,
    readonly prefix: boolean,
    fromRevision: number,
    hubRevision: number,
    readonly listener: WatchListener,
  ) {
    this.deliveredRevision = fromRevision - 1;
    this.startsAt = Math.max(fromRevision, hubRevision + 1);
  }

  matches(key: string): boolean {
    return this.prefix ? key.startsWith(this.key) : key === this.key;
  }

  cancel(): void {
    this.hub.remove(this);
  }

  resume(): void {
    this.hub.resume(this);
  }

  requestProgress(): void {
    this.hub.requestProgress(this);
  }
}

export class WatchHub {
  private readonly opts: WatchHubOptions;
  private readonly streams = new Set<Stream>();
  /** Index of the live streams: key watchers by key, prefix watchers by prefix, and how many prefixes of each length. */
  private readonly byKey = new Map<string, Set<Stream>>();
  private readonly byPrefix = new Map<string, Set<Stream>>();
  private readonly prefixLengths = new Map<number, number>();
  /** Streams with something to deliver. */
  private readonly pending = new Set<Stream>();
  /**
   * Invariant: holds every event with revision in (compactRevision, revision],
   * oldest first; historyEvents ≤ watchHistoryEventsMax and historyBytes ≤
   * watchHistoryBytesMax (a revision is kept or dropped whole).
   */
  private readonly history: RevisionEvents[] = [];
  private historyEvents = 0;
  private historyBytes = 0;
  private revisionValue: number;
  private compactRevisionValue: number;
  private scheduled = false;
  private closed = false;

  /** `startRevision`: the store's revision now; nothing at or before it can be replayed. */
  constructor(startRevision: number, opts: Partial<WatchHubOptions> = {}) {
    this.opts = { ...DEFAULT_WATCH_HUB_OPTIONS, ...opts };
    assert(this.opts.watchHistoryEventsMax >= 0 && this.opts.watchHistoryBytesMax >= 0 && this.opts.watcherQueueEventsMax >= 1, 'watch hub limits');
    this.revisionValue = startRevision;
    this.compactRevisionValue = startRevision;
  }

  /** The latest published revision. */
  get revision(): number {
    return this.revisionValue;
  }

  /** Streams from a revision ≤ this answer `compacted`. */
  get compactRevision(): number {
    return this.compactRevisionValue;
  }

  /**
   * The events of every revision after `revision`, oldest first: what a read
   * at `revision` undoes. `revision` must be at least compactRevision (the
   * history holds nothing at or before it).
   */
  eventsAfter(revision: number): readonly (readonly WatchEvent[])[] {
    assert(revision >= this.compactRevisionValue, `eventsAfter: revision ${revision} is compacted (${this.compactRevisionValue})`);
    let i = this.history.length;
    while (i > 0 && (this.history[i - 1]?.revision ?? 0) > revision) i--;
    return this.history.slice(i).map((r) => r.events);
  }

  get watcherCount(): number {
    return this.streams.size;
  }

  /** Records the events of one applied revision (possibly none) and queues them for matching watchers. */
  publish(revision: number, events: readonly WatchEvent[]): void {
    assert(!this.closed, 'publish after close');
    if (revision === this.revisionValue && events.length === 0) return;
    assert(revision > this.revisionValue, `publish: revision ${revision} after ${this.revisionValue}`);
    assert(events.every((e) => e.revision === revision), 'publish: events carry their revision');
    this.revisionValue = revision;
    if (events.length === 0) return;
    const bytes = events.reduce((n, e) => n + eventBytes(e), 0);
    this.history.push({ revision, events, bytes });
    this.historyEvents += events.length;
    this.historyBytes += bytes;
    this.trimHistory();
    for (const [s, mine] of this.matching(events)) {
      if (s.ended || revision < s.startsAt) continue;
      // A stream that keeps up is not slow just because delivery is batched
      // (a group commit publishes many revisions before the next flush).
      if (this.wouldOverflow(s, mine.length) && !s.paused) this.drain(s);
      if (this.wouldOverflow(s, mine.length)) {
        this.end(s, { kind: 'cancelled', reason: 'slow', lastRevision: s.deliveredRevision });
        continue;
      }
      this.enqueue(s, { kind: 'events', events: mine });
    }
  }

  /** The streams the events match, each with its events in their order (a stream sits in the index once, so it is found once per event). */
  private matching(events: readonly WatchEvent[]): Map<Stream, WatchEvent[]> {
    const out = new Map<Stream, WatchEvent[]>();
    const add = (set: Set<Stream> | undefined, e: WatchEvent): void => {
      if (set === undefined) return;
      for (const s of set) {
        const list = out.get(s);
        if (list === undefined) out.set(s, [e]);
        else list.push(e);
      }
    };
    for (const e of events) {
      add(this.byKey.get(e.key), e);
      for (const length of this.prefixLengths.keys()) if (length <= e.key.length) add(this.byPrefix.get(e.key.slice(0, length)), e);
    }
    return out;
  }

  private index(s: Stream): void {
    const map = s.prefix ? this.byPrefix : this.byKey;
    let set = map.get(s.key);
    if (set === undefined) {
      map.set(s.key, (set = new Set()));
      if (s.prefix) this.prefixLengths.set(s.key.length, (this.prefixLengths.get(s.key.length) ?? 0) + 1);
    }
    set.add(s);
  }

  private unindex(s: Stream): void {
    const map = s.prefix ? this.byPrefix : this.byKey;
    const set = map.get(s.key);
    if (set === undefined || !set.delete(s) || set.size > 0) return;
    map.delete(s.key);
    if (!s.prefix) return;
    const n = (this.prefixLengths.get(s.key.length) ?? 0) - 1;
    if (n > 0) this.prefixLengths.set(s.key.length, n);
    else this.prefixLengths.delete(s.key.length);
  }

  /**
   * Opens a stream. `fromRevision` defaults to the next revision. A stream from
   * a compacted revision receives one `compacted` message and ends.
   * Throws KeeperError 'invalid' for a fromRevision below 1.
   */
  watch(req: WatchRequest, listener: WatchListener): Watcher {
    if (this.closed) throw new KeeperError('closed', 'watch hub closed');
    const from = req.fromRevision ?? this.revisionValue + 1;
    if (!Number.isSafeInteger(from) || from < 1) throw new KeeperError('invalid', `fromRevision ${from} is not a revision`);
    const s = new Stream(this, req.key, req.prefix === true, from, this.revisionValue, listener);
    this.streams.add(s);
    this.index(s);
    if (from <= this.compactRevisionValue) {
      this.end(s, { kind: 'compacted', compactRevision: this.compactRevisionValue });
      return s;
    }
    // Replay from history; catch-up is bounded by the history, not by the queue limit.
    for (const h of this.history) {
      if (h.revision < from) continue;
      const mine = h.events.filter((e) => s.matches(e.key));
      if (mine.length > 0) this.enqueue(s, { kind: 'events', events: mine });
    }
    return s;
  }

  /** Queues a progress notification on every stream. The owner calls it periodically. */
  progress(): void {
    for (const s of this.streams) this.requestProgress(s);
  }

  /**
   * @internal Stream.requestProgress. The progress goes behind whatever is
   * queued: every matching event up to the current revision is queued before
   * it, so once it is delivered the bookmark holds. A stream still waiting for
   * a future fromRevision gets none; one with a progress already last in its
   * queue gets that one moved up, so a paused stream does not pile them up.
   */
  requestProgress(s: Stream): void {
    if (s.ended || s.deliveredRevision > this.revisionValue) return;
    const msg: WatchMessage = { kind: 'progress', revision: this.revisionValue };
    const last = s.queue.length - 1;
    if (s.queue[last]?.kind === 'progress') s.queue[last] = msg;
    else this.enqueue(s, msg);
  }

  /** Delivers everything deliverable now. */
  flush(): void {
    this.scheduled = false;
    for (const s of [...this.pending]) this.drain(s);
  }

  /**
   * Jumps to `revision` without the events in between (a member installed a
   * snapshot from its leader). Streams that may have missed some end with
   * `compacted` (reliable: never a silent gap), so their owners re-read and
   * watch again; streams waiting for a later revision go on. The history
   * restarts at `revision`.
   */
  reset(revision: number): void {
    assert(!this.closed, 'reset after close');
    assert(revision >= this.revisionValue, `reset: revision ${revision} before ${this.revisionValue}`);
    // A stream has every event up to this.revisionValue (or waits for a later start): it misses some if it wants any of (that, revision].
    for (const s of this.streams) if (!s.ended && Math.max(s.startsAt, this.revisionValue + 1) <= revision) this.end(s, { kind: 'compacted', compactRevision: revision });
    this.history.length = 0;
    this.historyEvents = 0;
    this.historyBytes = 0;
    this.revisionValue = revision;
    this.compactRevisionValue = revision;
  }

  /** Ends every stream with `cancelled`/`closed`, delivered before close returns. */
  close(): void {
    if (this.closed) return;
    for (const s of this.streams) if (!s.ended) this.end(s, { kind: 'cancelled', reason: 'closed', lastRevision: s.deliveredRevision });
    this.flush();
    this.closed = true;
  }

  /** @internal Stream.cancel: the owner gave up; no further message. */
  remove(s: Stream): void {
    s.ended = true;
    s.queue.length = 0;
    s.queuedEvents = 0;
    this.streams.delete(s);
    this.unindex(s);
    this.pending.delete(s);
  }

  /** @internal Stream.resume. */
  resume(s: Stream): void {
    if (!s.paused) return;
    s.paused = false;
    if (s.queue.length > 0) this.markPending(s);
  }

  private wouldOverflow(s: Stream, events: number): boolean {
    return s.queuedEvents > 0 && s.queuedEvents + events > this.opts.watcherQueueEventsMax;
  }

  private enqueue(s: Stream, msg: WatchMessage): void {
    s.queue.push(msg);
    if (msg.kind === 'events') s.queuedEvents += msg.events.length;
    this.markPending(s);
  }

  /** Replaces whatever is queued by one terminal message. */
  private end(s: Stream, msg: WatchMessage): void {
    s.queue.length = 0;
    s.queuedEvents = 0;
    this.enqueue(s, msg);
    s.ended = true;
  }

  private markPending(s: Stream): void {
    this.pending.add(s);
    if (this.scheduled) return;
    this.scheduled = true;
    this.opts.schedule(() => {
      if (this.scheduled) this.flush();
    });
  }

  private drain(s: Stream): void {
    this.pending.delete(s);
    for (;;) {
      const msg = s.queue[0];
      if (msg === undefined || !this.streams.has(s)) return;
      const terminal = msg.kind === 'compacted' || msg.kind === 'cancelled';
      if (s.paused && !terminal) return;
      s.queue.shift();
      if (msg.kind === 'events') {
        const revision = msg.events[0]?.revision;
        assert(revision !== undefined && revision > s.deliveredRevision, `watch: revision ${String(revision)} after ${s.deliveredRevision} (ordered, unique)`);
        s.queuedEvents -= msg.events.length;
        s.deliveredRevision = revision;
      } else if (msg.kind === 'progress') {
        assert(msg.revision >= s.deliveredRevision, `watch: progress ${msg.revision} below ${s.deliveredRevision} (bookmarkable)`);
        s.deliveredRevision = msg.revision;
      }
      if (terminal) {
        this.streams.delete(s);
        this.unindex(s);
      }
      if (s.listener(msg) === false) s.paused = true;
    }
  }

  private trimHistory(): void {
    while (this.historyEvents > this.opts.watchHistoryEventsMax || this.historyBytes > this.opts.watchHistoryBytesMax) {
      const oldest = this.history.shift();
      assert(oldest !== undefined, 'history count without history');
      this.historyEvents -= oldest.events.length;
      this.historyBytes -= oldest.bytes;
      this.compactRevisionValue = oldest.revision;
    }
  }
}
