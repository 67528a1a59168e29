import { assert } from '../assert.js';
import { StorageError, StorageErrorCode } from '../errors.js';
import type { ConfState, Entry, HardState, Index, Snapshot, Term } from '../types.js';
import { EMPTY_HARD_STATE, EMPTY_SNAPSHOT, index, limitBytes, term } from '../types.js';
import type { Storage } from './storage.js';

/**
 * A Storage kept in memory. It is both the test store and the in-memory
 * index under the LevelDB store.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot = EMPTY_SNAPSHOT;
  /**
   * ents[0] is a dummy entry carrying the snapshot's (index, term).
   * Invariant: ents[i].index == ents[0].index + i.
   */
  private ents: Entry[] = [{ index: index(0), term: term(0), type: 'normal', data: new Uint8Array(0) }];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.meta.confState };
  }

  /** Sets the initial membership of a brand-new group (before any entry or snapshot). */
  bootstrap(cs: ConfState): void {
    assert(this.lastIndex() === 0 && this.snap.meta.index === 0, 'bootstrap of a non-empty storage');
    this.snap = { meta: { index: index(0), term: term(0), confState: cs }, data: new Uint8Array(0) };
  }

  /**
   * Replaces the whole content, for recovery from a durable store. `offset`
   * is the compaction point (the dummy entry): entries start at offset.index + 1.
   */
  load(state: { snapshot: Snapshot; offset: { index: Index; term: Term }; entries: readonly Entry[]; hardState: HardState }): void {
    assert(state.offset.index >= 0, 'negative offset');
    state.entries.forEach((e, i) => assert(e.index === state.offset.index + 1 + i, `recovered entries not contiguous at ${e.index}`));
    this.snap = state.snapshot;
    this.ents = [{ index: state.offset.index, term: state.offset.term, type: 'normal', data: new Uint8Array(0) }, ...state.entries];
    this.hardState = state.hardState;
  }

  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  private offset(): number {
    return this.ents[0]!.index;
  }

  firstIndex(): Index {
    return index(this.offset() + 1);
  }

  lastIndex(): Index {
    return index(this.offset() + this.ents.length - 1);
  }

  term(i: Index): Term {
    const off = this.offset();
    assert(i >= off && i <= this.lastIndex(), `term(${i}) out of range [${off}, ${this.lastIndex()}]`);
    return this.ents[i - off]!.term;
  }

  entries(lo: Index, hi: Index, bytesMax: number): readonly Entry[] {
    const off = this.offset();
    assert(lo > off && hi <= this.lastIndex() + 1 && lo <= hi, `entries(${lo}, ${hi}) out of range (${off}, ${this.lastIndex()}]`);
    return limitBytes(this.ents.slice(lo - off, hi - off), bytesMax);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole log with a snapshot. Returns an error if it is older than the stored one. */
  applySnapshot(s: Snapshot): StorageError | undefined {
    if (s.meta.index <= this.snap.meta.index) {
      return new StorageError(StorageErrorCode.SnapOutOfDate, `snapshot ${s.meta.index} <= ${this.snap.meta.index}`);
    }
    this.snap = s;
    this.ents = [{ index: s.meta.index, term: s.meta.term, type: 'normal', data: new Uint8Array(0) }];
    return undefined;
  }

  /**
   * Records a snapshot of the applied state at `i` (<= lastIndex) without
   * touching the log; call compact() afterwards to drop old entries.
   */
  createSnapshot(i: Index, cs: ConfState, data: Uint8Array): StorageError | Snapshot {
    if (i <= this.snap.meta.index) {
      return new StorageError(StorageErrorCode.SnapOutOfDate, `snapshot ${i} <= ${this.snap.meta.index}`);
    }
    assert(i <= this.lastIndex(), `snapshot ${i} is past last index ${this.lastIndex()}`);
    this.snap = { meta: { index: i, term: this.term(i), confState: cs }, data };
    return this.snap;
  }

  /** Drops entries before `compactIndex`; it becomes the new dummy entry. */
  compact(compactIndex: Index): StorageError | undefined {
    const off = this.offset();
    if (compactIndex <= off) return new StorageError(StorageErrorCode.Compacted, `compact ${compactIndex} <= ${off}`);
    assert(compactIndex <= this.lastIndex(), `compact ${compactIndex} is past last index ${this.lastIndex()}`);
    const dummy = this.ents[compactIndex - off]!;
    this.ents = [{ index: dummy.index, term: dummy.term, type: 'normal', data: new Uint8Array(0) }, ...this.ents.slice(compactIndex - off + 1)];
    return undefined;
  }

  /**
   * Appends entries, replacing any conflicting suffix. Entries already
   * compacted are skipped. Invariant: entries are contiguous and do not leave
   * a gap after lastIndex.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const lastNew = entries[entries.length - 1]!.index;
    if (lastNew < first) return;
    let ents = entries;
    if (first > ents[0]!.index) ents = ents.slice(first - ents[0]!.index);
    const off = ents[0]!.index - this.offset();
    assert(off <= this.ents.length, `missing log entry: last ${this.lastIndex()}, append at ${ents[0]!.index}`);
    // In place: appends are the hot path and the log can be long.
    this.ents.length = off;
    for (const e of ents) this.ents.push(e);
  }
}
