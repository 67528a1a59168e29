// The receiving side of peer RPC: routes under /internal/v1/rpc/ on the API
// port, taking the cluster's admin token and MessagePack bodies. `push`
// stores a group of users that a peer found this node owns, through the
// local pusher, so idempotency records and seqs live with the inboxes.
import type { FastifyInstance } from 'fastify';
import { requireAdmin } from '../center/auth.js';
import { ApiError } from '../center/errors.js';
import type { Pusher, PushRequest } from '../pusher.js';
import type { AppRegistry } from '../apps.js';
import type { Json } from '../saver/saver.js';
import { packPeer, unpackPeer, PEER_CONTENT_TYPE } from './codec.js';
import { RPC_ID_HEADER, RPC_PATH_PREFIX } from './peer-client.js';

export interface PeerPush {
  readonly app: string;
  readonly users: readonly string[];
  readonly data: Json;
  readonly qos: 0 | 1;
  readonly ttl?: number;
  /** The service's idempotency key, if it gave one: the owner keeps the record for its group. */
  readonly id?: string;
  /** The message id shared by every owner's part of one request. */
  readonly messageId: string;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((u) => typeof u === 'string');
}

/** Checks the shape a peer sent; the receiving node already validated the service's request. */
export function parsePeerPush(v: unknown): PeerPush {
  if (typeof v !== 'object' || v === null) throw new ApiError('invalid', 'peer push: not a map');
  const o = v as Record<string, unknown>;
  if (typeof o.app !== 'string' || !isStringArray(o.users) || o.users.length === 0) throw new ApiError('invalid', 'peer push: bad app or users');
  if (o.qos !== 0 && o.qos !== 1) throw new ApiError('invalid', 'peer push: bad qos');
  if (typeof o.messageId !== 'string') throw new ApiError('invalid', 'peer push: bad messageId');
  if (o.ttl !== undefined && typeof o.ttl !== 'number') throw new ApiError('invalid', 'peer push: bad ttl');
  if (o.id !== undefined && typeof o.id !== 'string') throw new ApiError('invalid', 'peer push: bad id');
  return {
    app: o.app,
    users: o.users,
    data: (o.data ?? null) as Json,
    qos: o.qos,
    messageId: o.messageId,
    ...(typeof o.ttl === 'number' ? { ttl: o.ttl } : {}),
    ...(typeof o.id === 'string' ? { id: o.id } : {}),
  };
}

export function toPushRequest(p: PeerPush): PushRequest {
  return { users: p.users, data: p.data, qos: p.qos, ttlSeconds: p.ttl, id: p.id, messageId: p.messageId };
}

export function peerRoutes(deps: { adminToken: string; apps: AppRegistry; pusher: Pusher }) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // Scoped to this plugin: service routes still take only JSON.
    app.addContentTypeParser(PEER_CONTENT_TYPE, { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
      try {
        done(null, unpackPeer(body));
      } catch {
        done(new ApiError('invalid', 'malformed MessagePack'), undefined);
      }
    });

    app.post(RPC_PATH_PREFIX + 'push', { schema: { hide: true } }, async (req, reply) => {
      requireAdmin(req, deps.adminToken);
      const p = parsePeerPush(req.body);
      // The owner applies its own view of the app (limits), as for a push it received itself.
      const config = deps.apps.get(p.app);
      if (config === undefined) throw new ApiError('notReady', `owner has no app ${p.app} (yet)`);
      const answer = await deps.pusher.push(config, toPushRequest(p));
      const id = req.headers[RPC_ID_HEADER];
      return reply
        .header(RPC_ID_HEADER, typeof id === 'string' ? id : '')
        .header('content-type', PEER_CONTENT_TYPE)
        .send(packPeer(answer));
    });
  };
}
