import { assert } from '../assert.js';
import type { Entry, Index, Snapshot, Term } from '../types.js';
import { index } from '../types.js';

/**
 * Entries (and possibly a snapshot) accepted by this node but not yet
 * persisted by the shell. A crash loses them.
 */
export class Unstable {
  /** A snapshot being installed. Invariant: if set, offset == snapshot.meta.index + 1. */
  snapshot: Snapshot | undefined = undefined;
  /** Invariant: entries[i].index == offset + i. */
  entries: Entry[] = [];
  offset: Index;

  constructor(offset: Index) {
    this.offset = offset;
  }

  /** The first index if the unstable part holds a snapshot. */
  maybeFirstIndex(): Index | undefined {
    return this.snapshot === undefined ? undefined : index(this.snapshot.meta.index + 1);
  }

  maybeLastIndex(): Index | undefined {
    if (this.entries.length > 0) return index(this.offset + this.entries.length - 1);
    if (this.snapshot !== undefined) return this.snapshot.meta.index;
    return undefined;
  }

  maybeTerm(i: Index): Term | undefined {
    if (i < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.meta.index === i) return this.snapshot.meta.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  /** The shell persisted entries up to (i, t): drop them if they are still ours. */
  stableTo(i: Index, t: Term): void {
    const got = this.maybeTerm(i);
    if (got === undefined || got !== t || i < this.offset) return;
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = index(i + 1);
  }

  stableSnapTo(i: Index): void {
    if (this.snapshot !== undefined && this.snapshot.meta.index === i) this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = index(s.meta.index + 1);
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: readonly Entry[]): void {
    const first = ents[0]!.index;
    if (first === this.offset + this.entries.length) {
      this.entries.push(...ents);
    } else if (first <= this.offset) {
      // Replaces the whole unstable part (and hides a conflicting stable suffix).
      this.offset = first;
      this.entries = [...ents];
    } else {
      this.entries = [...this.entries.slice(0, first - this.offset), ...ents];
    }
  }

  slice(lo: Index, hi: Index): Entry[] {
    assert(lo >= this.offset && hi <= this.offset + this.entries.length && lo <= hi, `unstable.slice(${lo}, ${hi}) out of [${this.offset}, ${this.offset + this.entries.length}]`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
