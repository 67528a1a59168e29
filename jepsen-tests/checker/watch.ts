// The watch checker, after etcd's robustness `validate/watch.go`. Each check's
// failure message quotes the guarantee it defends (PROTOCOL.md: "watches
// deliver every event after fromRevision in order, exactly once per stream";
// keeper/src/watch-hub.ts lists them one by one).
//
// The truth a stream is held to is built from three sources, all of which
// must agree: the writes the keeper acknowledged (key, value, revision), the
// final linearizable read (each key's value at its modRevision), and what any
// stream delivered for a write with an unknown outcome (values are unique, so
// an event names the write it came from). An event seen on one stream is then
// owed to every other stream that covers its revision.
import type { KvHistory, KvOperation, WatchItem, WatchStream } from './kv-history.js';

export const WATCH_GUARANTEES = {
  ordered: 'events arrive in revision order: revisions never go down, and the events of one revision come together, in key order',
  unique: 'each event is delivered at most once per stream',
  reliable: 'every matching event from fromRevision on is delivered, with no gap, until the stream ends',
  resumable: 'a stream resumed from lastRevision + 1 continues exactly where the previous one stopped: nothing before fromRevision, nothing lost in between',
  bookmarkable: 'a progress notification at revision p promises that every matching event up to p was delivered before it',
  faithful: 'a watch event is a write the keeper made: same key, value and revision as the acknowledged write, and the same on every stream',
} as const;
export type WatchGuarantee = keyof typeof WATCH_GUARANTEES;

export interface WatchViolation {
  readonly guarantee: WatchGuarantee;
  readonly watcher: string;
  readonly stream: number;
  readonly detail: string;
}

export interface WatchCheckResult {
  readonly ok: boolean;
  readonly violations: readonly WatchViolation[];
  readonly stats: { readonly streams: number; readonly events: number; readonly progress: number; readonly truthEvents: number };
}

interface TruthEvent {
  readonly kind: 'put' | 'delete';
  readonly value: string | undefined;
  /** Where it came from, for messages. */
  readonly source: string;
}

type EventItem = Extract<WatchItem, { type: 'event' }>;

const eventKey = (revision: number, key: string): string => `${revision}\u0000${key}`;

function describeEvent(e: { kind: 'put' | 'delete'; value?: string | undefined }): string {
  return e.kind === 'put' ? `put ${JSON.stringify(e.value)}` : 'delete';
}

