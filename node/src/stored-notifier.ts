// The owner's half of cross-node delivery: after a push is stored, every other
// node that the register lists as holding a connection of one of its users is
// told, with one peer call per node per push. A notification that cannot be
// sent (peer queue full, peer down) is dropped: the holding node's bindings
// poll the owner (Delivery, REMOTE_POLL_MS) and catch up from the inbox.
// A qos 0 message goes the same way but is awaited, to count the connections
// it reached, for at most VOLATILE_WAIT_MS: a holding node that cannot be
// reached, or does not answer by then (stopped, cut off: its call would wait
// for the peer link's timeout), counts none (at most once; a late one may
// still write it to its connections).
import type { Keeper } from '../../keeper/src/keeper.js';
import type { Json } from './saver/saver.js';
import type { RemoteHolders, VolatileMessage } from './pusher.js';
import type { Peers } from './peer/peers.js';
import { PeerError } from './peer/errors.js';

/** How long a qos 0 push waits for a holding node's count before answering without it. */
export const VOLATILE_WAIT_MS = 2000;

export interface StoredNotice {
  readonly app: string;
  readonly id: string;
  readonly data: Json;
  readonly ts: number;
  readonly expiresAt: number;
  readonly users: readonly { readonly user: string; readonly seq: number }[];
}

export interface VolatileNotice extends VolatileMessage {
  readonly app: string;
  readonly users: readonly string[];
}

export class StoredNotifier implements RemoteHolders {
  constructor(
    private readonly nodeId: string,
    private readonly keeper: Keeper,
    private readonly peers: Peers,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** The other nodes the register lists as holding sessions of these users, with the users each holds. */
  private holders<T extends { readonly user: string }>(app: string, items: readonly T[]): Map<string, T[]> {
    const byNode = new Map<string, T[]>();
    for (const it of items) {
      for (const s of this.keeper.sessionsOf(app, it.user)) {
        if (s.node === this.nodeId) continue;
        const list = byNode.get(s.node);
        if (list === undefined) byNode.set(s.node, [it]);
        else if (!list.includes(it)) list.push(it);
      }
    }
    return byNode;
  }

  async volatile(app: string, users: readonly string[], m: VolatileMessage): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const byNode = this.holders(app, users.map((user) => ({ user })));
    if (byNode.size === 0) return counts;
    const members = this.keeper.cluster().members;
    await Promise.all(
      [...byNode].map(async ([node, us]) => {
        const member = members.find((x) => x.id === node);
        if (member === undefined) return;
        const notice: VolatileNotice = { app, id: m.id, data: m.data, ts: m.ts, users: us.map((u) => u.user) };
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), VOLATILE_WAIT_MS)));
        try {
          const answer = await Promise.race([this.peers.of(member).call('volatile', notice), late]);
          if (!Array.isArray(answer)) return;
          for (const [i, u] of us.entries()) {
            const n: unknown = answer[i];
            if (typeof n === 'number') counts.set(u.user, (counts.get(u.user) ?? 0) + n);
          }
        } catch (err) {
          if (!(err instanceof PeerError) || err.code === 'refused') this.onError(err);
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return counts;
  }

  stored(app: string, results: readonly { readonly user: string; readonly seq: number }[], m: { id: string; data: Json; ts: number; expiresAt: number }): void {
    const byNode = this.holders(app, results);
    if (byNode.size === 0) return;
    const members = this.keeper.cluster().members;
    for (const [node, users] of byNode) {
      const member = members.find((x) => x.id === node);
      if (member === undefined) continue;
      const notice: StoredNotice = { app, id: m.id, data: m.data, ts: m.ts, expiresAt: m.expiresAt, users };
      this.peers
        .of(member)
        .call('stored', notice)
        .catch((err: unknown) => {
          // A full queue or a lost peer only delays delivery until the holder's next poll.
          if (!(err instanceof PeerError) || err.code === 'refused') this.onError(err);
        });
    }
  }
}
