import { Level } from 'level';
import { assert } from '../assert.js';
import { StorageError, StorageErrorCode } from '../errors.js';
import { MemoryStorage } from '../log/memory-storage.js';
import type { ConfState, Entry, EntryType, HardState, Index, Snapshot, Term } from '../types.js';
import { EMPTY_HARD_STATE, EMPTY_SNAPSHOT, index, term } from '../types.js';

/**
 * The Raft log in LevelDB. The core reads through `memory` (a synchronous
 * MemoryStorage kept equal to what is durable); every write goes to LevelDB
 * first, as one atomic batch with { sync: true }, and to memory after.
 *
 * Key layout (utf8 keys, binary values):
 *   h             hard state            {term, vote, commit}
 *   s             snapshot              meta (JSON) + data
 *   o             compaction offset     {index, term} of the last compacted entry
 *   e<16 hex>     entry at that index   term, type, data
 * Invariant: the stored entries are exactly (o.index, lastIndex], contiguous.
 */
export class LevelStorage {
  readonly memory = new MemoryStorage();

  private constructor(private readonly db: Level<string, Uint8Array>) {}

  /** Opens (or creates) the store at `path` and loads it into memory. */
  static async open(path: string): Promise<LevelStorage> {
    const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (cause) {
      throw new StorageError(StorageErrorCode.Io, `cannot open raft log at ${path}`, { cause });
    }
    const st = new LevelStorage(db);
    await st.recover();
    return st;
  }

  private async recover(): Promise<void> {
    const hsRaw = await this.db.get('h');
    const snapRaw = await this.db.get('s');
    const offRaw = await this.db.get('o');
    const hardState = hsRaw === undefined ? EMPTY_HARD_STATE : decodeHardState(hsRaw);
    const snapshot = snapRaw === undefined ? EMPTY_SNAPSHOT : decodeSnapshot(snapRaw);
    // No compaction yet: the log starts at index 1 (a snapshot may still exist).
    const offset = offRaw === undefined ? { index: index(0), term: term(0) } : decodeOffset(offRaw);
    const entries: Entry[] = [];
    for await (const [k, v] of this.db.iterator({ gte: 'e', lt: 'f' })) {
      const i = index(parseInt(k.slice(1), 16));
      const expected = offset.index + 1 + entries.length;
      if (i !== expected) {
        throw new StorageError(StorageErrorCode.Io, `corrupt raft log: entry ${i} where ${expected} was expected`);
      }
      entries.push(decodeEntry(i, v));
    }
    this.memory.load({ snapshot, offset, entries, hardState });
  }

  /** Persists the initial membership of a brand-new group (an empty snapshot at index 0). */
  async bootstrap(cs: ConfState): Promise<void> {
    assert(this.memory.lastIndex() === 0 && this.memory.snapshot().meta.index === 0, 'bootstrap of a non-empty raft log');
    const snap: Snapshot = { meta: { index: index(0), term: term(0), confState: cs }, data: new Uint8Array(0) };
    try {
      await this.db.batch([{ type: 'put', key: 's', value: encodeSnapshot(snap) }], { sync: true });
    } catch (cause) {
      throw new StorageError(StorageErrorCode.Io, 'raft bootstrap write failed', { cause });
    }
    this.memory.bootstrap(cs);
  }

