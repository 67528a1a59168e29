// Peer RPC for moving inboxes (registered from peer-routes.ts): `handoff`
// carries inboxes and idempotency records from a previous owner to their new
// owners (`import`, `idempotency`) and lets a new owner pull one user's inbox
// at once (`export`, which seals first: a draining node whole, the owner
// before a join that user alone); `drain` starts a member's drain or reads
// its progress (drain.ts), or starts a previous owner's hand-over to a
// joining member (`release`, join-release.ts).
import type { FastifyInstance } from 'fastify';
import { answer } from './peer-answer.js';
import type { Drainer } from '../drain.js';
import type { JoinRelease } from '../join-release.js';
import type { Metrics } from '../metrics.js';
import type { Saver } from '../saver/saver.js';
import { RPC_PATH_PREFIX } from './peer-client.js';
import { parseDrainCall, parseHandoffCall } from './peer-handoff-codec.js';

export interface HandoffDeps {
  readonly saver: Saver;
  readonly drainer: Drainer;
  readonly release: JoinRelease;
  readonly metrics: Metrics;
}


/** Registers the handoff and drain methods inside the peer routes' plugin (its MessagePack parser and member-signature check apply). */
export function handoffRoutes(app: FastifyInstance, deps: HandoffDeps): void {
  app.post(RPC_PATH_PREFIX + 'handoff', { schema: { hide: true } }, async (req, reply) => {
    const call = parseHandoffCall(req.body);
    switch (call.op) {
      case 'import': {
        const n = await deps.saver.importUsers(call.mark, call.users);
        deps.metrics.handoffUsersIn[call.move].inc(n.users);
        deps.metrics.handoffMessagesIn[call.move].inc(n.messages);
        return answer(req, reply, n);
      }
      case 'idempotency':
        await deps.saver.importIdempotency(call.records);
        return answer(req, reply, null);
      case 'export': {
        if (call.move === 'drain') await deps.drainer.seal(call.mark);
        else await deps.saver.sealUsers(call.mark, [{ app: call.app, user: call.user }]);
        const u = await deps.saver.exportUser(call.app, call.user);
        deps.metrics.handoffUsersOut[call.move].inc();
        deps.metrics.handoffMessagesOut[call.move].inc(u.messages.length);
        return answer(req, reply, u);
      }
    }
  });

  app.post(RPC_PATH_PREFIX + 'drain', { schema: { hide: true } }, async (req, reply) => {
    const call = parseDrainCall(req.body);
    switch (call.op) {
      case 'start':
        return answer(req, reply, deps.drainer.start(call.mark));
      case 'status':
        return answer(req, reply, deps.drainer.status());
      case 'release':
        return answer(req, reply, deps.release.start(call.mark));
    }
  });
}
