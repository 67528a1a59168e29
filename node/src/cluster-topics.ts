// Topics across the cluster: each topic has an owner node (rendezvous hashing,
// like users) that stores its history and assigns its offsets, so offsets are
// one sequence per topic whichever node a publish arrives at. The owner writes
// a publish to its own subscribers and sends it to every other member with
// subscribers of the topic (topic-interest.ts tells the owner, topic-audience.ts
// is its record; a member it has no whole record of gets every pub), which
// writes it to theirs (at most once per send: a member that cannot be reached
// misses it; its node fills the hole from the history at the topic's next
// pub, and the owner sends the topic's newest pub again until one gets
// through: topic-resends.ts).
//
// A topic's history moves with the topic when the owners change, as a user's
// inbox does (ownership.ts): the previous owner hands every topic it no longer
// owns to the new owner in batches (a drain, a join's release:
// topic-handover.ts), and a new owner that needs a topic before its batch
// came (a publish, a history read) pulls it from the previous owner first.
// The previous owner answers only once its own view no longer makes it the
// owner (read linearizably) and every publish it had started on the topic is
// stored and sent to the members, so what it hands over is final and the new
// owner's publishes (higher offsets) reach subscribers after its own: a
// publish reaching it later is refused (503) and repeated through the new
// owner. An owner publishes only while its keeper member is ready (it heard
// from the leader within 600 ms and applied the leader's commit index of a
// read within 900 ms), so one cut off from the keeper's quorum, which may have
// missed a change of owner, stops well before a new owner gives up a pull
// that gets no answer (2 s) and publishes without its history.
import type { Keeper, Member } from '../../keeper/src/keeper.js';
import type { Hub } from './hub.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { Json, PublishedRecord, Saver, TopicRecord } from './saver/saver.js';
import type { PullPeers } from './handoff-gate.js';
import { PeerError } from './peer/errors.js';
import { ApiError } from './center/errors.js';
import { SharedFrame } from './protocol/codec.js';
import { topicKey, topicOfKey, type Ownership, type Placement } from './ownership.js';
import { TopicOffsets } from './topic-offsets.js';
import { TOPIC_RESEND_DEFAULTS, TopicResends, type TopicHead, type TopicResendOptions } from './topic-resends.js';
import { TOPIC_AUDIENCE_DEFAULTS, TopicAudience } from './topic-audience.js';
import { TOPIC_INTEREST_DEFAULTS, TopicInterest, type InterestCall, type TopicHeads, type TopicInterestOptions } from './topic-interest.js';

export interface TopicPub {
  readonly app: string;
  readonly topic: string;
  readonly offset: number;
  /** The offset stored before it on the owner (absent from a member of an older version): a subscriber's node that has less fills the hole from the history. */
  readonly prev?: number;
  readonly data: Json;
  readonly ts: number;
}

/** A pull that does not answer within this goes on without the history (it is still handed over in the batches). */
const PULL_TIMEOUT_MS = 2000;
/** A failed pull is not tried again for this long: publishes must not wait on an unreachable previous owner each time. */
const PULL_RETRY_MS = 5000;
/** Pulls remembered (one per topic and move); past it the oldest are forgotten and would be pulled again (harmless). */
const PULLS_MAX = 100_000;

/** Writes a publish to this node's subscribers of the topic. */
export function writePub(hub: Hub, p: TopicPub): void {
  const frame = new SharedFrame({ t: 'pub', app: p.app, topic: p.topic, offset: p.offset, data: p.data, ts: p.ts });
  const key = `${p.app}\u0000${p.topic}`;
  for (const c of hub.subscribers(p.app, p.topic)) c.writePub(key, p.offset, p.prev, frame);
}

export function asRecords(v: unknown): TopicRecord[] {
  if (!Array.isArray(v)) throw new Error('topic owner answered history with no list');
  return v.map((r: unknown) => {
    if (typeof r !== 'object' || r === null) throw new Error('topic owner answered a malformed record');
    const o = r as Record<string, unknown>;
    if (typeof o.offset !== 'number' || typeof o.ts !== 'number') throw new Error('topic owner answered a record without offset or ts');
    return { offset: o.offset, ts: o.ts, data: (o.data ?? null) as Json };
  });
}

/** What topics need of the ring (ownership.ts). */
export type TopicOwnership = Pick<Ownership, 'placementOf' | 'refresh' | 'ringMembers'>;