  /**
   * Persists what a Ready asks for: snapshot, entries (truncating any
   * conflicting suffix) and hard state, in one synced batch. Resolves once
   * durable; only then may the Ready's messages be sent.
   */
  async save(rd: { readonly hardState?: HardState | undefined; readonly entries: readonly Entry[]; readonly snapshot?: Snapshot | undefined }): Promise<void> {
    type Op = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };
    const ops: Op[] = [];
    let first = this.memory.firstIndex();
    let last = this.memory.lastIndex();
    if (rd.snapshot !== undefined) {
      const s = rd.snapshot;
      assert(s.meta.index > this.memory.snapshot().meta.index, `snapshot ${s.meta.index} is not newer than the stored one`);
      ops.push({ type: 'put', key: 's', value: encodeSnapshot(s) });
      ops.push({ type: 'put', key: 'o', value: encodeOffset(s.meta.index, s.meta.term) });
      for (let i = first; i <= last; i++) ops.push({ type: 'del', key: entryKey(index(i)) });
      first = index(s.meta.index + 1);
      last = s.meta.index;
    }
    if (rd.entries.length > 0) {
      const from = rd.entries[0]!.index;
      assert(from <= last + 1, `entries from ${from} leave a gap after ${last}`);
      const newLast = rd.entries[rd.entries.length - 1]!.index;
      for (const e of rd.entries) if (e.index >= first) ops.push({ type: 'put', key: entryKey(e.index), value: encodeEntry(e) });
      // The conflicting suffix past the new entries goes in the same batch.
      for (let i = newLast + 1; i <= last; i++) ops.push({ type: 'del', key: entryKey(index(i)) });
    }
    if (rd.hardState !== undefined) ops.push({ type: 'put', key: 'h', value: encodeHardState(rd.hardState) });
    if (ops.length === 0) return;
    try {
      await this.db.batch(ops, { sync: true });
    } catch (cause) {
      throw new StorageError(StorageErrorCode.Io, 'raft log write failed', { cause });
    }
    if (rd.snapshot !== undefined) {
      const err = this.memory.applySnapshot(rd.snapshot);
      assert(err === undefined, 'memory and disk agree on the snapshot');
    }
    this.memory.append(rd.entries);
    if (rd.hardState !== undefined) this.memory.setHardState(rd.hardState);
  }

  /**
   * Records a snapshot of the applied state at `at` and drops the entries up
   * to `compactTo` (<= at; keeping a few lets slow followers avoid a snapshot).
   */
  async snapshotAndCompact(at: Index, confState: ConfState, data: Uint8Array, compactTo: Index): Promise<Snapshot> {
    assert(compactTo <= at, `compact ${compactTo} past snapshot ${at}`);
    assert(at <= this.memory.lastIndex() && at > this.memory.snapshot().meta.index, `snapshot index ${at} out of range`);
    const snap: Snapshot = { meta: { index: at, term: this.memory.term(at), confState }, data };
    const ops: ({ type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string })[] = [
      { type: 'put', key: 's', value: encodeSnapshot(snap) },
    ];
    const first = this.memory.firstIndex();
    const doCompact = compactTo >= first;
    if (doCompact) {
      ops.push({ type: 'put', key: 'o', value: encodeOffset(compactTo, this.memory.term(compactTo)) });
      for (let i = first; i <= compactTo; i++) ops.push({ type: 'del', key: entryKey(index(i)) });
    } else {
      // Without 'o', recovery takes the snapshot index as the offset; the entries kept below it must stay reachable.
      const off = index(first - 1);
      ops.push({ type: 'put', key: 'o', value: encodeOffset(off, this.memory.term(off)) });
    }
    try {
      await this.db.batch(ops, { sync: true });
    } catch (cause) {
      throw new StorageError(StorageErrorCode.Io, 'raft snapshot write failed', { cause });
    }
    const res = this.memory.createSnapshot(at, confState, data);
    assert(!(res instanceof StorageError), 'memory and disk agree on the snapshot');
    if (doCompact) {
      const err = this.memory.compact(compactTo);
      assert(err === undefined, 'memory and disk agree on the compaction');
    }
    return snap;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

function entryKey(i: Index): string {
  return `e${i.toString(16).padStart(16, '0')}`;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const TYPE_CODE: Readonly<Record<EntryType, number>> = { normal: 0, 'conf-change': 1 };

/** [term: float64 BE][type: u8][data]. */
function encodeEntry(e: Entry): Uint8Array {
  const out = new Uint8Array(9 + e.data.length);
  new DataView(out.buffer).setFloat64(0, e.term);
  out[8] = TYPE_CODE[e.type];
  out.set(e.data, 9);
  return out;
}

function decodeEntry(i: Index, v: Uint8Array): Entry {
  if (v.length < 9) throw new StorageError(StorageErrorCode.Io, `corrupt raft log: entry ${i} is ${v.length} bytes`);
  const t = new DataView(v.buffer, v.byteOffset, v.byteLength).getFloat64(0);
  const type: EntryType = v[8] === 1 ? 'conf-change' : 'normal';
  return { index: i, term: term(t), type, data: v.slice(9) };
}

function encodeHardState(hs: HardState): Uint8Array {
  return enc.encode(JSON.stringify({ term: hs.term, vote: hs.vote, commit: hs.commit }));
}

function decodeHardState(v: Uint8Array): HardState {
  const o = JSON.parse(dec.decode(v)) as { term: number; vote: number; commit: number };
  return { term: term(o.term), vote: o.vote, commit: index(o.commit) };
}

function encodeOffset(i: Index, t: Term): Uint8Array {
  return enc.encode(JSON.stringify({ index: i, term: t }));
}

function decodeOffset(v: Uint8Array): { index: Index; term: Term } {
  const o = JSON.parse(dec.decode(v)) as { index: number; term: number };
  return { index: index(o.index), term: term(o.term) };
}

/** [meta length: u32 BE][meta JSON][data]. */
function encodeSnapshot(s: Snapshot): Uint8Array {
  const meta = enc.encode(JSON.stringify({ index: s.meta.index, term: s.meta.term, voters: s.meta.confState.voters, learners: s.meta.confState.learners }));
  const out = new Uint8Array(4 + meta.length + s.data.length);
  new DataView(out.buffer).setUint32(0, meta.length);
  out.set(meta, 4);
  out.set(s.data, 4 + meta.length);
  return out;
}

function decodeSnapshot(v: Uint8Array): Snapshot {
  const n = new DataView(v.buffer, v.byteOffset, v.byteLength).getUint32(0);
  const m = JSON.parse(dec.decode(v.subarray(4, 4 + n))) as { index: number; term: number; voters: number[]; learners: number[] };
  return { meta: { index: index(m.index), term: term(m.term), confState: { voters: m.voters, learners: m.learners } }, data: v.slice(4 + n) };
}
