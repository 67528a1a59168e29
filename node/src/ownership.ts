// Who owns a user's inbox (and a topic's history: the same rules, another
// key), with members being drained or joining taken into account.
//
// A member being removed is first marked draining in the keeper
// (/sys/draining/<id>, value {"mark": …}). From then on every node ranks
// owners over the voters minus the draining one, so each of its users has a
// new owner — the same node that will own it once the member is gone — while
// the draining node hands the inboxes over (handoff.ts, drain.ts). The
// previous owner (ranked over all voters) tells a new owner where a user's
// inbox still has to come from. The mark names this drain: a handed-over
// inbox carries it, so an inbox handed over by an earlier drain of a member
// with the same id is not taken for this one.
//
// A member joining is recorded before it is added as a learner
// (/sys/joining/<id>, value {"mark", "from": [the voters then]}), so every
// node that sees it promoted to voter already knows the ring it joined: a
// user the joiner now owns has its inbox on its owner over `from`, until the
// joiner has taken it (join-move.ts, join-release.ts). The record is deleted
// once every previous owner has handed its users over.
import type { ClusterMember, Keeper, Member } from '../../keeper/src/keeper.js';
import { KeeperPrefix } from './keeper-prefix.js';
import { ownerOf } from './ring.js';

export const DRAINING_PREFIX = '/sys/draining/';
export const JOINING_PREFIX = '/sys/joining/';

export interface Drain {
  readonly member: string;
  readonly mark: string;
}

export interface Join {
  readonly member: string;
  readonly mark: string;
  /** Voter ids when the member was added: the ring its users come from. */
  readonly from: readonly string[];
}

export function parseDrain(member: string, value: string): Drain | undefined {
  try {
    const v: unknown = JSON.parse(value);
    if (typeof v === 'object' && v !== null && 'mark' in v && typeof v.mark === 'string' && v.mark.length > 0) return { member, mark: v.mark };
  } catch {
    // not ours: ignored
  }
  return undefined;
}

export function parseJoin(member: string, value: string): Join | undefined {
  const d = parseDrain(member, value);
  if (d === undefined) return undefined;
  const v = JSON.parse(value) as { from?: unknown };
  if (!Array.isArray(v.from) || !v.from.every((x): x is string => typeof x === 'string')) return undefined;
  return { member, mark: d.mark, from: v.from };
}

/** Which handoff brings a user's inbox: a drain of its previous owner, or the join of its new one. */
export type MoveKind = 'drain' | 'join';

/** Where a user's inbox is, as one node sees it. */
export type Placement =
  /** This node owns the user and holds its inbox. */
  | { readonly kind: 'here' }
  /** This node owns the user, but the inbox is still on `from` (being drained, or the owner before this node joined). */
  | { readonly kind: 'incoming'; readonly from: Member; readonly move: MoveKind; readonly mark: string }
  /** Another node owns the user. */
  | { readonly kind: 'elsewhere'; readonly owner: Member };

export class Ownership {
  private readonly drains: KeeperPrefix<Drain>;
  private readonly joins: KeeperPrefix<Join>;
  /** This node's own drain, known here before the keeper's watch shows it (set by seal). */
  private selfDrain: Drain | undefined;
  private refreshing: Promise<void> | undefined;
  private nextRefresh: Promise<void> | undefined;

  constructor(
    private readonly nodeId: string,
    private readonly keeper: Keeper,
  ) {
    this.drains = new KeeperPrefix(keeper, DRAINING_PREFIX, parseDrain);
    this.joins = new KeeperPrefix(keeper, JOINING_PREFIX, parseJoin);
  }

  async start(): Promise<void> {
    await Promise.all([this.drains.start(), this.joins.start()]);
  }

  private async read(): Promise<void> {
    await Promise.all([this.drains.refresh(), this.joins.refresh()]);
  }

  /**
   * Reads drains and joins again, linearizably: the local view of members is
   * then at least as new. Callers that arrive while a read runs share the next
   * one (it starts after their call, as each needs): a move's many pulls make
   * a few reads, not one each.
   */
  refresh(): Promise<void> {
    if (this.refreshing === undefined) {
      const run = this.read().finally(() => {
        if (this.refreshing === run) this.refreshing = undefined;
      });
      this.refreshing = run;
      return run;
    }
    this.nextRefresh ??= this.refreshing
      .catch(() => undefined)
      .then(() => {
        this.nextRefresh = undefined;
        return this.refresh();
      });
    return this.nextRefresh;
  }

