import { assert } from '../assert.js';
import { committedIndex, voteResult } from '../quorum/majority.js';
import type { VoteResult } from '../quorum/majority.js';
import type { ConfState, Index, NodeId } from '../types.js';
import { Progress } from './progress.js';

/**
 * The active configuration and the leader's per-member progress.
 * Invariant: voters and learners are disjoint, and every member has a Progress.
 */
export class ProgressTracker {
  voters = new Set<NodeId>();
  learners = new Set<NodeId>();
  readonly progress = new Map<NodeId, Progress>();
  /** Votes received in the current election: true = granted. */
  readonly votes = new Map<NodeId, boolean>();

  constructor(
    readonly inflightMsgsMax: number,
    readonly inflightBytesMax: number,
  ) {}

  confState(): ConfState {
    return { voters: [...this.voters].sort((a, b) => a - b), learners: [...this.learners].sort((a, b) => a - b) };
  }

  /** Members in ascending id order, for deterministic iteration. */
  ids(): NodeId[] {
    return [...this.progress.keys()].sort((a, b) => a - b);
  }

  committed(): Index {
    return committedIndex(this.voters, (id) => this.progress.get(id)?.match);
  }

  /** Whether a quorum of voters was recently active (the leader counts itself as active). */
  quorumActive(self: NodeId): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      votes.set(id, id === self || pr.recentActive);
    }
    return voteResult(this.voters, votes) === 'won';
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): VoteResult {
    return voteResult(this.voters, this.votes);
  }

  /** Replaces the configuration; new members start probing at `next`. */
  applyConf(cs: ConfState, next: Index): void {
    const voters = new Set(cs.voters);
    const learners = new Set(cs.learners);
    for (const id of learners) assert(!voters.has(id), `node ${id} is both voter and learner`);
    for (const id of [...this.progress.keys()]) {
      if (!voters.has(id) && !learners.has(id)) this.progress.delete(id);
    }
    for (const id of [...voters, ...learners]) {
      const pr = this.progress.get(id);
      if (pr === undefined) {
        const p = new Progress(next, this.inflightMsgsMax, this.inflightBytesMax, learners.has(id));
        // A new member counts as active so that CheckQuorum does not depose
        // the leader before the member had a chance to answer.
        p.recentActive = true;
        this.progress.set(id, p);
      } else {
        pr.isLearner = learners.has(id);
      }
    }
    this.voters = voters;
    this.learners = learners;
  }
}
