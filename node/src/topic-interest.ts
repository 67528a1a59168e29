// A member's side of topic interest: it tells each topic owner which of that
// owner's topics have subscribers here, so the owner sends this member those
// topics' pubs and no others (topic-audience.ts is the owner's side). A
// topic's first subscriber here adds it before its subscription goes on (the
// `sub` frame is answered, or the history read, only after the owner has
// it: a pub stored after that reaches this member); topics whose last
// subscriber left are removed at the next round. Every `intervalMs` a round
// pings each other member with a digest of what it should have; an owner
// whose copy differs (it restarted, the ring changed, a change was lost)
// gets the whole list again, and answers it with each topic's newest offset:
// a subscription here that is behind reads the hole from the history, as
// for a missed pub (no pub it lacks may follow to show it).

import type { Member } from '../../keeper/src/keeper.js';
import { ApiError } from './center/errors.js';
import { InterestDigest, type DigestValue } from './interest-digest.js';
import type { Placement } from './ownership.js';

export interface TopicInterestOptions {
  readonly intervalMs: number;
  /** Topic keys per sync or change call (at most KEYS_PER_CALL_MAX). */
  readonly chunkMax: number;
  /** A subscription waits this long at most for its topic's owner to take an add. */
  readonly addWaitMs: number;
}

export const TOPIC_INTEREST_DEFAULTS: TopicInterestOptions = { intervalMs: 2000, chunkMax: 5000, addWaitMs: 2000 };

/** Topic keys one call may carry (a sender's chunkMax is at most this). */
const KEYS_PER_CALL_MAX = 5000;
/** A topic ring key: app, topic and a tag (ownership.ts topicKey); both names are far shorter. */
const KEY_CHARS_MAX = 1024;
const SIG_CHARS_MAX = 64 * 1024;

/** What a member sends its topics' owners, as the `topicInterest` peer call's body. */
export type InterestCall =
  | { readonly op: 'ping'; readonly sig: string; readonly digest: DigestValue }
  | { readonly op: 'sync'; readonly sig: string; readonly keys: readonly string[]; readonly first: boolean; readonly last: boolean }
  | { readonly op: 'change'; readonly sig: string; readonly add: readonly string[]; readonly remove: readonly string[] };

/** A topic's newest offset on its owner, by topic ring key (ownership.ts topicKey). */
export type TopicHeads = readonly (readonly [key: string, head: number])[];

export interface TopicInterestDeps {
  readonly nodeId: string;
  readonly members: () => readonly Member[];
  readonly placementOf: (key: string) => Placement;
  /** The ring topics are placed by (ClusterTopics.ringSignature). */
  readonly sig: () => string;
  readonly hasSubscribers: (key: string) => boolean;
  readonly call: (member: Member, body: InterestCall) => Promise<unknown>;
  /** The owner's newest offsets after a sync: subscriptions behind one catch up. */
  readonly onHeads: (heads: TopicHeads) => void;
  readonly onSynced: () => void;
}

interface Group {
  readonly keys: Set<string>;
  readonly digest: InterestDigest;
}

export class TopicInterest {
  private sig = '';
  /** The owner each topic with subscribers here was grouped under (this node's id for its own). */
  private readonly ownerOfKey = new Map<string, string>();
  private readonly groups = new Map<string, Group>();
  /** Adds gathered in this turn, per owner: one call takes them at its end. */
  private readonly adding = new Map<string, { readonly keys: string[]; readonly done: Promise<void> }>();
  /** Topics whose add is not answered yet: their further subscriptions wait on it too. */
  private readonly pending = new Map<string, Promise<void>>();
  private readonly rounds = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly d: TopicInterestDeps,
    private readonly o: TopicInterestOptions = TOPIC_INTEREST_DEFAULTS,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.round(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Topic `key` has a subscriber here: resolves once its owner has it (or after addWaitMs: the next round repairs). */
  want(key: string): Promise<void> {
    if (this.ownerOfKey.has(key)) return this.pending.get(key) ?? Promise.resolve();
    if (this.sig !== this.d.sig()) this.regroup();
    const owner = this.place(key);
    if (owner === this.d.nodeId) return Promise.resolve();
    let batch = this.adding.get(owner);
    if (batch === undefined) {
      const keys: string[] = [];
      const sent = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.sendAdds(owner, keys));
      const done = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.o.addWaitMs);
        void sent.then(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.adding.set(owner, (batch = { keys, done }));
      void done.then(() => {
        for (const k of keys) if (this.pending.get(k) === done) this.pending.delete(k);
      });
    }
    batch.keys.push(key);
    this.pending.set(key, batch.done);
    return batch.done;
  }

  private async sendAdds(owner: string, keys: readonly string[]): Promise<void> {
    this.adding.delete(owner);
    const member = this.d.members().find((m) => m.id === owner);
    if (member === undefined) return;
    const sig = this.sig;
    try {
      for (let i = 0; i < keys.length; i += this.o.chunkMax) await this.d.call(member, { op: 'change', sig, add: keys.slice(i, i + this.o.chunkMax), remove: [] });
    } catch {
      // Not taken: the owner sends this member every pub until the next round syncs it.
    }
  }

