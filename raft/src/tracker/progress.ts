import { assert } from '../assert.js';
import type { Index } from '../types.js';
import { index } from '../types.js';
import { Inflights } from './inflights.js';

export const ProgressState = {
  /** One MsgApp per heartbeat interval until the follower's match is found. */
  Probe: 'probe',
  /** Optimistic pipelining: `next` advances as soon as an append is sent. */
  Replicate: 'replicate',
  /** A snapshot is in flight; no appends until it is reported. */
  Snapshot: 'snapshot',
} as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

/** The leader's view of one follower's log. */
export class Progress {
  /** The highest index known to match the leader's log. Invariant: 0 <= match < next. */
  match: Index;
  /** The next index to send. Invariant: match < next. */
  next: Index;
  state: ProgressState = ProgressState.Probe;
  /** The snapshot index being sent. Invariant: non-zero only in state Snapshot. */
  pendingSnapshot: Index = index(0);
  /** Set on any message from the follower; cleared by CheckQuorum every election timeout. */
  recentActive = false;
  /** The highest commit index sent to the follower (appends and heartbeats). */
  sentCommit: Index = index(0);
  /** In Probe: an append was sent and no answer or heartbeat response came since. */
  msgAppFlowPaused = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(next: Index, inflightMsgsMax: number, inflightBytesMax: number, isLearner: boolean) {
    this.match = index(0);
    this.next = next;
    this.inflights = new Inflights(inflightMsgsMax, inflightBytesMax);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = index(0);
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      // After a snapshot, probe from just past it (or past match if higher).
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = index(Math.max(this.match + 1, pending + 1));
    } else {
      this.resetState(ProgressState.Probe);
      this.next = index(this.match + 1);
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = index(this.match + 1);
  }

  becomeSnapshot(snapshotIndex: Index): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /**
   * Records that entries up to `last` were sent in one MsgApp of `bytes`.
   * In Replicate, `next` moves optimistically; in Probe, the flow pauses.
   */
  sentEntries(count: number, bytes: number): void {
    switch (this.state) {
      case ProgressState.Replicate:
        if (count > 0) {
          this.next = index(this.next + count);
          this.inflights.add(index(this.next - 1), bytes);
        }
        this.msgAppFlowPaused = this.inflights.full();
        break;
      case ProgressState.Probe:
        if (count > 0) this.msgAppFlowPaused = true;
        break;
      case ProgressState.Snapshot:
        assert(false, 'sending entries in state snapshot');
    }
  }

  /** A successful MsgAppResp up to `n`. Returns false if it was stale. */
  maybeUpdate(n: Index): boolean {
    if (n <= this.match) return false;
    this.match = n;
    if (this.next <= n) this.next = index(n + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /**
   * A rejected MsgApp for `rejected`, with the follower's hint `matchHint`.
   * Returns false if the rejection is stale and was ignored.
   */
  maybeDecrTo(rejected: Index, matchHint: Index): boolean {
    if (this.state === ProgressState.Replicate) {
      // Stale if the rejected append was already matched.
      if (rejected <= this.match) return false;
      this.next = index(this.match + 1);
      return true;
    }
    // Probe (or snapshot): only the latest probe's rejection counts.
    if (this.next - 1 !== rejected) return false;
    this.next = index(Math.max(Math.min(rejected, matchHint + 1), this.match + 1));
    this.msgAppFlowPaused = false;
    return true;
  }

  /**
   * Whether an empty append would tell the follower a newer commit index:
   * the commit moved past what it was sent, and the follower holds entries
   * up to what it was sent (its log is not behind).
   */
  canBumpCommit(committed: Index): boolean {
    return committed > this.sentCommit && this.sentCommit < this.next - 1;
  }

  /** Whether the leader must hold back appends to this follower. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.msgAppFlowPaused;
      case ProgressState.Replicate:
        return this.msgAppFlowPaused;
      case ProgressState.Snapshot:
        return true;
    }
  }

  toString(): string {
    let s = `${this.state} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.isPaused()) s += ' paused';
    if (this.pendingSnapshot > 0) s += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) s += ' inactive';
    if (this.inflights.size() > 0) s += ` inflight=${this.inflights.size()}`;
    return s;
  }
}
