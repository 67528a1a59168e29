// Topics across the cluster: each topic has an owner node (rendezvous hashing,
// like users) that stores its history and assigns its offsets, so offsets are
// one sequence per topic whichever node a publish arrives at. The owner writes
// a publish to its own subscribers and sends it to every other member, which
// writes it to theirs (at most once: a member that cannot be reached misses
// it, and its subscribers can recover it from the history with `after`).
import type { Keeper } from '../../keeper/src/keeper.js';
import type { Hub } from './hub.js';
import type { Json, Saver, TopicRecord } from './saver/saver.js';
import type { Peers } from './peer/peers.js';
import { PeerError } from './peer/errors.js';
import { ApiError } from './center/errors.js';
import { SharedFrame } from './protocol/codec.js';
import { ownerOf } from './ring.js';
import { TopicOffsets } from './topic-offsets.js';

export interface TopicPub {
  readonly app: string;
  readonly topic: string;
  readonly offset: number;
  readonly data: Json;
  readonly ts: number;
}

/** Writes a publish to this node's subscribers of the topic. */
export function writePub(hub: Hub, p: TopicPub): void {
  const frame = new SharedFrame({ t: 'pub', app: p.app, topic: p.topic, offset: p.offset, data: p.data, ts: p.ts });
  for (const c of hub.subscribers(p.app, p.topic)) c.writeShared(frame);
}

function asRecords(v: unknown): TopicRecord[] {
  if (!Array.isArray(v)) throw new Error('topic owner answered history with no list');
  return v.map((r: unknown) => {
    if (typeof r !== 'object' || r === null) throw new Error('topic owner answered a malformed record');
    const o = r as Record<string, unknown>;
    if (typeof o.offset !== 'number' || typeof o.ts !== 'number') throw new Error('topic owner answered a record without offset or ts');
    return { offset: o.offset, ts: o.ts, data: (o.data ?? null) as Json };
  });
}

export class ClusterTopics {
  private readonly offsets: TopicOffsets;

  constructor(
    private readonly nodeId: string,
    private readonly keeper: Keeper,
    private readonly saver: Saver,
    private readonly hub: Hub,
    private readonly peers: Peers,
  ) {
    this.offsets = new TopicOffsets(keeper, (app, topic) => saver.topicLast(app, topic));
  }

  private owner(app: string, topic: string) {
    const o = ownerOf(this.keeper.cluster().members, `${app}\u0000${topic}\u0000topic`);
    return o === undefined || o.id === this.nodeId ? undefined : o;
  }

  /** Publishes through the topic's owner; answers the offset. */
  async publish(app: string, topic: string, data: Json): Promise<number> {
    const owner = this.owner(app, topic);
    if (owner === undefined) return this.publishHere(app, topic, data);
    try {
      const offset = await this.peers.of(owner).call('publish', { app, topic, data });
      if (typeof offset !== 'number') throw new ApiError('internal', 'topic owner answered no offset');
      return offset;
    } catch (err) {
      if (!(err instanceof PeerError)) throw err;
      throw new ApiError('peerUnavailable', `owner ${owner.id} of topic ${topic}: ${err.message}`, { extra: { node: owner.id, reason: err.code }, cause: err });
    }
  }

  /** The owner's side: store, write to local subscribers, send to the other members. */
  async publishHere(app: string, topic: string, data: Json): Promise<number> {
    const members = this.keeper.cluster().members;
    const offset = await this.offsets.next(app, topic, members.map((m) => m.id).join(','));
    const r = await this.saver.publish(app, topic, data, offset);
    const pub: TopicPub = { app, topic, offset: r.offset, data, ts: r.ts };
    writePub(this.hub, pub);
    const others = members.filter((m) => m.id !== this.nodeId);
    await Promise.all(others.map((m) => this.peers.of(m).call('pub', pub).catch(() => undefined)));
    return r.offset;
  }

  /** Kept history after `after`, from the topic's owner. */
  async history(app: string, topic: string, after: number): Promise<TopicRecord[]> {
    const owner = this.owner(app, topic);
    if (owner === undefined) return this.saver.readTopic(app, topic, after);
    return asRecords(await this.peers.of(owner).call('readTopic', { app, topic, after }));
  }
}
