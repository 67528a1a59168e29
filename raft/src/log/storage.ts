import type { ConfState, Entry, HardState, Index, Snapshot, Term } from '../types.js';

/**
 * Read access to the durable log, as the core sees it. Synchronous: an
 * implementation over a disk keeps an in-memory index of what it wrote
 * (see storage/level-storage.ts, which loads into a MemoryStorage).
 *
 * The core only asks for indexes it knows to be in range:
 * firstIndex() - 1 <= i <= lastIndex() for term(i), and
 * firstIndex() <= lo <= hi <= lastIndex() + 1 for entries(lo, hi).
 */
export interface Storage {
  initialState(): { readonly hardState: HardState; readonly confState: ConfState };
  /** Entries [lo, hi), at most `bytesMax` bytes but at least one entry if lo < hi. */
  entries(lo: Index, hi: Index, bytesMax: number): readonly Entry[];
  /** The term of entry i; for i = firstIndex() - 1, the term of the snapshot. */
  term(i: Index): Term;
  /** The index of the first entry still available (snapshot index + 1). */
  firstIndex(): Index;
  lastIndex(): Index;
  /** The most recent snapshot (possibly empty). */
  snapshot(): Snapshot;
}
