// Push on any node: users are grouped by their owner (rendezvous hashing over
// the voters in the keeper), each owner's group is stored by that owner (this
// node's pusher, or a peer over peer RPC), and the answers are merged back in
// the request's user order. Every group carries the request's idempotency key,
// so each owner keeps the record for its own users and a repeat through any
// node finds it, as long as the owners have not changed in between (a
// drained member hands its records over with its inboxes).
import { randomUUID } from 'node:crypto';
import type { Keeper, Member } from '../../keeper/src/keeper.js';
import type { Ownership } from './ownership.js';
import type { AppConfig } from './apps.js';
import { ApiError } from './center/errors.js';
import { PeerError } from './peer/errors.js';
import type { PeerPush } from './peer/peer-methods.js';
import type { Peers } from './peer/peers.js';
import type { Pusher, PushAnswer, PushRequest, PushResult } from './pusher.js';

export class PushRouter {
  constructor(
    private readonly nodeId: string,
    private readonly keeper: Keeper,
    private readonly pusher: Pusher,
    private readonly peers: Peers,
    private readonly ownership: Ownership,
  ) {}

  async push(app: AppConfig, req: PushRequest): Promise<PushAnswer> {
    const users = [...new Set(req.users)];
    const groups = new Map<string, { member: Member | undefined; users: string[] }>();
    for (const user of users) {
      const owner = this.ownership.owner(app.app, user);
      // No voter known (not joined yet): this node keeps the user, as a one-node cluster does.
      const id = owner?.id ?? this.nodeId;
      const g = groups.get(id);
      if (g === undefined) groups.set(id, { member: owner, users: [user] });
      else g.users.push(user);
    }
    const only = groups.size === 1 ? groups.keys().next().value : undefined;
    if (only === this.nodeId) return this.pusher.push(app, req);

    const messageId = req.id ?? randomUUID();
    const parts = await Promise.all(
      [...groups].map(([id, g]) => {
        if (id === this.nodeId || g.member === undefined) return this.pusher.push(app, { ...req, users: g.users, messageId });
        return this.forward(g.member, {
          app: app.app,
          users: g.users,
          data: req.data,
          qos: req.qos,
          messageId,
          ...(req.ttlSeconds === undefined ? {} : { ttl: req.ttlSeconds }),
          ...(req.id === undefined ? {} : { id: req.id }),
        });
      }),
    );
    const byUser = new Map<string, PushResult>();
    for (const part of parts) for (const r of part.results) byUser.set(r.user, r);
    const results: PushResult[] = [];
    for (const user of users) {
      const r = byUser.get(user);
      if (r === undefined) throw new ApiError('internal', `no answer for user ${user} from its owner`);
      results.push(r);
    }
    return { id: messageId, results };
  }

  /**
   * Kicks the user's connections on every node the register lists for it
   * (this node's directly, the others' over peer RPC); answers how many.
   */
  async kick(app: string, user: string, reason: string, only: { device?: string; session?: string }): Promise<number> {
    const nodes = new Set(this.keeper.sessionsOf(app, user).map((s) => s.node));
    nodes.delete(this.nodeId);
    const members = this.keeper.cluster().members;
    const remote = [...nodes].flatMap((id) => members.filter((m) => m.id === id));
    const counts = await Promise.all([
      this.pusher.kick(app, user, reason, only),
      ...remote.map(async (m) => {
        try {
          const n = await this.peers.of(m).call('kick', { app, user, reason, ...only });
          return typeof n === 'number' ? n : 0;
        } catch (err) {
          if (!(err instanceof PeerError)) throw err;
          // A kick is safe to repeat: the caller retries once the node answers.
          throw new ApiError('peerUnavailable', `node ${m.id} holding connections of ${user}: ${err.message}`, { extra: { node: m.id, reason: err.code }, cause: err });
        }
      }),
    ]);
    return counts.reduce((a, b) => a + b, 0);
  }

  private async forward(owner: Member, body: PeerPush): Promise<PushAnswer> {
    try {
      return asPushAnswer(await this.peers.of(owner).call('push', body));
    } catch (err) {
      if (err instanceof PeerError) {
        // Other owners' groups may be stored: a retry with the same id stores nothing twice.
        throw new ApiError('peerUnavailable', `owner ${owner.id} of part of this push: ${err.message}`, {
          extra: { node: owner.id, reason: err.code },
          ...(err.code === 'busy' ? { headers: { 'retry-after': '1' } } : {}),
          cause: err,
        });
      }
      throw err;
    }
  }
}

function asPushAnswer(v: unknown): PushAnswer {
  if (typeof v !== 'object' || v === null) throw new ApiError('internal', 'peer answered a push with no map');
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'string' || !Array.isArray(o.results)) throw new ApiError('internal', 'peer answered a push without id or results');
  const results: PushResult[] = [];
  for (const r of o.results as unknown[]) {
    if (typeof r !== 'object' || r === null) throw new ApiError('internal', 'peer answered a malformed result');
    const x = r as Record<string, unknown>;
    if (typeof x.user !== 'string') throw new ApiError('internal', 'peer answered a result without user');
    if (typeof x.seq === 'number') results.push({ user: x.user, seq: x.seq });
    else if (typeof x.delivered === 'number') results.push({ user: x.user, delivered: x.delivered });
    else throw new ApiError('internal', 'peer answered a result without seq or delivered');
  }
  return { id: o.id, results };
}
