// Where a binding reads a user's inbox and writes the device's cursor: the
// local saver when this node owns the user, else the owner over peer RPC.
// Only the owner stores a user's inbox and cursors, so a device bound on any
// node replays and acks against the same state. While a member is drained, or
// after this node joined, an owned inbox that is still on its way here from
// its previous owner is waited for (handoff-gate.ts).
import type { Member } from '../../keeper/src/keeper.js';
import type { DeviceCursor, InboxItem, Saver } from './saver/saver.js';
import type { Peers } from './peer/peers.js';
import type { HandoffGate } from './handoff-gate.js';
import type { Ownership } from './ownership.js';

export type Inbox = Pick<Saver, 'lastSeq' | 'read' | 'cursor' | 'setCursor'>;

/** A peer call on the owner's inbox, as sent over peer RPC. */
export type InboxCall =
  | { readonly op: 'lastSeq'; readonly app: string; readonly user: string }
  | { readonly op: 'read'; readonly app: string; readonly user: string; readonly after: number; readonly limit: number }
  | { readonly op: 'cursor'; readonly app: string; readonly user: string; readonly device: string }
  | { readonly op: 'setCursor'; readonly app: string; readonly user: string; readonly device: string; readonly cursor: DeviceCursor }
  | { readonly op: 'lastSeqs'; readonly keys: readonly InboxKey[] }
  | { readonly op: 'setCursors'; readonly writes: readonly CursorWrite[] };

/** One device's cursor to write (acks flushed together, Delivery.flushCursors). */
export interface CursorWrite {
  readonly app: string;
  readonly user: string;
  readonly device: string;
  readonly cursor: DeviceCursor;
}

export interface InboxKey {
  readonly app: string;
  readonly user: string;
}

/** Keys per 'lastSeqs' call: one poll round asks each owner in calls of at most this many. */
export const LAST_SEQS_BATCH_MAX = 1024;
/** Cursors per 'setCursors' call: one flush writes each owner's in calls of at most this many. */
export const SET_CURSORS_BATCH_MAX = 1024;

/** Serves an InboxCall from this node's saver (the owner's side); a user not owned here is refused with 503. */
export async function serveInboxCall(saver: Saver, gate: HandoffGate, c: InboxCall): Promise<unknown> {
  if (c.op !== 'lastSeqs' && c.op !== 'setCursors') await gate.admit(c.app, [c.user]);
  switch (c.op) {
    case 'lastSeq':
      return saver.lastSeq(c.app, c.user);
    case 'read':
      return saver.read(c.app, c.user, c.after, c.limit);
    case 'cursor':
      return (await saver.cursor(c.app, c.user, c.device)) ?? null;
    case 'setCursor':
      await saver.setCursor(c.app, c.user, c.device, c.cursor);
      return null;
    case 'lastSeqs':
      // A key not (yet) servable here answers null: the asking node polls again.
      return Promise.all(
        c.keys.map((k) =>
          gate.admit(k.app, [k.user]).then(
            () => saver.lastSeq(k.app, k.user),
            () => null,
          ),
        ),
      );
    case 'setCursors': {
      // Each write stands alone: one not servable here (moved, sealed) leaves the others written. Answers how many were not.
      const done = await Promise.allSettled(c.writes.map(async (w) => (await gate.admit(w.app, [w.user]), saver.setCursor(w.app, w.user, w.device, w.cursor))));
      return done.filter((d) => d.status === 'rejected').length;
    }
  }
}

function num(v: unknown, what: string): number {
  if (typeof v !== 'number') throw new Error(`owner answered ${what} with a non-number`);
  return v;
}

export class Inboxes {
  constructor(
    private readonly nodeId: string,
    private readonly ownership: Ownership,
    private readonly saver: Saver,
    private readonly peers: Peers,
    private readonly gate: HandoffGate,
  ) {}

  /** True when this node owns the user's inbox (or no voter is known yet, as in a one-node cluster). */
  isLocal(app: string, user: string): boolean {
    return this.ownership.placement(app, user).kind !== 'elsewhere';
  }

