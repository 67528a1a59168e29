import { assert } from '../assert.js';
import type { Entry, Index, Snapshot, Term } from '../types.js';
import { index, limitBytes, term } from '../types.js';
import type { Storage } from './storage.js';
import { Unstable } from './unstable.js';

/**
 * The log as the core sees it: the durable part in Storage followed by the
 * unstable part not yet persisted.
 */
export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  /** Highest index known committed. Invariant: applied <= committed <= lastIndex(). */
  committed: Index;
  /** Highest index handed to the application. Invariant: applied <= committed. */
  applied: Index;
  /** Limit for committed entries in one Ready. */
  readonly committedBytesMax: number;

  constructor(storage: Storage, committedBytesMax: number) {
    this.storage = storage;
    this.committedBytesMax = committedBytesMax;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(index(last + 1));
    this.committed = index(first - 1);
    this.applied = index(first - 1);
  }

  firstIndex(): Index {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): Index {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /**
   * The last index the shell has persisted (and that is still in this log):
   * everything below the unstable part. Not meaningful while an unstable
   * snapshot is pending (only followers install snapshots).
   */
  stableLastIndex(): Index {
    return index(this.unstable.offset - 1);
  }

  lastTerm(): Term {
    const t = this.term(this.lastIndex());
    assert(t !== undefined, 'the last term is always known');
    return t;
  }

  /** The term of entry i, or undefined if i is compacted or past the end. */
  term(i: Index): Term | undefined {
    const dummy = this.firstIndex() - 1;
    if (i < dummy || i > this.lastIndex()) return undefined;
    const u = this.unstable.maybeTerm(i);
    if (u !== undefined) return u;
    if (i < this.storage.firstIndex() - 1 || i > this.storage.lastIndex()) return undefined;
    return this.storage.term(i);
  }

  /** Like term(), with 0 for indexes out of range (used for comparisons). */
  zeroTerm(i: Index): Term {
    return this.term(i) ?? term(0);
  }

  matchTerm(i: Index, t: Term): boolean {
    const got = this.term(i);
    return got !== undefined && got === t;
  }

  /** Raft §5.4.1: whether a log ending at (lastIndex, lastTerm) is at least as up to date as ours. */
  isUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    const ours = this.lastTerm();
    return lastTerm > ours || (lastTerm === ours && lastIndex >= this.lastIndex());
  }

  /**
   * Appends the leader's entries after (prevIndex, prevTerm) if the logs
   * match there. Returns the new last index, or undefined on mismatch.
   */
  maybeAppend(prevIndex: Index, prevTerm: Term, committed: Index, ents: readonly Entry[]): Index | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = index(prevIndex + ents.length);
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      assert(ci > this.committed, `entry ${ci} conflicts with committed entry (committed ${this.committed})`);
      this.append(ents.slice(ci - (prevIndex + 1)));
    }
    this.commitTo(index(Math.min(committed, lastNew)));
    return lastNew;
  }

  append(ents: readonly Entry[]): Index {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    assert(after >= this.committed, `append after ${after} is below committed ${this.committed}`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry in `ents` that is new or conflicts with our
   * log (same index, different term); 0 if all are already present.
   */
  findConflict(ents: readonly Entry[]): Index {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return index(0);
  }

  /**
   * For a rejected append at `i`: the largest index <= i whose term is <= t,
   * and that term. Lets the leader skip a whole term per round trip.
   */
  findConflictByTerm(i: Index, t: Term): { index: Index; term: Term } {
    let j = i;
    for (;;) {
      const ourTerm = this.term(j);
      if (ourTerm === undefined) return { index: j, term: term(0) };
      if (ourTerm <= t) return { index: j, term: ourTerm };
      j = index(j - 1);
    }
  }

  unstableEntries(): readonly Entry[] {
    return this.unstable.entries;
  }

  /** Committed entries not yet applied, bounded by committedBytesMax. */
  nextCommittedEntries(): readonly Entry[] {
    const lo = index(Math.max(this.applied + 1, this.firstIndex()));
    const hi = index(this.committed + 1);
    if (lo >= hi) return [];
    return this.slice(lo, hi, this.committedBytesMax);
  }

  hasNextCommittedEntries(): boolean {
    return this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  /** The snapshot to install, if the unstable part holds one. */
  unstableSnapshot(): Snapshot | undefined {
    return this.unstable.snapshot;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  commitTo(c: Index): void {
    if (c <= this.committed) return;
    assert(c <= this.lastIndex(), `commit ${c} is out of range [last ${this.lastIndex()}]`);
    this.committed = c;
  }

  appliedTo(i: Index): void {
    if (i === 0) return;
    assert(this.committed >= i && i >= this.applied, `applied ${i} out of range [prev ${this.applied}, committed ${this.committed}]`);
    this.applied = i;
  }

  stableTo(i: Index, t: Term): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: Index): void {
    this.unstable.stableSnapTo(i);
  }

  /** Entries from i to the end, bounded by bytesMax; undefined if i is compacted. */
  entriesFrom(i: Index, bytesMax: number): readonly Entry[] | undefined {
    if (i > this.lastIndex()) return [];
    if (i < this.firstIndex()) return undefined;
    return this.slice(i, index(this.lastIndex() + 1), bytesMax);
  }

  /** Entries [lo, hi), bounded by bytesMax. Invariant: firstIndex <= lo <= hi <= lastIndex + 1. */
  slice(lo: Index, hi: Index, bytesMax: number): readonly Entry[] {
    assert(lo >= this.firstIndex() && hi <= this.lastIndex() + 1 && lo <= hi, `slice [${lo}, ${hi}) out of range [${this.firstIndex()}, ${this.lastIndex()}]`);
    if (lo === hi) return [];
    const uoff = this.unstable.offset;
    let out: Entry[] = [];
    if (lo < uoff) {
      const stored = this.storage.entries(lo, index(Math.min(hi, uoff)), bytesMax);
      // Storage may return less than asked (byte limit): stop there.
      if (stored.length < Math.min(hi, uoff) - lo) return stored;
      out = [...stored];
    }
    if (hi > uoff) {
      out.push(...this.unstable.slice(index(Math.max(lo, uoff)), hi));
    }
    return limitBytes(out, bytesMax);
  }

  /** Installs a snapshot: the log becomes the snapshot alone, committed up to its index. */
  restore(s: Snapshot): void {
    this.committed = s.meta.index;
    this.unstable.restore(s);
  }

  /** Commits up to maxIndex if that entry is of term t (the leader's current term). */
  maybeCommit(maxIndex: Index, t: Term): boolean {
    // Raft §5.4.2: only entries of the current term commit by counting replicas.
    if (maxIndex > this.committed && this.zeroTerm(maxIndex) === t) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }
}
