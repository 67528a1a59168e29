// POST /v1/cluster/members records the join in the keeper before the learner
// is added (docs/PROTOCOL.md, docs/OPERATIONS.md): /sys/joining/<id> with a
// fresh mark and the voters of the moment. Raft applies the record before the
// learner's promotion, so every node that sees the new voter also knows the
// ring it joined, and each user it now owns is moved to it from that ring's
// owner before it sequences anything for the user (ownership.ts,
// join-move.ts, join-release.ts). One membership change moves users at a
// time: a join waits for a drain and for another join's move to finish, and
// a removal waits for a join's move (join routes answer 409 meanwhile).
import { randomUUID } from 'node:crypto';
import type { Keeper } from '../../../keeper/src/keeper.js';
import { JOINING_PREFIX, parseJoin, type Join } from '../ownership.js';
import { ApiError } from './errors.js';

async function joinRecords(keeper: Keeper): Promise<Join[]> {
  const r = await keeper.range(JOINING_PREFIX, { prefix: true });
  return r.kvs.flatMap((kv) => parseJoin(kv.key.slice(JOINING_PREFIX.length), kv.value) ?? []);
}

/**
 * Records the join of `id` (before it is added): refused while another
 * member's join still moves users; a record left by an add that never
 * happened (its member is not in the cluster) is replaced. A member already
 * a voter without a record has finished joining: nothing is recorded.
 */
export async function recordJoin(keeper: Keeper, id: string): Promise<void> {
  const members = keeper.cluster().members;
  const self = members.find((m) => m.id === id);
  let mark: string | undefined;
  for (const join of await joinRecords(keeper)) {
    const member = members.find((m) => m.id === join.member);
    if (join.member === id) {
      if (member !== undefined) return; // a repeated add of a learner or voter being joined: its record stands
      mark = join.mark;
      continue;
    }
    if (member !== undefined) throw new ApiError('conflict', `member ${join.member} is joining: its users are being moved to it; retry when that is done`);
    // Its add never happened (or it was removed): the record is stale.
    await keeper.delete(JOINING_PREFIX + join.member);
  }
  if (self?.role === 'voter') return;
  const from = members.filter((m) => m.role === 'voter' && m.id !== id).map((m) => m.id);
  await keeper.put(JOINING_PREFIX + id, JSON.stringify({ mark: mark ?? randomUUID(), from }));
}

/**
 * A removal must not change the ring while a join moves users: refused
 * (409) while another member's join runs, and for the joiner itself until
 * its users are moved (unless forced: then they stay where they were).
 */
export async function checkNoJoin(keeper: Keeper, id: string, force: boolean): Promise<void> {
  const members = keeper.cluster().members;
  for (const join of await joinRecords(keeper)) {
    const member = members.find((m) => m.id === join.member);
    if (member === undefined) continue;
    if (join.member !== id) throw new ApiError('conflict', `member ${join.member} is joining: its users are being moved to it; retry when that is done`);
    if (member.role === 'voter' && !force) {
      throw new ApiError('conflict', `${id} joined and its users are still being moved to it; retry when that is done, or add force=true (the inboxes it took are lost; the others stay with their previous owners)`);
    }
  }
}

/** After a member left Raft: a join record of it is over. */
export async function clearJoin(keeper: Keeper, id: string): Promise<void> {
  await keeper.delete(JOINING_PREFIX + id);
}
