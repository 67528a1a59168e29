// Cluster membership (admin): the view, adding and removing members, and
// leadership transfer. Changes are made by the Raft leader; a member that is
// not the leader forwards the call to the leader's API (once: a forwarded
// call that lands on a non-leader answers 503, and the caller retries).
// Removing a voter first drains it (member-removal.ts); the leader runs the
// whole removal, as it alone knows which voters are healthy.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { KeeperError } from '../../../keeper/src/errors.js';
import type { CenterDeps } from './deps.js';
import { ApiError } from './errors.js';
import { checkJoinProof, claimsJoinProof } from '../join-proof.js';
import { rawBodyOf } from './raw-body.js';
import { checkNoJoin, clearJoin, recordJoin } from './member-join.js';
import { DRAIN_TIMEOUT_S_DEFAULT, DRAIN_TIMEOUT_S_MAX, awaitQuorum, clearDrain, drainMember, type Handoff } from './member-removal.js';

/** Marks a call a member forwarded, so the leader does not forward it again. */
const FORWARDED_HEADER = 'x-longwire-forwarded';
/** How long a forwarded call may take at the leader (a membership change waits for its commit). */
export const FORWARD_TIMEOUT_MS = 15_000;

const hostPort = { type: 'string', minLength: 3, maxLength: 300, pattern: '^[^\\s/]+:[0-9]{1,5}$' } as const;
const memberId = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } as const;

