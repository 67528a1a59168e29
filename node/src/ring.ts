// Ownership by rendezvous (highest-random-weight) hashing: every node computes
// the same ranking of members for a key from the same membership, and a join
// or leave moves only the keys whose top node changed (about 1/N of them),
// without virtual-node tables to keep in step.
import { createHash } from 'node:crypto';
import type { Member } from '../../keeper/src/keeper.js';

function weight(memberId: string, key: string): bigint {
  return createHash('sha256').update(memberId).update('\u0000').update(key).digest().readBigUInt64BE(0);
}

/** Members ranked for `key`, owner first. Learners never own keys. */
export function rankNodes(members: readonly Member[], key: string): Member[] {
  const voters = members.filter((m) => m.role === 'voter');
  // One voter (a single node) owns everything: no weight to compute, once per push.
  if (voters.length <= 1) return voters;
  const scored = voters.map((m) => ({ m, w: weight(m.id, key) }));
  scored.sort((a, b) => (a.w === b.w ? (a.m.id < b.m.id ? -1 : 1) : a.w > b.w ? -1 : 1));
  return scored.map((s) => s.m);
}

export function ownerOf(members: readonly Member[], key: string): Member | undefined {
  return rankNodes(members, key)[0];
}