export class ClusterTopics {
  private readonly offsets: TopicOffsets;
  /** Publishes started here as owner and not yet stored and sent, by topic key: a hand-over waits for them. */
  private readonly publishing = new Map<string, Set<Promise<void>>>();
  /** History reads in flight, by topic and `after`: the subscriptions of one node that missed the same pub share one. */
  private readonly reading = new Map<string, Promise<TopicRecord[]>>();
  /** Pulls in progress or done, by move mark and topic key, so a topic is pulled once per move: true once its history is here. */
  private readonly pulls = new Map<string, Promise<boolean>>();
  private readonly resends: TopicResends;
  /** As owner: which members have subscribers of which topics (topic-audience.ts). */
  private readonly audience = new TopicAudience({ ...TOPIC_AUDIENCE_DEFAULTS, now: () => performance.now() });
  /** As member: which owners must send this node which topics (topic-interest.ts). */
  private readonly interest: TopicInterest;

  constructor(
    private readonly nodeId: string,
    private readonly keeper: Keeper,
    private readonly ownership: TopicOwnership,
    private readonly saver: Saver,
    private readonly hub: Hub,
    private readonly peers: PullPeers,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    resend: Partial<Pick<TopicResendOptions, 'intervalMs' | 'topicsMax'>> = {},
    interest: Partial<TopicInterestOptions> = {},
  ) {
    this.offsets = new TopicOffsets(keeper, (app, topic) => saver.topicLast(app, topic));
    this.resends = new TopicResends({
      ...TOPIC_RESEND_DEFAULTS,
      ...resend,
      send: async (id, head) => {
        const member = this.keeper.cluster().members.find((m) => m.id === id);
        if (member === undefined) return false;
        const pub = await this.storedPub(head);
        if (pub !== undefined) await this.peers.of(member).call('pub', pub);
        return true;
      },
      isMember: (id) => this.keeper.cluster().members.some((m) => m.id === id),
      onResent: (result) => this.metrics.topicPubResends[result].inc(),
    });
    this.interest = new TopicInterest(
      {
        nodeId,
        members: () => this.keeper.cluster().members,
        placementOf: (key) => this.ownership.placementOf(key),
        sig: () => this.ringSignature(),
        hasSubscribers: (key) => this.subscribersOf(key).size > 0,
        call: (member, body) => this.peers.of(member).call('topicInterest', body),
        onHeads: (heads) => this.caughtUpTo(heads),
        onSynced: () => this.metrics.topicInterestSyncs.inc(),
      },
      { ...TOPIC_INTEREST_DEFAULTS, ...interest },
    );
  }

  private subscribersOf(key: string): ReturnType<Hub['subscribers']> {
    const { app, topic } = topicOfKey(key);
    return this.hub.subscribers(app, topic);
  }

  /** An owner's newest offsets: the subscriptions here that are behind read the hole from the history. */
  private caughtUpTo(heads: TopicHeads): void {
    for (const [key, head] of heads) {
      const { app, topic } = topicOfKey(key);
      for (const c of this.hub.subscribers(app, topic)) c.topicHead(`${app}\u0000${topic}`, head);
    }
  }

  /** A subscription to the topic was made here: resolves once the topic's owner sends this node its pubs. */
  subscribed(app: string, topic: string): Promise<void> {
    return this.interest.want(topicKey(app, topic));
  }

  /** The owner's side of a member's `topicInterest` call. */
  async interestCall(from: string, call: InterestCall): Promise<boolean | TopicHeads> {
    switch (call.op) {
      case 'ping':
        return this.audience.ping(from, call.sig, call.digest);
      case 'change':
        return this.audience.change(from, call);
      case 'sync': {
        this.audience.keepOnly(new Set(this.keeper.cluster().members.map((m) => m.id)));
        this.audience.sync(from, call);
        // The newest offset of each listed topic owned here: the member's subscriptions may have missed pubs not sent to it.
        const heads: [string, number][] = [];
        for (const key of call.keys) {
          if (this.ownership.placementOf(key).kind === 'elsewhere') continue;
          const { app, topic } = topicOfKey(key);
          const head = await this.saver.topicLast(app, topic).catch(() => 0);
          if (head > 0) heads.push([key, head]);
        }
        return heads;
      }
    }
  }

  /** Topic keys held as owner of which members have subscribers. */
  audienceKeys(): number {
    return this.audience.size();
  }

  /** The pub at `head` as the history holds it, or undefined once it is gone. */
  private async storedPub(head: TopicHead): Promise<TopicPub | undefined> {
    const r = (await this.saver.readTopic(head.app, head.topic, head.offset - 1)).find((x) => x.offset === head.offset);
    return r === undefined ? undefined : { ...head, data: r.data, ts: r.ts };
  }

  /** Starts sending missed pubs again (topic-resends.ts) and keeping owners told of this node's topics (topic-interest.ts). */
  start(): void {
    this.resends.start();
    this.interest.start();
  }

