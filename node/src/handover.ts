// Sending inboxes and idempotency records to their new owners over peer RPC
// (`handoff` import and idempotency calls): shared by a drained member, which
// hands every inbox it holds (drain.ts), and a previous owner, which hands a
// joining member the users it now owns (join-release.ts). Inboxes go in
// batches of at most HANDOFF_USERS_MAX users and HANDOFF_MSGS_MAX messages
// per call; an import is idempotent under the move's mark, so a move that
// failed or whose node crashed starts over and skips nothing it must not.
import type { Member } from '../../keeper/src/keeper.js';
import type { Metrics } from './metrics.js';
import type { MoveKind } from './ownership.js';
import type { Peers } from './peer/peers.js';
import type { IdempotencyHandoff, Json, Saver, UserHandoff } from './saver/saver.js';

/** Users per import call and per export read. */
export const HANDOFF_USERS_MAX = 256;
/** Messages per import call (a user with more goes alone). */
export const HANDOFF_MSGS_MAX = 4096;
/** Idempotency records per read and per call. */
export const HANDOFF_RECORDS_MAX = 1024;

export interface Moved {
  readonly users: number;
  readonly messages: number;
}

/** Hands `batch` to each user's new owner (`ownerOf`), one owner and one call at a time; answers what the owners took. */
export async function handUsers(peers: Peers, metrics: Metrics, move: MoveKind, mark: string, batch: readonly UserHandoff[], ownerOf: (app: string, user: string) => Member): Promise<Moved> {
  const byOwner = new Map<string, { member: Member; calls: UserHandoff[][]; msgs: number }>();
  for (const u of batch) {
    const m = ownerOf(u.app, u.user);
    let g = byOwner.get(m.id);
    if (g === undefined) byOwner.set(m.id, (g = { member: m, calls: [[]], msgs: 0 }));
    const last = g.calls[g.calls.length - 1];
    if (last !== undefined && (last.length === 0 || g.msgs + u.messages.length <= HANDOFF_MSGS_MAX)) {
      last.push(u);
      g.msgs += u.messages.length;
    } else {
      g.calls.push([u]);
      g.msgs = u.messages.length;
    }
  }
  let users = 0;
  let messages = 0;
  // One owner at a time and one call at a time: a move must not crowd out pushes on the peer links.
  for (const g of byOwner.values()) {
    for (const call of g.calls) {
      if (call.length === 0) continue;
      const n = await peers.of(g.member).call('handoff', { op: 'import', move, mark, users: call });
      if (typeof n !== 'object' || n === null || !('users' in n) || !('messages' in n) || typeof n.users !== 'number' || typeof n.messages !== 'number') {
        throw new Error(`${g.member.id} answered an import without counts`);
      }
      users += n.users;
      messages += n.messages;
      metrics.handoffUsersOut[move].inc(n.users);
      metrics.handoffMessagesOut[move].inc(n.messages);
    }
  }
  return { users, messages };
}

/**
 * Each idempotency record goes to the new owners of the users in its answer,
 * with only their results; a user `ownerOf` answers undefined for stays here.
 */
export async function handIdempotency(saver: Saver, peers: Peers, ownerOf: (app: string, user: string) => Member | undefined): Promise<void> {
  for (let after: IdempotencyHandoff | undefined; ; ) {
    const records = await saver.exportIdempotency(after, HANDOFF_RECORDS_MAX);
    const byOwner = new Map<string, { member: Member; records: IdempotencyHandoff[] }>();
    for (const r of records) {
      const parts = new Map<string, Json[]>();
      for (const x of resultsOf(r.answer)) {
        const user = typeof x === 'object' && x !== null && !Array.isArray(x) ? x.user : undefined;
        if (typeof user !== 'string') continue;
        const m = ownerOf(r.app, user);
        if (m === undefined) continue;
        if (!byOwner.has(m.id)) byOwner.set(m.id, { member: m, records: [] });
        parts.set(m.id, [...(parts.get(m.id) ?? []), x]);
      }
      for (const [id, part] of parts) {
        const answer = typeof r.answer === 'object' && r.answer !== null && !Array.isArray(r.answer) ? { ...r.answer, results: part } : r.answer;
        byOwner.get(id)?.records.push({ ...r, answer });
      }
    }
    for (const g of byOwner.values()) await peers.of(g.member).call('handoff', { op: 'idempotency', records: g.records });
    after = records[records.length - 1];
    if (records.length < HANDOFF_RECORDS_MAX) return;
  }
}

function resultsOf(answer: Json): Json[] {
  return typeof answer === 'object' && answer !== null && !Array.isArray(answer) && Array.isArray(answer.results) ? answer.results : [];
}
