import type { MessageOf } from './message.js';
import type { Index, NodeId } from './types.js';

export const ReadOnlyOption = {
  /** Confirm leadership with a heartbeat round per read batch (linearizable). */
  Safe: 'safe',
  /** Trust the leader lease (needs CheckQuorum and bounded clock drift). */
  LeaseBased: 'lease-based',
} as const;
export type ReadOnlyOption = (typeof ReadOnlyOption)[keyof typeof ReadOnlyOption];

interface ReadIndexStatus {
  readonly req: MessageOf<'MsgReadIndex'>;
  /** The leader's commit index when the request arrived. */
  readonly index: Index;
  readonly acks: Map<NodeId, boolean>;
}

export function contextKey(ctx: Uint8Array): string {
  let s = '';
  for (const b of ctx) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Pending ReadIndex requests of a leader in Safe mode, in arrival order. */
export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  /** Invariant: queue holds exactly the keys of `pending`, oldest first. */
  private readonly queue: string[] = [];

  constructor(readonly option: ReadOnlyOption) {}

  /** Records a request; a duplicate context keeps the first request. */
  addRequest(index: Index, req: MessageOf<'MsgReadIndex'>): void {
    const k = contextKey(req.context);
    if (this.pending.has(k)) return;
    this.pending.set(k, { req, index, acks: new Map() });
    this.queue.push(k);
  }

  /** Records a heartbeat ack for `ctx`; returns the acks so far (undefined if unknown). */
  recvAck(id: NodeId, ctx: Uint8Array): ReadonlyMap<NodeId, boolean> | undefined {
    const rs = this.pending.get(contextKey(ctx));
    if (rs === undefined) return undefined;
    rs.acks.set(id, true);
    return rs.acks;
  }

  /** Releases every request up to and including `ctx` (a quorum confirmed them all). */
  advance(ctx: Uint8Array): { req: MessageOf<'MsgReadIndex'>; index: Index }[] {
    const k = contextKey(ctx);
    const at = this.queue.indexOf(k);
    if (at < 0) return [];
    const keys = this.queue.splice(0, at + 1);
    const out: { req: MessageOf<'MsgReadIndex'>; index: Index }[] = [];
    for (const key of keys) {
      const rs = this.pending.get(key);
      if (rs !== undefined) out.push({ req: rs.req, index: rs.index });
      this.pending.delete(key);
    }
    return out;
  }

  lastPendingContext(): Uint8Array | undefined {
    const k = this.queue[this.queue.length - 1];
    return k === undefined ? undefined : this.pending.get(k)?.req.context;
  }
}