  stop(): void {
    this.resends.stop();
    this.interest.stop();
  }

  /** Topics whose newest pub `member` missed and is owed. */
  owedTo(member: string): number {
    return this.resends.owedTo(member);
  }

  /** The voters that own topics now: a change voids offset blocks (topic-offsets.ts) and interest records (topic-audience.ts). */
  ringSignature(): string {
    return this.ownership
      .ringMembers()
      .filter((m) => m.role === 'voter')
      .map((m) => m.id)
      .join(',');
  }

  /** Publishes through the topic's owner; answers the offset. */
  async publish(app: string, topic: string, data: Json): Promise<number> {
    const key = topicKey(app, topic);
    const p = this.ownership.placementOf(key);
    if (p.kind !== 'elsewhere') return this.publishPlaced(app, topic, data, key, p);
    try {
      const offset = await this.peers.of(p.owner).call('publish', { app, topic, data });
      if (typeof offset !== 'number') throw new ApiError('internal', 'topic owner answered no offset');
      return offset;
    } catch (err) {
      if (!(err instanceof PeerError)) throw err;
      throw new ApiError('peerUnavailable', `owner ${p.owner.id} of topic ${topic}: ${err.message}`, { extra: { node: p.owner.id, reason: err.code }, cause: err });
    }
  }

  /** The owner's side: store, write to local subscribers, send to the other members. */
  publishHere(app: string, topic: string, data: Json): Promise<number> {
    const key = topicKey(app, topic);
    return this.publishPlaced(app, topic, data, key, this.ownership.placementOf(key));
  }

  /**
   * Answers once the record is stored (the commit point); its sends to the
   * other members go on after the answer, so a member that is slow or cut off
   * (a call waits up to the peer link's timeout) holds up no publisher. A send
   * that fails leaves that member a hole, filled from the history when the
   * next pub shows it (`prev`) or the topic's newest is sent again (resends).
   */
  private async publishPlaced(app: string, topic: string, data: Json, key: string, p: Placement): Promise<number> {
    // Checked before any wait: once a hand-over saw this node as no longer the owner, nothing new starts here.
    if (p.kind === 'elsewhere') throw new ApiError('notReady', `topic ${topic} is owned by ${p.owner.id} now (repeat the publish)`);
    // Tracked up to its sends, not only its store: a new owner's first publish then reaches every member after this one.
    let sent!: () => void;
    this.track(key, new Promise<void>((resolve) => (sent = resolve)));
    try {
      const pub = await this.storeOwned(app, topic, data, p);
      writePub(this.hub, pub);
      const others = this.keeper.cluster().members.filter((m) => m.id !== this.nodeId);
      const r = this.audience.recipients(key, others, this.ringSignature());
      this.metrics.topicPubFanout.interested.inc(r.interested);
      this.metrics.topicPubFanout.unsynced.inc(r.unsynced);
      this.metrics.topicPubFanout.skipped.inc(r.skipped);
      const sendTo = (m: Member): Promise<void> =>
        this.peers
          .of(m)
          .call('pub', pub)
          .then(
            () => this.resends.delivered(m.id, pub),
            () => this.resends.missed(m.id, pub),
          );
      void Promise.all(r.to.map(sendTo)).then(sent);
      return pub.offset;
    } catch (err) {
      sent();
      throw err;
    }
  }

  private async storeOwned(app: string, topic: string, data: Json, p: Placement): Promise<TopicPub> {
    // A member cut off from the keeper's quorum, or behind it, may have missed a change of owner: it gives out no offset.
    if (!this.keeper.ready()) throw new ApiError('notReady', `this node is not caught up with the keeper's leader; topic ${topic} cannot be published here now (repeat the publish)`);
    const r = await this.store(app, topic, data, p);
    return { app, topic, offset: r.offset, prev: r.prev, data, ts: r.ts };
  }

  private async store(app: string, topic: string, data: Json, p: Placement): Promise<PublishedRecord> {
    if (p.kind === 'incoming') await this.pull(app, topic, p);
    const offset = await this.offsets.next(app, topic, this.ringSignature());
    return this.saver.publish(app, topic, data, offset);
  }

  private track(key: string, run: Promise<void>): void {
    let set = this.publishing.get(key);
    if (set === undefined) this.publishing.set(key, (set = new Set()));
    const s = set;
    s.add(run);
    const done = (): void => {
      s.delete(run);
      if (s.size === 0 && this.publishing.get(key) === s) this.publishing.delete(key);
    };
    run.then(done, done);
  }

