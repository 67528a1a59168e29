// Raft member ids are positive integers; keeper members are named by strings
// ("n1"). Every member derives the Raft id of a name the same way, so no table
// has to be agreed on before the first message: the first 48 bits of the
// name's SHA-256, plus one so that 0 ("none") never occurs. Two names that
// collide are refused when the second one is added.

import { createHash } from 'node:crypto';

export function raftIdOf(memberId: string): number {
  const h = createHash('sha256').update(memberId, 'utf8').digest();
  return h.readUIntBE(0, 6) + 1;
}