export function checkWatches(h: KvHistory): WatchCheckResult {
  const violations: WatchViolation[] = [];
  const v = (guarantee: WatchGuarantee, s: WatchStream, detail: string): void => {
    violations.push({ guarantee, watcher: s.watcher, stream: s.stream, detail });
  };

  // What the workload attempted, by value (values are unique) and deletes by key.
  const writeOf = new Map<string, KvOperation>();
  const deleteTried = new Set<string>();
  const truth = new Map<string, TruthEvent & { readonly revision: number; readonly key: string }>();
  const addTruth = (revision: number, key: string, e: TruthEvent): TruthEvent | undefined => {
    const k = eventKey(revision, key);
    const had = truth.get(k);
    if (had !== undefined) return had;
    truth.set(k, { ...e, revision, key });
    return undefined;
  };
  for (const op of h.operations) {
    const i = op.input;
    if (i.op === 'write' || i.op === 'cas') {
      writeOf.set(i.value, op);
      if (op.output.kind === 'written') addTruth(op.output.revision, op.key, { kind: 'put', value: i.value, source: `acknowledged write by client ${op.clientId}` });
    } else if (i.op === 'delete') {
      deleteTried.add(op.key);
      if (op.output.kind === 'deleted' && op.output.deleted > 0) addTruth(op.output.revision, op.key, { kind: 'delete', value: undefined, source: `acknowledged delete by client ${op.clientId}` });
    }
  }
  for (const kv of h.finalRead?.kvs ?? []) addTruth(kv.modRevision, kv.key, { kind: 'put', value: kv.value, source: 'the final linearizable read' });

  // faithful: every delivered event is a write that was attempted, agrees with the acknowledged revision and with every other stream.
  for (const s of h.watches) {
    for (const it of s.items) {
      if (it.type !== 'event') continue;
      const e = { kind: it.kind, value: it.value };
      if (it.kind === 'put') {
        const w = it.value === undefined ? undefined : writeOf.get(it.value);
        if (w === undefined || w.key !== it.key) {
          v('faithful', s, `event put ${it.key}=${JSON.stringify(it.value)} @${it.revision}: no client wrote that value to that key`);
          continue;
        }
        if (w.output.kind === 'written' && w.output.revision !== it.revision) {
          v('faithful', s, `event put ${it.key}=${JSON.stringify(it.value)} @${it.revision}, but the write was acknowledged at revision ${w.output.revision}`);
          continue;
        }
      } else if (!deleteTried.has(it.key)) {
        v('faithful', s, `event delete ${it.key} @${it.revision}: no client deleted that key`);
        continue;
      }
      const had = addTruth(it.revision, it.key, { ...e, source: `stream ${s.watcher}#${s.stream}` });
      if (had !== undefined && (had.kind !== e.kind || had.value !== e.value)) {
        v('faithful', s, `event ${describeEvent(e)} on ${it.key} @${it.revision}, but ${had.source} says ${describeEvent(had)} at that revision`);
      }
    }
  }

  const truthList = [...truth.values()].sort((a, b) => a.revision - b.revision || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let events = 0;
  let progress = 0;
  for (const s of h.watches) {
    const delivered = new Set<string>();
    let last: EventItem | undefined;
    /** Highest progress revision seen on this stream. */
    let vouched = 0;
    for (const it of s.items) {
      if (it.type === 'progress') {
        progress++;
        // bookmarkable: every truth event up to it.revision was delivered before this line.
        for (const t of truthList) {
          if (t.revision > it.revision) break;
          if (t.revision < s.fromRevision || !t.key.startsWith(s.prefix)) continue;
          if (!delivered.has(eventKey(t.revision, t.key))) v('bookmarkable', s, `progress ${it.revision} sent before the event ${describeEvent(t)} on ${t.key} @${t.revision} (from ${t.source})`);
        }
        vouched = Math.max(vouched, it.revision);
        continue;
      }
      events++;
      const k = eventKey(it.revision, it.key);
      if (it.revision < s.fromRevision) v('resumable', s, `event on ${it.key} @${it.revision} on a stream started from revision ${s.fromRevision}`);
      if (delivered.has(k)) {
        v('unique', s, `event on ${it.key} @${it.revision} delivered twice`);
      } else if (last !== undefined && (it.revision < last.revision || (it.revision === last.revision && it.key < last.key))) {
        v('ordered', s, `event on ${it.key} @${it.revision} after the event on ${last.key} @${last.revision}`);
      }
      if (it.revision <= vouched) v('bookmarkable', s, `event on ${it.key} @${it.revision} arrived after progress ${vouched}`);
      delivered.add(k);
      last = it;
    }
    // A cancelled stream's lastRevision is a bookmark too: resuming from it + 1 must lose nothing.
    if (s.end.reason === 'cancelled') {
      for (const t of truthList) {
        if (t.revision > s.end.lastRevision) break;
        if (t.revision < s.fromRevision || !t.key.startsWith(s.prefix)) continue;
        if (!delivered.has(eventKey(t.revision, t.key))) v('bookmarkable', s, `stream cancelled (${s.end.code}) at lastRevision ${s.end.lastRevision} without the event ${describeEvent(t)} on ${t.key} @${t.revision} (from ${t.source})`);
      }
    }
    // reliable: no truth event between fromRevision and the last delivered event is missing.
    if (last !== undefined) {
      for (const t of truthList) {
        if (t.revision > last.revision) break;
        if (t.revision < s.fromRevision || !t.key.startsWith(s.prefix)) continue;
        if (!delivered.has(eventKey(t.revision, t.key))) v('reliable', s, `missing event ${describeEvent(t)} on ${t.key} @${t.revision} (from ${t.source}); stream from ${s.fromRevision}, delivered up to ${last.revision}`);
      }
    }
  }

  // resumable: each resumed stream starts right after what its predecessor delivered or vouched for.
  const byWatcher = new Map<string, WatchStream[]>();
  for (const s of h.watches) {
    let l = byWatcher.get(s.watcher);
    if (l === undefined) byWatcher.set(s.watcher, (l = []));
    l.push(s);
  }
  for (const streams of byWatcher.values()) {
    streams.sort((a, b) => a.stream - b.stream);
    for (let i = 1; i < streams.length; i++) {
      const prev = streams[i - 1];
      const cur = streams[i];
      if (prev === undefined || cur === undefined || cur.startedFresh || prev.end.reason === 'compacted') continue;
      const prevLast = lastRevision(prev);
      if (cur.fromRevision !== prevLast + 1) v('resumable', cur, `resumed from ${cur.fromRevision}, but the previous stream had reached ${prevLast}`);
    }
  }

  return { ok: violations.length === 0, violations, stats: { streams: h.watches.length, events, progress, truthEvents: truth.size } };
}

/** The revision up to which a stream delivered everything: its last event or progress, or fromRevision - 1. */
export function lastRevision(s: WatchStream): number {
  let r = s.fromRevision - 1;
  for (const it of s.items) r = Math.max(r, it.revision);
  if (s.end.reason === 'cancelled') r = Math.max(r, s.end.lastRevision);
  return r;
}

export function describeWatchViolation(x: WatchViolation): string {
  return `[${x.guarantee}] ${x.watcher}#${x.stream}: ${x.detail}\n    guarantee: ${WATCH_GUARANTEES[x.guarantee]}`;
}
