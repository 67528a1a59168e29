// The receiving side of peer RPC: the methods the peer link (link-server.ts)
// calls with a MessagePack body from a member that signed the link. `push`
// stores a group of users that a peer found this node owns, through the
// local pusher, so idempotency records and seqs live with the inboxes.
// `inbox` serves reads and cursor writes of the inboxes this node owns to
// nodes holding their connections; `stored` is the owner telling such a node
// that messages were stored; `volatile` asks it to write a qos 0 message to
// its connections of those users now; `kick` kicks the user's connections
// on this node; `broadcast` starts a job another member started, under its
// id, and `broadcastStatus` answers this node's progress on one; `publish`
// publishes on the topic's owner, `pub` writes an owner's publish to this
// node's subscribers, `topicInterest` tells the owner which of its topics
// have subscribers on the calling member (topic-interest.ts), `readTopic` reads an owned topic's history,
// `topicRelease` answers a new owner's pull of a topic's history and
// `topicImport` takes a previous owner's batch of them (cluster-topics.ts,
// topic-handover.ts); `handoff` and `drain` (peer-handoff.ts) move a drained
// member's inboxes; `ping` answers a caller's liveness probe (peer-client.ts).
import { ApiError } from '../center/errors.js';
import type { Pusher, PushRequest } from '../pusher.js';
import type { AppRegistry } from '../apps.js';
import type { DeviceCursor, Json, Saver } from '../saver/saver.js';
import type { Delivery } from '../delivery.js';
import { serveInboxCall, LAST_SEQS_BATCH_MAX, SET_CURSORS_BATCH_MAX, type CursorWrite, type InboxCall } from '../inbox.js';
import type { StoredNotice, VolatileNotice } from '../stored-notifier.js';
import type { Hub } from '../hub.js';
import { writeVolatile } from '../pusher.js';
import type { Broadcasts } from '../broadcast.js';
import { jobView } from '../cluster-broadcasts.js';
import { writePub, type ClusterTopics } from '../cluster-topics.js';
import { parseTopicImport } from '../topic-handover.js';
import { parseInterestCall } from '../topic-interest.js';
import { PING_METHOD } from './peer-client.js';
import { handoffMethods, type HandoffDeps } from './peer-handoff.js';
import type { HandoffGate } from '../handoff-gate.js';

export interface PeerPush {
  readonly app: string;
  readonly users: readonly string[];
  readonly data: Json;
  readonly qos: 0 | 1;
  readonly ttl?: number;
  /** The service's idempotency key, if it gave one: the owner keeps the record for its group. */
  readonly id?: string;
  /** The message id shared by every owner's part of one request. */
  readonly messageId: string;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((u) => typeof u === 'string');
}

/** Checks the shape a peer sent; the receiving node already validated the service's request. */
export function parsePeerPush(v: unknown): PeerPush {
  if (typeof v !== 'object' || v === null) throw new ApiError('invalid', 'peer push: not a map');
  const o = v as Record<string, unknown>;
  if (typeof o.app !== 'string' || !isStringArray(o.users) || o.users.length === 0) throw new ApiError('invalid', 'peer push: bad app or users');
  if (o.qos !== 0 && o.qos !== 1) throw new ApiError('invalid', 'peer push: bad qos');
  if (typeof o.messageId !== 'string') throw new ApiError('invalid', 'peer push: bad messageId');
  if (o.ttl !== undefined && typeof o.ttl !== 'number') throw new ApiError('invalid', 'peer push: bad ttl');
  if (o.id !== undefined && typeof o.id !== 'string') throw new ApiError('invalid', 'peer push: bad id');
  return {
    app: o.app,
    users: o.users,
    data: (o.data ?? null) as Json,
    qos: o.qos,
    messageId: o.messageId,
    ...(typeof o.ttl === 'number' ? { ttl: o.ttl } : {}),
    ...(typeof o.id === 'string' ? { id: o.id } : {}),
  };
}

export function toPushRequest(p: PeerPush): PushRequest {
  return { users: p.users, data: p.data, qos: p.qos, ttlSeconds: p.ttl, id: p.id, messageId: p.messageId };
}

function str(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw new ApiError('invalid', `peer call: bad "${k}"`);
  return v;
}

function int(o: Record<string, unknown>, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ApiError('invalid', `peer call: bad "${k}"`);
  return v;
}

function record(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ApiError('invalid', 'peer call: not a map');
  return v as Record<string, unknown>;
}

function parseCursorWrite(o: Record<string, unknown>): CursorWrite {
  const c = record(o.cursor);
  const cursor: DeviceCursor = { acked: int(c, 'acked'), pendingSeq: int(c, 'pendingSeq'), pendingSends: int(c, 'pendingSends'), broadcastPos: int(c, 'broadcastPos') };
  return { app: str(o, 'app'), user: str(o, 'user'), device: str(o, 'device'), cursor };
}