export function clusterRoutes(deps: CenterDeps) {
  /** Runs `local` on the leader; elsewhere replays the request at the leader's API and relays its answer. */
  async function onLeader(req: FastifyRequest, reply: FastifyReply, local: () => Promise<unknown>, forwardTimeoutMs = FORWARD_TIMEOUT_MS): Promise<unknown> {
    try {
      return await local();
    } catch (err) {
      if (!(err instanceof KeeperError && err.code === 'not-leader')) throw err;
    }
    const c = deps.keeper.cluster();
    const leader = c.members.find((m) => m.id === c.leader);
    if (leader === undefined || leader.api === '' || req.headers[FORWARDED_HEADER] !== undefined) {
      throw new ApiError('notReady', 'no leader to take the membership call; retry');
    }
    // Signed as this node, which has checked the caller: the caller's credentials stay here.
    const res = await deps.peerHttp
      .call(leader.api, req.method as 'POST' | 'DELETE', req.url, req.body === undefined || req.body === null ? undefined : JSON.stringify(req.body), forwardTimeoutMs, {
        [FORWARDED_HEADER]: deps.nodeId,
      })
      .catch((cause: unknown) => {
        throw new ApiError('notReady', `leader ${leader.id} at ${leader.api} unreachable; retry`, { cause });
      });
    return reply.code(res.status).header('content-type', 'application/json').send(res.text);
  }

  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/v1/cluster', { schema: { tags: ['cluster'], summary: 'Leader, term and members with role, addresses, zone and health (admin, or a scoped token)' } }, async (req) => {
      // A scoped token's keeper client learns the members from it, to fail over between them.
      deps.auth.keeper(req);
      const c = deps.keeper.cluster();
      return { leader: c.leader, term: c.term, members: c.members };
    });

    app.post<{ Body: { id: string; peer: string; api: string; gateway: string; zone?: string } }>(
      '/v1/cluster/members',
      {
        schema: {
          tags: ['cluster'],
          summary: 'Add a member as a learner; it is promoted to voter once caught up (admin). Answers the Raft configuration and member records it starts with.',
          body: {
            type: 'object',
            required: ['id', 'peer', 'api', 'gateway'],
            additionalProperties: false,
            properties: { id: memberId, peer: hostPort, api: hostPort, gateway: hostPort, zone: { type: 'string', minLength: 1, maxLength: 64 } },
          },
        },
      },
      async (req, reply) => {
        const b = req.body;
        if (claimsJoinProof(req.headers)) {
          // A node joining proves it with the cluster secret or its peer certificate (join-proof.ts).
          const c = checkJoinProof(deps.join, req.headers, rawBodyOf(req).toString(), b.id, deps.now());
          if (!c.ok) {
            deps.metrics.peerRefused.labels('join', 'auth').inc();
            deps.log.warn({ member: b.id, ip: req.ip, reason: c.reason }, 'join refused');
            throw new ApiError('unauthorized', `join refused: ${c.reason}`);
          }
        } else {
          deps.auth.admin(req);
        }
        // The ring must not change under a drain: its users' new owners were chosen without this member.
        const draining = deps.keeper.cluster().members.find((m) => deps.ownership.drainOf(m.id) !== undefined);
        if (draining !== undefined && draining.id !== b.id) throw new ApiError('conflict', `member ${draining.id} is being drained: finish its removal first`);
        return onLeader(req, reply, async () => {
          if (deps.keeper.cluster().leader !== deps.nodeId) throw new KeeperError('not-leader', 'members are added by the leader');
          // Recorded first, so Raft applies it before the promotion (member-join.ts).
          await recordJoin(deps.keeper, b.id);
          return deps.keeper.addMember({ id: b.id, peer: b.peer, api: b.api, gateway: b.gateway, zone: b.zone ?? 'default' });
        });
      },
    );

    app.delete<{ Params: { id: string }; Querystring: { force?: 'true' | 'false'; timeout?: string } }>(
      '/v1/cluster/members/:id',
      {
        schema: {
          tags: ['cluster'],
          summary:
            'Remove a member (admin): a voter is drained first (its inboxes and cursors handed to their new owners, its clients redirected), then leaves Raft; answers when done. 409 if it would remove the last voter or lose quorum (after waiting up to 10 s for the voters to show healthy), or while another change or drain is pending; 503 when the drain is not done within `timeout` seconds (repeat the call: it goes on). `force=true` skips the drain (for a member lost for good: its inboxes are lost).',
          params: { type: 'object', required: ['id'], properties: { id: memberId } },
          querystring: {
            type: 'object',
            additionalProperties: false,
            // Query values are strings (the API's ajv does not coerce): checked as strings, converted below.
            properties: { force: { type: 'string', enum: ['true', 'false'] }, timeout: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' } },
          },
        },
      },
      async (req, reply) => {
        deps.auth.admin(req);
        const id = req.params.id;
        const timeoutS = req.query.timeout === undefined ? DRAIN_TIMEOUT_S_DEFAULT : Number(req.query.timeout);
        if (timeoutS > DRAIN_TIMEOUT_S_MAX) throw new ApiError('invalid', `timeout is at most ${DRAIN_TIMEOUT_S_MAX} seconds`);
        const remove = async (): Promise<unknown> => {
          if (deps.keeper.cluster().leader !== deps.nodeId) throw new KeeperError('not-leader', 'member removal runs on the leader');
          await awaitQuorum(deps.keeper, id);
          await checkNoJoin(deps.keeper, id, req.query.force === 'true');
          if (id === deps.nodeId) {
            // The leader does not drain itself: it hands leadership over and the new leader takes the call.
            await deps.keeper.transferLeader();
            throw new KeeperError('not-leader', 'leadership handed over before removing this member');
          }
          const handoff: Handoff | undefined = req.query.force === 'true' ? undefined : await drainMember(deps, id, timeoutS);
          try {
            await deps.keeper.removeMember(id);
          } catch (err) {
            // Gone already (a repeated call whose first removal went through): only the drain record may be left.
            if (!(err instanceof KeeperError && err.code === 'member-not-found' && deps.ownership.drainOf(id) !== undefined)) throw err;
          }
          await clearDrain(deps.keeper, id);
          await clearJoin(deps.keeper, id);
          return { removed: id, ...(handoff === undefined ? {} : { handoff }) };
        };
        return onLeader(req, reply, remove, timeoutS * 1000 + FORWARD_TIMEOUT_MS);
      },
    );

    app.post<{ Body: { to?: string } | undefined }>(
      '/v1/cluster/transfer-leader',
      {
        schema: {
          tags: ['cluster'],
          summary: 'Hand Raft leadership to a voter (default: the most caught-up healthy one) (admin)',
          body: { type: ['object', 'null'], additionalProperties: false, properties: { to: memberId } },
        },
      },
      async (req, reply) => {
        deps.auth.admin(req);
        const to = req.body?.to;
        return onLeader(req, reply, () => deps.keeper.transferLeader(to));
      },
    );
  };
}
