// Sending topic histories to their new owners over peer RPC (`topicImport`):
// a drained member hands every topic it holds, a previous owner hands a
// joining member the topics it now owns, after the users' inboxes
// (handover.ts). The caller first makes sure no publish is still being
// stored here on a topic that moves (ClusterTopics.settled): what is read is
// final. Histories are short (cluster-topics.ts: the last 100 records within
// 5 minutes), so a topic's history goes whole; topics go in calls of at most
// TOPICS_PER_CALL topics and about TOPIC_CALL_BYTES_MAX bytes (a topic alone
// may be larger, up to its own cap). An import only adds records under their
// own offsets, so a hand-over that starts again repeats nothing harmful.
import type { Member } from '../../keeper/src/keeper.js';
import { ApiError } from './center/errors.js';
import { asRecords } from './cluster-topics.js';
import type { Metrics } from './metrics.js';
import type { MoveKind } from './ownership.js';
import type { Peers } from './peer/peers.js';
import type { Saver, TopicKey, TopicRecord } from './saver/saver.js';

/** Topics read per page of the store, and sent per call at most. */
export const TOPICS_PER_CALL = 256;
/** A call is closed once its records' data passed this many bytes (as JSON). */
export const TOPIC_CALL_BYTES_MAX = 4 * 1024 * 1024;

export interface TopicHandoff extends TopicKey {
  readonly records: readonly TopicRecord[];
}

interface Call {
  readonly topics: TopicHandoff[];
  bytes: number;
}

/** Hands each topic `newOwner` names (undefined: it stays here) to that owner; answers the topics and records the owners took. */
export async function handTopics(saver: Saver, peers: Peers, metrics: Metrics, move: MoveKind, mark: string, newOwner: (app: string, topic: string) => Member | undefined): Promise<{ topics: number; records: number }> {
  let topics = 0;
  let records = 0;
  for (let after: TopicKey | undefined; ; ) {
    const page = await saver.listTopics(after, TOPICS_PER_CALL);
    const byOwner = new Map<string, { member: Member; calls: Call[] }>();
    for (const k of page) {
      const owner = newOwner(k.app, k.topic);
      if (owner === undefined) continue;
      const recs = await saver.readTopic(k.app, k.topic, 0);
      if (recs.length === 0) continue;
      const bytes = recs.reduce((n, r) => n + JSON.stringify(r.data).length, 0);
      let g = byOwner.get(owner.id);
      if (g === undefined) byOwner.set(owner.id, (g = { member: owner, calls: [] }));
      const last = g.calls[g.calls.length - 1];
      if (last !== undefined && last.bytes + bytes <= TOPIC_CALL_BYTES_MAX) {
        last.topics.push({ ...k, records: recs });
        last.bytes += bytes;
      } else {
        g.calls.push({ topics: [{ ...k, records: recs }], bytes });
      }
    }
    // One owner and one call at a time, as for inboxes: a move must not crowd out live traffic on the peer links.
    for (const g of byOwner.values()) {
      for (const call of g.calls) {
        const n = await peers.of(g.member).call('topicImport', { move, mark, topics: call.topics });
        if (typeof n !== 'object' || n === null || !('topics' in n) || !('records' in n) || typeof n.topics !== 'number' || typeof n.records !== 'number') {
          throw new Error(`${g.member.id} answered a topic import without counts`);
        }
        topics += n.topics;
        records += n.records;
        metrics.topicRecordsOut.labels(move).inc(n.records);
      }
    }
    after = page[page.length - 1];
    if (page.length < TOPICS_PER_CALL) return { topics, records };
  }
}

/** A previous owner's `topicImport` call as the new owner takes it: a bad shape is refused (400), nothing stored. */
export function parseTopicImport(v: unknown): { move: MoveKind; mark: string; topics: TopicHandoff[] } {
  const bad = (what: string): ApiError => new ApiError('invalid', `peer topicImport: ${what}`);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('not a map');
  const o = v as Record<string, unknown>;
  if (o.move !== 'drain' && o.move !== 'join') throw bad('bad "move"');
  if (typeof o.mark !== 'string' || o.mark.length === 0) throw bad('bad "mark"');
  if (!Array.isArray(o.topics) || o.topics.length > TOPICS_PER_CALL) throw bad(`"topics" must be a list of at most ${TOPICS_PER_CALL}`);
  const topics = o.topics.map((t: unknown): TopicHandoff => {
    if (typeof t !== 'object' || t === null || Array.isArray(t)) throw bad('a topic is not a map');
    const r = t as Record<string, unknown>;
    if (typeof r.app !== 'string' || typeof r.topic !== 'string') throw bad('a topic without "app" or "topic"');
    try {
      return { app: r.app, topic: r.topic, records: asRecords(r.records) };
    } catch (err) {
      throw bad(err instanceof Error ? err.message : String(err));
    }
  });
  return { move: o.move, mark: o.mark, topics };
}
