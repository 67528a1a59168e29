import type { Index, NodeId } from '../types.js';
import { index } from '../types.js';

export const VoteResult = { Pending: 'pending', Lost: 'lost', Won: 'won' } as const;
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

/**
 * The largest index acknowledged by a majority of `voters`, given each
 * voter's acknowledged index. An empty configuration commits everything
 * (it never arises for a running group, but keeps the function total).
 */
export function committedIndex(voters: ReadonlySet<NodeId>, acked: (id: NodeId) => Index | undefined): Index {
  const n = voters.size;
  if (n === 0) return index(Number.MAX_SAFE_INTEGER);
  const srt: number[] = [];
  for (const id of voters) srt.push(acked(id) ?? 0);
  srt.sort((a, b) => b - a);
  // The (n/2 + 1)-th largest value is acknowledged by a majority.
  return index(srt[Math.floor(n / 2)]!);
}

/** The outcome of an election in `voters`, given granted (true) / rejected (false) votes. */
export function voteResult(voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.size === 0) return VoteResult.Won;
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = Math.floor(voters.size / 2) + 1;
  if (granted >= q) return VoteResult.Won;
  if (granted + missing >= q) return VoteResult.Pending;
  return VoteResult.Lost;
}
