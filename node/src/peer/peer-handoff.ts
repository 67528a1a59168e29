// Peer RPC for draining a member (registered from peer-routes.ts): `handoff`
// carries inboxes and idempotency records from the draining node to their new
// owners (`import`, `idempotency`) and lets a new owner pull one user's inbox
// at once (`export`, which seals the draining node first); `drain` starts a
// member's drain or reads its progress (drain.ts).
import type { FastifyInstance } from 'fastify';
import { answer } from './peer-answer.js';
import type { Drainer } from '../drain.js';
import type { Metrics } from '../metrics.js';
import type { Saver } from '../saver/saver.js';
import { RPC_PATH_PREFIX } from './peer-client.js';
import { parseDrainCall, parseHandoffCall } from './peer-handoff-codec.js';

export interface HandoffDeps {
  readonly saver: Saver;
  readonly drainer: Drainer;
  readonly metrics: Metrics;
}


/** Registers the handoff and drain methods inside the peer routes' plugin (its MessagePack parser and member-signature check apply). */
export function handoffRoutes(app: FastifyInstance, deps: HandoffDeps): void {
  app.post(RPC_PATH_PREFIX + 'handoff', { schema: { hide: true } }, async (req, reply) => {
    const call = parseHandoffCall(req.body);
    switch (call.op) {
      case 'import': {
        const n = await deps.saver.importUsers(call.mark, call.users);
        deps.metrics.handoffUsersIn.inc(n.users);
        deps.metrics.handoffMessagesIn.inc(n.messages);
        return answer(req, reply, n);
      }
      case 'idempotency':
        await deps.saver.importIdempotency(call.records);
        return answer(req, reply, null);
      case 'export':
        await deps.drainer.seal(call.mark);
        const u = await deps.saver.exportUser(call.app, call.user);
        deps.metrics.handoffUsersOut.inc();
        deps.metrics.handoffMessagesOut.inc(u.messages.length);
        return answer(req, reply, u);
    }
  });

  app.post(RPC_PATH_PREFIX + 'drain', { schema: { hide: true } }, async (req, reply) => {
    const call = parseDrainCall(req.body);
    return answer(req, reply, call.op === 'start' ? deps.drainer.start(call.mark) : deps.drainer.status());
  });
}
