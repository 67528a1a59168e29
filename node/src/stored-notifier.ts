// The owner's half of cross-node delivery: after a push is stored, every other
// node that the register lists as holding a connection of one of its users is
// told, with one peer call per node per push. A notification that cannot be
// sent (peer queue full, peer down) is dropped: the holding node's bindings
// poll the owner (Delivery, REMOTE_POLL_MS) and catch up from the inbox.
import type { Keeper } from '../../keeper/src/keeper.js';
import type { Json } from './saver/saver.js';
import type { Peers } from './peer/peers.js';
import { PeerError } from './peer/errors.js';

export interface StoredNotice {
  readonly app: string;
  readonly id: string;
  readonly data: Json;
  readonly ts: number;
  readonly expiresAt: number;
  readonly users: readonly { readonly user: string; readonly seq: number }[];
}

export class StoredNotifier {
  constructor(
    private readonly nodeId: string,
    private readonly keeper: Keeper,
    private readonly peers: Peers,
    private readonly onError: (err: unknown) => void,
  ) {}

  notify(app: string, results: readonly { readonly user: string; readonly seq: number }[], m: { id: string; data: Json; ts: number; expiresAt: number }): void {
    let byNode: Map<string, { user: string; seq: number }[]> | undefined;
    for (const r of results) {
      for (const s of this.keeper.sessionsOf(app, r.user)) {
        if (s.node === this.nodeId) continue;
        byNode ??= new Map();
        const list = byNode.get(s.node);
        if (list === undefined) byNode.set(s.node, [r]);
        else if (!list.includes(r)) list.push(r);
      }
    }
    if (byNode === undefined) return;
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