  /** Resolves once every publish started here (on one topic, or on all) is stored and sent, or failed. */
  async settled(app?: string, topic?: string): Promise<void> {
    const runs = app === undefined || topic === undefined ? [...this.publishing.values()].flatMap((s) => [...s]) : [...(this.publishing.get(topicKey(app, topic)) ?? [])];
    await Promise.allSettled(runs);
  }

  /** Kept history after `after`, from the topic's owner; concurrent reads of the same share one. */
  history(app: string, topic: string, after: number): Promise<TopicRecord[]> {
    const id = `${topicKey(app, topic)}\u0000${after}`;
    let run = this.reading.get(id);
    if (run === undefined) {
      run = this.readHistory(app, topic, after).finally(() => this.reading.delete(id));
      this.reading.set(id, run);
    }
    return run;
  }

  private async readHistory(app: string, topic: string, after: number): Promise<TopicRecord[]> {
    const p = this.ownership.placementOf(topicKey(app, topic));
    if (p.kind !== 'elsewhere') return this.historyPlaced(app, topic, after, p);
    return asRecords(await this.peers.of(p.owner).call('readTopic', { app, topic, after }));
  }

  /** The owner's side of a history read. */
  historyHere(app: string, topic: string, after: number): Promise<TopicRecord[]> {
    return this.historyPlaced(app, topic, after, this.ownership.placementOf(topicKey(app, topic)));
  }

  private async historyPlaced(app: string, topic: string, after: number, p: Placement): Promise<TopicRecord[]> {
    if (p.kind === 'elsewhere') throw new ApiError('notReady', `topic ${topic} is owned by ${p.owner.id} now`);
    // A publish goes on without a history that cannot be pulled; a history read does not answer one that lacks it.
    if (p.kind === 'incoming' && !(await this.pull(app, topic, p))) {
      throw new ApiError('notReady', `topic ${topic}'s history is still on its previous owner ${p.from.id}, which did not answer`);
    }
    return this.saver.readTopic(app, topic, after);
  }

  /**
   * The previous owner's side of a pull: the topic's whole kept history, once
   * this node's view (read linearizably) has another owner and its own
   * publishes on the topic are stored.
   */
  async release(app: string, topic: string): Promise<TopicRecord[]> {
    await this.ownership.refresh();
    const p = this.ownership.placementOf(topicKey(app, topic));
    if (p.kind !== 'elsewhere') throw new ApiError('notReady', `this node still owns topic ${topic}`);
    await this.settled(app, topic);
    return this.saver.readTopic(app, topic, 0);
  }

  /** Stores a topic's history a previous owner handed over (in its batches) and counts it as pulled for `mark`. */
  async imported(mark: string, app: string, topic: string, records: readonly TopicRecord[]): Promise<number> {
    const n = await this.saver.importTopic(app, topic, records);
    this.remember(`${mark}\u0000${topicKey(app, topic)}`, Promise.resolve(true));
    return n;
  }

  private pull(app: string, topic: string, p: Extract<Placement, { kind: 'incoming' }>): Promise<boolean> {
    const id = `${p.mark}\u0000${topicKey(app, topic)}`;
    const known = this.pulls.get(id);
    if (known !== undefined) return known;
    const run = this.pullOnce(app, topic, p).then(
      () => true,
      (err: unknown) => {
        // The batches bring it if they can; it is asked for again after a while.
        this.metrics.topicPulls.labels(p.move, 'failed').inc();
        this.log.warn({ err, app, topic, from: p.from.id }, 'topic history: pull from the previous owner failed (tried again later)');
        setTimeout(() => {
          if (this.pulls.get(id) === run) this.pulls.delete(id);
        }, PULL_RETRY_MS).unref();
        return false;
      },
    );
    this.remember(id, run);
    return run;
  }

  private async pullOnce(app: string, topic: string, p: Extract<Placement, { kind: 'incoming' }>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const answer = await Promise.race([
      this.peers.of(p.from).call('topicRelease', { app, topic }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer from ${p.from.id} within ${PULL_TIMEOUT_MS} ms`)), PULL_TIMEOUT_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    const n = await this.saver.importTopic(app, topic, asRecords(answer));
    this.metrics.topicPulls.labels(p.move, 'ok').inc();
    this.metrics.topicRecordsIn.labels(p.move).inc(n);
  }

  private remember(id: string, run: Promise<boolean>): void {
    this.pulls.delete(id);
    this.pulls.set(id, run);
    if (this.pulls.size > PULLS_MAX) {
      const oldest = this.pulls.keys().next().value;
      if (oldest !== undefined) this.pulls.delete(oldest);
    }
  }
}