export function parseInboxCall(v: unknown): InboxCall {
  const o = record(v);
  if (o.op === 'lastSeqs') {
    if (!Array.isArray(o.keys) || o.keys.length > LAST_SEQS_BATCH_MAX) throw new ApiError('invalid', 'peer inbox call: bad "keys"');
    return { op: 'lastSeqs', keys: o.keys.map((k: unknown) => ({ app: str(record(k), 'app'), user: str(record(k), 'user') })) };
  }
  if (o.op === 'setCursors') {
    if (!Array.isArray(o.writes) || o.writes.length > SET_CURSORS_BATCH_MAX) throw new ApiError('invalid', 'peer inbox call: bad "writes"');
    return { op: 'setCursors', writes: o.writes.map((w: unknown) => parseCursorWrite(record(w))) };
  }
  const app = str(o, 'app');
  const user = str(o, 'user');
  switch (o.op) {
    case 'lastSeq':
      return { op: 'lastSeq', app, user };
    case 'read':
      return { op: 'read', app, user, after: int(o, 'after'), limit: Math.min(int(o, 'limit'), 1024) };
    case 'cursor':
      return { op: 'cursor', app, user, device: str(o, 'device') };
    case 'setCursor':
      return { op: 'setCursor', ...parseCursorWrite(o) };
    default:
      throw new ApiError('invalid', 'peer inbox call: bad "op"');
  }
}

export function parseStoredNotice(v: unknown): StoredNotice {
  const o = record(v);
  if (!Array.isArray(o.users)) throw new ApiError('invalid', 'peer stored: bad "users"');
  const users = o.users.map((u: unknown) => {
    const r = record(u);
    return { user: str(r, 'user'), seq: int(r, 'seq') };
  });
  return { app: str(o, 'app'), id: str(o, 'id'), data: (o.data ?? null) as Json, ts: int(o, 'ts'), expiresAt: int(o, 'expiresAt'), users };
}

export function parseVolatileNotice(v: unknown): VolatileNotice {
  const o = record(v);
  if (!isStringArray(o.users)) throw new ApiError('invalid', 'peer volatile: bad "users"');
  return { app: str(o, 'app'), id: str(o, 'id'), data: (o.data ?? null) as Json, ts: int(o, 'ts'), users: o.users };
}


/** A method of the peer link: a plain async function of the call's body and the calling member. */
export type PeerMethod = (body: unknown, fromPeer: string) => Promise<unknown>;

export type PeerMethodDeps = { apps: AppRegistry; pusher: Pusher; saver: Saver; delivery: Delivery; hub: Hub; broadcasts: Broadcasts; topics: ClusterTopics; gate: HandoffGate } & HandoffDeps;

/** Every method the peer link serves (link-server.ts), by name. */
export function peerMethods(deps: PeerMethodDeps): ReadonlyMap<string, PeerMethod> {
  return new Map<string, PeerMethod>([
    ...handoffMethods(deps),
    [
      'push',
      async (body) => {
        const p = parsePeerPush(body);
        // The owner applies its own view of the app (limits), as for a push it received itself.
        const config = deps.apps.get(p.app);
        if (config === undefined) throw new ApiError('notReady', `owner has no app ${p.app} (yet)`);
        return deps.pusher.push(config, toPushRequest(p));
      },
    ],
    ['inbox', async (body) => serveInboxCall(deps.saver, deps.gate, parseInboxCall(body))],
    [
      'stored',
      async (body) => {
        const n = parseStoredNotice(body);
        for (const u of n.users) deps.delivery.stored(n.app, u.user, { seq: u.seq, id: n.id, data: n.data, ts: n.ts, expiresAt: n.expiresAt });
        return null;
      },
    ],
    [
      'kick',
      async (body) => {
        const o = record(body);
        const only = { ...(typeof o.device === 'string' ? { device: o.device } : {}), ...(typeof o.session === 'string' ? { session: o.session } : {}) };
        return deps.pusher.kick(str(o, 'app'), str(o, 'user'), str(o, 'reason'), only);
      },
    ],
    [
      'broadcast',
      async (body) => {
        const o = record(body);
        const job = await deps.broadcasts.start(str(o, 'app'), (o.data ?? null) as Json, int(o, 'ttl'), Math.max(1, int(o, 'rate')), str(o, 'job'));
        return job.job;
      },
    ],
    [
      'broadcastStatus',
      async (body) => {
        const o = record(body);
        const j = deps.broadcasts.get(str(o, 'app'), str(o, 'job'));
        return j === undefined ? null : jobView(j);
      },
    ],
    [
      'publish',
      async (body) => {
        const o = record(body);
        return deps.topics.publishHere(str(o, 'app'), str(o, 'topic'), (o.data ?? null) as Json);
      },
    ],
    [
      'pub',
      async (body) => {
        const o = record(body);
        const prev = o.prev === undefined ? {} : { prev: int(o, 'prev') };
        writePub(deps.hub, { app: str(o, 'app'), topic: str(o, 'topic'), offset: int(o, 'offset'), ...prev, data: (o.data ?? null) as Json, ts: int(o, 'ts') });
        return null;
      },
    ],
    ['topicInterest', async (body, from) => deps.topics.interestCall(from, parseInterestCall(body))],
    [PING_METHOD, async () => null],
    [
      'readTopic',
      async (body) => {
        const o = record(body);
        return deps.topics.historyHere(str(o, 'app'), str(o, 'topic'), int(o, 'after'));
      },
    ],
    [
      'topicRelease',
      async (body) => {
        const o = record(body);
        return deps.topics.release(str(o, 'app'), str(o, 'topic'));
      },
    ],
    [
      'topicImport',
      async (body) => {
        const call = parseTopicImport(body);
        let records = 0;
        for (const t of call.topics) records += await deps.topics.imported(call.mark, t.app, t.topic, t.records);
        deps.metrics.topicRecordsIn.labels(call.move).inc(records);
        return { topics: call.topics.length, records };
      },
    ],
    [
      'volatile',
      async (body) => {
        const n = parseVolatileNotice(body);
        const counts = writeVolatile(deps.hub, n.app, n.users, n);
        return n.users.map((u) => counts.get(u) ?? 0);
      },
    ],
  ]);
}
