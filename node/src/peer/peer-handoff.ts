// Peer methods for moving inboxes (part of peer-methods.ts): `handoff`
// carries inboxes and idempotency records from a previous owner to their new
// owners (`import`, `idempotency`) and lets a new owner pull one user's inbox
// at once (`export`, which seals first: a draining node whole, the owner
// before a join that user alone) or one idempotency record (`idempotency-get`); `drain` starts a member's drain or reads
// its progress (drain.ts), or starts a previous owner's hand-over to a
// joining member (`release`, join-release.ts).
import type { Drainer } from '../drain.js';
import type { JoinRelease } from '../join-release.js';
import type { Metrics } from '../metrics.js';
import type { Saver } from '../saver/saver.js';
import type { PeerMethod } from './peer-methods.js';
import { parseDrainCall, parseHandoffCall } from './peer-handoff-codec.js';

export interface HandoffDeps {
  readonly saver: Saver;
  readonly drainer: Drainer;
  readonly release: JoinRelease;
  readonly metrics: Metrics;
}

export function handoffMethods(deps: HandoffDeps): [string, PeerMethod][] {
  const handoff: PeerMethod = async (body) => {
    const call = parseHandoffCall(body);
    switch (call.op) {
      case 'import': {
        const n = await deps.saver.importUsers(call.mark, call.users);
        deps.metrics.handoffUsersIn[call.move].inc(n.users);
        deps.metrics.handoffMessagesIn[call.move].inc(n.messages);
        return n;
      }
      case 'idempotency':
        await deps.saver.importIdempotency(call.records);
        return null;
      case 'idempotency-get':
        return (await deps.saver.exportIdempotencyRecord(call.app, call.key)) ?? null;
      case 'export': {
        if (call.move === 'drain') await deps.drainer.seal(call.mark);
        else await deps.saver.sealUsers(call.mark, [{ app: call.app, user: call.user }]);
        const u = await deps.saver.exportUser(call.app, call.user);
        deps.metrics.handoffUsersOut[call.move].inc();
        deps.metrics.handoffMessagesOut[call.move].inc(u.messages.length);
        return u;
      }
    }
  };
  const drain: PeerMethod = async (body) => {
    const call = parseDrainCall(body);
    switch (call.op) {
      case 'start':
        return deps.drainer.start(call.mark);
      case 'status':
        return deps.drainer.status();
      case 'release':
        return deps.release.start(call.mark);
    }
  };
  return [
    ['handoff', handoff],
    ['drain', drain],
  ];
}
