// Who owns a user's inbox, with members being drained taken into account.
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
import type { ClusterMember, Keeper, Member, WatchMessage, Watcher } from '../../keeper/src/keeper.js';
import { ownerOf } from './ring.js';

export const DRAINING_PREFIX = '/sys/draining/';

export interface Drain {
  readonly member: string;
  readonly mark: string;
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

/** Where a user's inbox is, as one node sees it. */
export type Placement =
  /** This node owns the user and holds its inbox. */
  | { readonly kind: 'here' }
  /** This node owns the user, but the inbox is still on the draining member `drain.member`. */
  | { readonly kind: 'incoming'; readonly from: Member; readonly drain: Drain }
  /** Another node owns the user. */
  | { readonly kind: 'elsewhere'; readonly owner: Member };

export class Ownership {
  private readonly drains = new Map<string, Drain>();
  /** This node's own drain, known here before the keeper's watch shows it (set by seal). */
  private selfDrain: Drain | undefined;
  private watcher: Watcher | undefined;
  private revision = 0;
  private closed = false;

  constructor(
    private readonly nodeId: string,
    private readonly keeper: Keeper,
  ) {}

  async start(): Promise<void> {
    const r = await this.keeper.range(DRAINING_PREFIX, { prefix: true });
    this.drains.clear();
    for (const kv of r.kvs) this.set(kv.key, kv.value);
    this.revision = r.revision;
    if (this.closed) return;
    this.watcher = this.keeper.watch({ key: DRAINING_PREFIX, prefix: true, fromRevision: this.revision + 1 }, (m) => this.onWatch(m));
  }

  private onWatch(m: WatchMessage): void {
    switch (m.kind) {
      case 'events':
        for (const e of m.events) {
          if (e.type === 'put') this.set(e.key, e.value);
          else this.drains.delete(e.key.slice(DRAINING_PREFIX.length));
          this.revision = e.revision;
        }
        return;
      case 'progress':
        return;
      case 'compacted':
      case 'cancelled':
        if (m.kind === 'cancelled' && m.reason === 'closed') return;
        this.watcher?.cancel();
        void this.start().catch(() => undefined);
        return;
    }
  }

  private set(key: string, value: string): void {
    const id = key.slice(DRAINING_PREFIX.length);
    const d = parseDrain(id, value);
    if (d === undefined) this.drains.delete(id);
    else this.drains.set(id, d);
  }

  /** This node started handing its inboxes over: it stops counting itself as an owner at once. */
  drainingSelf(d: Drain): void {
    this.selfDrain = d;
  }

  drainOf(member: string): Drain | undefined {
    if (member === this.nodeId && this.selfDrain !== undefined) return this.selfDrain;
    return this.drains.get(member);
  }

  /** Members as the ring should rank them: draining voters are left out. */
  ringMembers(): ClusterMember[] {
    return this.keeper.cluster().members.filter((m) => this.drainOf(m.id) === undefined);
  }

  owner(app: string, user: string): Member | undefined {
    return ownerOf(this.ringMembers(), ownerKey(app, user));
  }

  placement(app: string, user: string): Placement {
    const all = this.keeper.cluster().members;
    const key = ownerKey(app, user);
    const previous = ownerOf(all, key);
    const owner = this.drains.size === 0 && this.selfDrain === undefined ? previous : ownerOf(this.ringMembers(), key);
    // No voter known (not joined yet): this node keeps the user, as a one-node cluster does.
    if (owner === undefined || owner.id === this.nodeId) {
      const drain = previous === undefined ? undefined : this.drainOf(previous.id);
      if (previous !== undefined && previous.id !== this.nodeId && drain !== undefined) return { kind: 'incoming', from: previous, drain };
      return { kind: 'here' };
    }
    return { kind: 'elsewhere', owner };
  }

  close(): void {
    this.closed = true;
    this.watcher?.cancel();
  }
}

export function ownerKey(app: string, user: string): string {
  return `${app}\u0000${user}`;
}