  /** After a ring change: every topic under its owner by the new ring. */
  private regroup(): void {
    this.sig = this.d.sig();
    const keys = [...this.ownerOfKey.keys()];
    this.ownerOfKey.clear();
    this.groups.clear();
    for (const k of keys) this.place(k);
  }

  /** Groups `key` under its owner by this node's view; answers the owner's id. */
  private place(key: string): string {
    const p = this.d.placementOf(key);
    const owner = p.kind === 'elsewhere' ? p.owner.id : this.d.nodeId;
    this.ownerOfKey.set(key, owner);
    let g = this.groups.get(owner);
    if (g === undefined) this.groups.set(owner, (g = { keys: new Set(), digest: new InterestDigest() }));
    g.keys.add(key);
    g.digest.add(key);
    return owner;
  }

  /** One round: regroup after a ring change, drop topics without subscribers, check every owner's copy. */
  round(): void {
    if (this.sig !== this.d.sig()) this.regroup();
    const removed = new Map<string, string[]>();
    for (const [key, owner] of this.ownerOfKey) {
      if (this.d.hasSubscribers(key)) continue;
      this.ownerOfKey.delete(key);
      const g = this.groups.get(owner);
      g?.keys.delete(key);
      g?.digest.remove(key);
      let list = removed.get(owner);
      if (list === undefined) removed.set(owner, (list = []));
      list.push(key);
    }
    for (const m of this.d.members()) {
      if (m.id === this.d.nodeId || this.rounds.has(m.id)) continue;
      this.rounds.add(m.id);
      void this.check(m, removed.get(m.id) ?? []).finally(() => this.rounds.delete(m.id));
    }
  }

  /** Sends one owner what left, then its digest; syncs the whole list if its copy differs. */
  private async check(m: Member, removed: readonly string[]): Promise<void> {
    const sig = this.sig;
    try {
      for (let i = 0; i < removed.length; i += this.o.chunkMax) {
        await this.d.call(m, { op: 'change', sig, add: [], remove: removed.slice(i, i + this.o.chunkMax) });
      }
      const g = this.groups.get(m.id);
      const digest = g?.digest.value() ?? { count: 0, x: 0, s: 0 };
      if ((await this.d.call(m, { op: 'ping', sig, digest })) === true) return;
      const keys = [...(g?.keys ?? [])];
      for (let i = 0; i === 0 || i < keys.length; i += this.o.chunkMax) {
        const chunk = keys.slice(i, i + this.o.chunkMax);
        const answer = await this.d.call(m, { op: 'sync', sig, keys: chunk, first: i === 0, last: i + this.o.chunkMax >= keys.length });
        this.d.onHeads(parseHeads(answer));
      }
      this.d.onSynced();
    } catch {
      // Unreachable, or an owner of an older version: it sends this member every pub; the next round tries again.
    }
  }
}

/** Checks the shape of a `topicInterest` call a peer sent. */
export function parseInterestCall(v: unknown): InterestCall {
  const bad = (what: string): ApiError => new ApiError('invalid', `peer topicInterest: ${what}`);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('not a map');
  const o = v as Record<string, unknown>;
  if (typeof o.sig !== 'string' || o.sig.length > SIG_CHARS_MAX) throw bad('bad "sig"');
  const keys = (k: string): string[] => {
    const list = o[k];
    if (!Array.isArray(list) || list.length > KEYS_PER_CALL_MAX) throw bad(`"${k}" must be a list of at most ${KEYS_PER_CALL_MAX}`);
    for (const key of list) if (typeof key !== 'string' || key.length > KEY_CHARS_MAX) throw bad(`a key in "${k}" is not a string of at most ${KEY_CHARS_MAX} characters`);
    return list as string[];
  };
  switch (o.op) {
    case 'ping': {
      const d = o.digest;
      if (typeof d !== 'object' || d === null) throw bad('bad "digest"');
      const { count, x, s } = d as Record<string, unknown>;
      const u32 = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
      if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0 || !u32(x) || !u32(s)) throw bad('bad "digest"');
      return { op: 'ping', sig: o.sig, digest: { count, x, s } };
    }
    case 'sync':
      if (typeof o.first !== 'boolean' || typeof o.last !== 'boolean') throw bad('bad "first" or "last"');
      return { op: 'sync', sig: o.sig, keys: keys('keys'), first: o.first, last: o.last };
    case 'change':
      return { op: 'change', sig: o.sig, add: keys('add'), remove: keys('remove') };
    default:
      throw bad('bad "op"');
  }
}

function parseHeads(v: unknown): TopicHeads {
  if (!Array.isArray(v)) return [];
  const out: [string, number][] = [];
  for (const h of v) {
    if (Array.isArray(h) && typeof h[0] === 'string' && typeof h[1] === 'number' && Number.isSafeInteger(h[1])) out.push([h[0], h[1]]);
  }
  return out;
}