  /** This node started handing its inboxes over: it stops counting itself as an owner at once. */
  drainingSelf(d: Drain): void {
    this.selfDrain = d;
  }

  drainOf(member: string): Drain | undefined {
    if (member === this.nodeId && this.selfDrain !== undefined) return this.selfDrain;
    return this.drains.get(member);
  }

  /** The join record of `member`, while its users' inboxes are being moved to it. */
  joinOf(member: string): Join | undefined {
    return this.joins.get(member);
  }

  /** Every join record (a learner's too: it is recorded before it is added). */
  joinRecords(): Join[] {
    return [...this.joins.values()];
  }

  /** The join whose member is a voter already (one at a time: the routes refuse a second). */
  activeJoin(): Join | undefined {
    if (this.joins.size === 0) return undefined;
    const voters = new Set(this.keeper.cluster().members.filter((m) => m.role === 'voter').map((m) => m.id));
    for (const j of this.joins.values()) if (voters.has(j.member)) return j;
    return undefined;
  }

  /** Members as the ring should rank them: draining voters are left out. */
  ringMembers(): ClusterMember[] {
    return this.keeper.cluster().members.filter((m) => this.drainOf(m.id) === undefined);
  }

  /** The ring `j`'s member joined: today's ring members that were voters before it. */
  fromRing(j: Join, ring: readonly ClusterMember[] = this.ringMembers()): ClusterMember[] {
    return ring.filter((m) => m.id !== j.member && j.from.includes(m.id));
  }

  owner(app: string, user: string): Member | undefined {
    return this.ownerOfKey(ownerKey(app, user));
  }

  /** The owner of any ring key (a user's `ownerKey`, a topic's `topicKey`). */
  ownerOfKey(key: string): Member | undefined {
    return ownerOf(this.ringMembers(), key);
  }

  placement(app: string, user: string): Placement {
    return this.placementOf(ownerKey(app, user));
  }

  /** Where the data of a ring key is, as this node sees it: users' inboxes and topics' histories move alike. */
  placementOf(key: string): Placement {
    const all = this.keeper.cluster().members;
    const previous = ownerOf(all, key);
    const ring = this.drains.size === 0 && this.selfDrain === undefined ? all : this.ringMembers();
    const owner = ring === all ? previous : ownerOf(ring, key);
    // No voter known (not joined yet): this node keeps the user, as a one-node cluster does.
    if (owner === undefined || owner.id === this.nodeId) {
      const drain = previous === undefined ? undefined : this.drainOf(previous.id);
      if (previous !== undefined && previous.id !== this.nodeId && drain !== undefined) return { kind: 'incoming', from: previous, move: 'drain', mark: drain.mark };
      const join = owner === undefined ? undefined : this.joins.get(this.nodeId);
      if (join !== undefined) {
        const before = ownerOf(this.fromRing(join, ring), key);
        if (before !== undefined && before.id !== this.nodeId) return { kind: 'incoming', from: before, move: 'join', mark: join.mark };
      }
      return { kind: 'here' };
    }
    return { kind: 'elsewhere', owner };
  }

  /**
   * The mark of the join moving this user from this node to the joiner, while
   * it runs: the saver then gives the user no seq and stores no cursor here
   * (saver setMovingOut), even for a caller whose ring is older.
   */
  movingOut(app: string, user: string): string | undefined {
    return this.movingOutOf(ownerKey(app, user));
  }

  /** movingOut for any ring key. */
  movingOutOf(key: string): string | undefined {
    const j = this.activeJoin();
    if (j === undefined || j.member === this.nodeId) return undefined;
    const ring = this.ringMembers();
    if (ownerOf(ring, key)?.id !== j.member) return undefined;
    return ownerOf(this.fromRing(j, ring), key)?.id === this.nodeId ? j.mark : undefined;
  }

  close(): void {
    this.drains.close();
    this.joins.close();
  }
}

export function ownerKey(app: string, user: string): string {
  return `${app}\u0000${user}`;
}

/** A topic's ring key: topics and users of an app never share one. */
export function topicKey(app: string, topic: string): string {
  return `${app}\u0000${topic}\u0000topic`;
}

/** The app and topic of a topic's ring key (topicKey). */
export function topicOfKey(key: string): { readonly app: string; readonly topic: string } {
  const [app = '', topic = ''] = key.split('\u0000');
  return { app, topic };
}
