// Raft member ids are positive integers; keeper members are named by strings
// ("n1"). Every member derives the Raft id of a name the same way, so no table
// has to be agreed on before the first message: the first 48 bits of the
// name's SHA-256, plus one so that 0 ("none") never occurs. Two names that
// collide are refused when the second one is added.

import { hash } from 'node:crypto';

/** Member names seen, with their ids: cluster() maps every member on every call (several times per push). */
const known = new Map<string, number>();
/** Bounds the memo; a cluster has a handful of members, so reaching it means names come from elsewhere. */
const KNOWN_MAX = 1024;

export function raftIdOf(memberId: string): number {
  let id = known.get(memberId);
  if (id === undefined) {
    id = hash('sha256', memberId, 'buffer').readUIntBE(0, 6) + 1;
    if (known.size >= KNOWN_MAX) known.clear();
    known.set(memberId, id);
  }
  return id;
}