  /**
   * Newest seqs of inboxes on other nodes, with one peer call per owner (per
   * LAST_SEQS_BATCH_MAX keys); undefined for a key owned here or whose owner
   * did not answer.
   */
  async lastSeqs(keys: readonly InboxKey[]): Promise<(number | undefined)[]> {
    const out: (number | undefined)[] = keys.map(() => undefined);
    const byOwner = new Map<string, { member: Member; idx: number[] }>();
    for (const [i, k] of keys.entries()) {
      const owner = this.ownership.owner(k.app, k.user);
      if (owner === undefined || owner.id === this.nodeId) continue;
      const g = byOwner.get(owner.id);
      if (g === undefined) byOwner.set(owner.id, { member: owner, idx: [i] });
      else g.idx.push(i);
    }
    const calls: Promise<void>[] = [];
    for (const g of byOwner.values()) {
      for (let at = 0; at < g.idx.length; at += LAST_SEQS_BATCH_MAX) {
        const idx = g.idx.slice(at, at + LAST_SEQS_BATCH_MAX);
        const batch = idx.flatMap((i) => keys.slice(i, i + 1));
        calls.push(
          this.peers
            .of(g.member)
            .call('inbox', { op: 'lastSeqs', keys: batch })
            .then((answer) => {
              if (!Array.isArray(answer)) return;
              for (const [j, i] of idx.entries()) {
                const n: unknown = answer[j];
                if (typeof n === 'number') out[i] = n;
              }
            }),
        );
      }
    }
    // One owner out of reach leaves its keys undefined; the others still count.
    await Promise.allSettled(calls);
    return out;
  }

  /**
   * Writes cursors where they live: this node's saver, or each owner's in one
   * peer call (per SET_CURSORS_BATCH_MAX). Every write is tried; rejects after
   * all settled if any failed (a lost cursor write only means redelivery).
   */
  async setCursors(writes: readonly CursorWrite[]): Promise<void> {
    const byOwner = new Map<string, { member: Member; writes: CursorWrite[] }>();
    const calls: Promise<unknown>[] = [];
    for (const w of writes) {
      const p = this.ownership.placement(w.app, w.user);
      if (p.kind !== 'elsewhere') {
        calls.push(this.of(w.app, w.user).setCursor(w.app, w.user, w.device, w.cursor));
        continue;
      }
      const g = byOwner.get(p.owner.id);
      if (g === undefined) byOwner.set(p.owner.id, { member: p.owner, writes: [w] });
      else g.writes.push(w);
    }
    for (const g of byOwner.values()) {
      for (let at = 0; at < g.writes.length; at += SET_CURSORS_BATCH_MAX) {
        const batch = g.writes.slice(at, at + SET_CURSORS_BATCH_MAX);
        calls.push(
          (async () => {
            const refused = await this.peers.of(g.member).call('inbox', { op: 'setCursors', writes: batch });
            if (refused !== 0) throw new Error(`owner ${g.member.id} did not write ${String(refused)} of ${batch.length} cursors`);
          })(),
        );
      }
    }
    const failed = (await Promise.allSettled(calls)).find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  of(app: string, user: string): Inbox {
    const p = this.ownership.placement(app, user);
    if (p.kind === 'here') return this.saver;
    if (p.kind === 'incoming') {
      const s = this.saver;
      const admit = (a: string, u: string): Promise<void> => this.gate.admit(a, [u]);
      return {
        lastSeq: async (a, u) => (await admit(a, u), s.lastSeq(a, u)),
        read: async (a, u, after, limit) => (await admit(a, u), s.read(a, u, after, limit)),
        cursor: async (a, u, device) => (await admit(a, u), s.cursor(a, u, device)),
        setCursor: async (a, u, device, cursor) => (await admit(a, u), s.setCursor(a, u, device, cursor)),
      };
    }
    const peer = this.peers.of(p.owner);
    const call = (c: InboxCall): Promise<unknown> => peer.call('inbox', c);
    return {
      lastSeq: async (a, u) => num(await call({ op: 'lastSeq', app: a, user: u }), 'lastSeq'),
      // The owner's saver built these items; peer RPC carries them as plain maps.
      read: async (a, u, after, limit) => (await call({ op: 'read', app: a, user: u, after, limit })) as InboxItem[],
      cursor: async (a, u, device) => ((await call({ op: 'cursor', app: a, user: u, device })) ?? undefined) as DeviceCursor | undefined,
      setCursor: async (a, u, device, cursor) => {
        await call({ op: 'setCursor', app: a, user: u, device, cursor });
      },
    };
  }
}
