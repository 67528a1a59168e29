import { Level } from 'level';
import { assert } from '../assert.js';
import { StorageError, StorageErrorCode } from '../errors.js';
import { MemoryStorage } from '../log/memory-storage.js';
import type { ConfState, Entry, EntryType, HardState, Index, Snapshot, Term } from '../types.js';
import { EMPTY_HARD_STATE, EMPTY_SNAPSHOT, NONE, index, term } from '../types.js';

/**
 * The Raft log in LevelDB. The core reads through `memory` (a synchronous
 * MemoryStorage kept equal to what is durable); every write goes to LevelDB
 * first, as one atomic batch with { sync: true }, and to memory after.
 *
 * Key layout (utf8 keys, binary values):
 *   h             hard state            {term, vote, commit}
 *   s             snapshot              meta (JSON) + data
 *   o             compaction offset     {index, term} of the last compacted entry
 *   b<16 hex>     block of entries      the entries one save() wrote, from that index on
 * A block is one key per Ready rather than one per entry: LevelDB's batch
 * costs CPU per key, and a Ready under load carries dozens of entries.
 * A later block overrides the entries of earlier ones from its first index on
 * (a truncated conflicting suffix stays on disk until its block is deleted).
 * Invariant: the live entries are exactly (o.index, lastIndex], contiguous;
 * every block with a first index past a new block's is deleted with it.
 */
export class LevelStorage {
  readonly memory = new MemoryStorage();
  /** The stored blocks in index order, each with the range of its entries still live. */
  private blocks: Block[] = [];
  /**
   * A hard state that only moved the commit index, kept in memory until the
   * next write: such a Ready does no I/O at all (no thread-pool hop on the
   * commit path). Written with the next batch, which a snapshot always is,
   * so the stored commit is never below the stored snapshot's index.
   */
  private unwritten: HardState | undefined;

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
    const stored = hsRaw === undefined ? EMPTY_HARD_STATE : decodeHardState(hsRaw);
    const snapshot = snapRaw === undefined ? EMPTY_SNAPSHOT : decodeSnapshot(snapRaw);
    // A snapshot holds only committed entries: the commit is at least its index
    // (the commit index is written lazily, see `unwritten`).
    const hardState = stored.commit < snapshot.meta.index ? { ...stored, commit: snapshot.meta.index } : stored;
    // No compaction yet: the log starts at index 1 (a snapshot may still exist).
    const offset = offRaw === undefined ? { index: index(0), term: term(0) } : decodeOffset(offRaw);
    await this.migratePerEntryLayout();
    let entries: Entry[] = [];
    for await (const [k, v] of this.db.iterator({ gte: 'b', lt: 'c' })) {
      const first = index(parseInt(k.slice(1), 16));
      const last = offset.index + entries.length;
      if (first > last + 1) throw new StorageError(StorageErrorCode.Io, `corrupt raft log: block at ${first} after entry ${last}`);
      // This block overrides what earlier blocks hold from `first` on.
      if (first <= last) entries = entries.slice(0, Math.max(0, first - offset.index - 1));
      for (const b of this.blocks) if (b.last >= first) b.last = index(first - 1);
      const es = decodeBlock(first, v);
      for (const e of es) if (e.index > offset.index) entries.push(e);
      this.blocks.push({ first, last: index(first + es.length - 1) });
    }
    this.memory.load({ snapshot, offset, entries, hardState });
  }

  /**
   * A log written by a build before blocks (one key `e<16 hex>` per entry,
   * [term: float64 BE][type: u8][data]) becomes one block, in one synced batch,
   * so a member restarted on its data dir by a rolling upgrade keeps its log.
   */
  private async migratePerEntryLayout(): Promise<void> {
    const entries: Entry[] = [];
    const ops: ({ type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string })[] = [];
    for await (const [k, v] of this.db.iterator({ gte: 'e', lt: 'f' })) {
      const i = index(parseInt(k.slice(1), 16));
      const first = entries[0]?.index;
      if (first !== undefined && i !== first + entries.length) {
        throw new StorageError(StorageErrorCode.Io, `corrupt raft log: entry ${i} where ${first + entries.length} was expected`);
      }
      if (v.length < 9) throw new StorageError(StorageErrorCode.Io, `corrupt raft log: entry ${i} is ${v.length} bytes`);
      const t = new DataView(v.buffer, v.byteOffset, v.byteLength).getFloat64(0);
      entries.push({ index: i, term: term(t), type: v[8] === 1 ? 'conf-change' : 'normal', data: v.subarray(9) });
      ops.push({ type: 'del', key: k });
    }
    const first = entries[0]?.index;
    if (first === undefined) return;
    ops.push({ type: 'put', key: blockKey(first), value: encodeBlock(entries) });
    try {
      await this.db.batch(ops, { sync: true });
    } catch (cause) {
      throw new StorageError(StorageErrorCode.Io, 'raft log migration to blocks failed', { cause });
    }
  }

  /**
   * Persists the initial membership of a brand-new group: an empty snapshot
   * at index 0, or, with `data` (a state machine restored from a backup),
   * that state as the snapshot at index 1 of term 1, committed.
   */
  async bootstrap(cs: ConfState, data?: Uint8Array): Promise<void> {
    assert(this.memory.lastIndex() === 0 && this.memory.snapshot().meta.index === 0, 'bootstrap of a non-empty raft log');
    if (data === undefined) {
      const snap: Snapshot = { meta: { index: index(0), term: term(0), confState: cs }, data: new Uint8Array(0) };
      try {
        await this.db.batch([{ type: 'put', key: 's', value: encodeSnapshot(snap) }], { sync: true });
      } catch (cause) {
        throw new StorageError(StorageErrorCode.Io, 'raft bootstrap write failed', { cause });
      }
      this.memory.bootstrap(cs);
      return;
    }
    const at = { index: index(1), term: term(1) };
    const snap: Snapshot = { meta: { ...at, confState: cs }, data };
    const hardState: HardState = { term: at.term, vote: NONE, commit: at.index };
    try {
      await this.db.batch(
        [
          { type: 'put', key: 's', value: encodeSnapshot(snap) },
          { type: 'put', key: 'o', value: encodeOffset(at.index, at.term) },
          { type: 'put', key: 'h', value: encodeHardState(hardState) },
        ],
        { sync: true },
      );
    } catch (cause) {
      throw new StorageError(StorageErrorCode.Io, 'raft bootstrap write failed', { cause });
    }
    this.memory.load({ snapshot: snap, offset: at, entries: [], hardState });
  }

  /**
   * Persists what a Ready asks for: snapshot, entries (truncating any
   * conflicting suffix) and hard state, in one synced batch. A Ready whose
   * only change is the commit index (`mustSync` false) writes nothing: as in
   * etcd the commit index need not be durable (a member that loses it learns
   * it again from the leader), and it goes out with the next batch.
   * Resolves once written; only then may the Ready's messages be sent.
   */
  async save(rd: { readonly hardState?: HardState | undefined; readonly entries: readonly Entry[]; readonly snapshot?: Snapshot | undefined; readonly mustSync?: boolean }): Promise<void> {
    type Op = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };
    const ops: Op[] = [];
    let first = this.memory.firstIndex();
    let last = this.memory.lastIndex();
    const blocks = rd.snapshot === undefined ? this.blocks : [];
    if (rd.snapshot !== undefined) {
      const s = rd.snapshot;
      assert(s.meta.index > this.memory.snapshot().meta.index, `snapshot ${s.meta.index} is not newer than the stored one`);
      ops.push({ type: 'put', key: 's', value: encodeSnapshot(s) });
      ops.push({ type: 'put', key: 'o', value: encodeOffset(s.meta.index, s.meta.term) });
      for (const b of this.blocks) ops.push({ type: 'del', key: blockKey(b.first) });
      first = index(s.meta.index + 1);
      last = s.meta.index;
    }
    let kept = rd.entries;
    if (kept.length > 0 && kept[0]!.index < first) kept = kept.filter((e) => e.index >= first);
    // blocks[cut..] hold entries from kept[0] on: deleted in the same batch (the
    // conflicting suffix), but for one that straddles it, which the new block overrides.
    let cut = blocks.length;
    let added: readonly Block[] = [];
    if (kept.length > 0) {
      const from = kept[0]!.index;
      assert(from <= last + 1, `entries from ${from} leave a gap after ${last}`);
      while (cut > 0 && blocks[cut - 1]!.last >= from) cut--;
      const straddling = blocks[cut];
      const head = straddling !== undefined && straddling.first < from ? [{ first: straddling.first, last: index(from - 1) }] : [];
      for (let j = cut + head.length; j < blocks.length; j++) if (blocks[j]!.first !== from) ops.push({ type: 'del', key: blockKey(blocks[j]!.first) });
      ops.push({ type: 'put', key: blockKey(from), value: encodeBlock(kept) });
      added = [...head, { first: from, last: kept[kept.length - 1]!.index }];
    }
    if (ops.length === 0) {
      if (rd.hardState === undefined) return;
      if (rd.mustSync === false) {
        this.unwritten = rd.hardState;
        this.memory.setHardState(rd.hardState);
        return;
      }
    }
    const hs = rd.hardState ?? this.unwritten;
    if (hs !== undefined) ops.push({ type: 'put', key: 'h', value: encodeHardState(hs) });
    try {
      await this.db.batch(ops, { sync: true });
    } catch (cause) {
      throw new StorageError(StorageErrorCode.Io, 'raft log write failed', { cause });
    }
    this.unwritten = undefined;
    blocks.length = cut;
    for (const b of added) blocks.push(b);
    this.blocks = blocks;
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
      // A block that straddles compactTo stays; recovery skips its entries up to the offset.
      for (const b of this.blocks) if (b.last <= compactTo) ops.push({ type: 'del', key: blockKey(b.first) });
    } else {
      // Without 'o', recovery takes the snapshot index as the offset; the entries kept below it must stay reachable.
      const off = index(first - 1);
      ops.push({ type: 'put', key: 'o', value: encodeOffset(off, this.memory.term(off)) });
    }
    const hs = this.unwritten;
    if (hs !== undefined) ops.push({ type: 'put', key: 'h', value: encodeHardState(hs) });
    try {
      await this.db.batch(ops, { sync: true });
    } catch (cause) {
      throw new StorageError(StorageErrorCode.Io, 'raft snapshot write failed', { cause });
    }
    if (this.unwritten === hs) this.unwritten = undefined;
    const res = this.memory.createSnapshot(at, confState, data);
    assert(!(res instanceof StorageError), 'memory and disk agree on the snapshot');
    if (doCompact) {
      this.blocks = this.blocks.filter((b) => b.last > compactTo);
      const err = this.memory.compact(compactTo);
      assert(err === undefined, 'memory and disk agree on the compaction');
    }
    return snap;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

interface Block {
  readonly first: Index;
  /** The last entry of this block still live (later blocks override the rest). */
  last: Index;
}

function blockKey(i: Index): string {
  return `b${i.toString(16).padStart(16, '0')}`;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const TYPE_CODE: Readonly<Record<EntryType, number>> = { normal: 0, 'conf-change': 1 };
/** Per entry: [term: float64 BE][type: u8][data length: u32 BE]. */
const ENTRY_HEAD = 13;

/** [entry head][data] for each of the contiguous entries, in order. */
function encodeBlock(es: readonly Entry[]): Uint8Array {
  let size = 0;
  for (const e of es) size += ENTRY_HEAD + e.data.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let at = 0;
  for (const e of es) {
    dv.setFloat64(at, e.term);
    out[at + 8] = TYPE_CODE[e.type];
    dv.setUint32(at + 9, e.data.length);
    out.set(e.data, at + ENTRY_HEAD);
    at += ENTRY_HEAD + e.data.length;
  }
  return out;
}

function decodeBlock(first: Index, v: Uint8Array): Entry[] {
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const out: Entry[] = [];
  let at = 0;
  while (at < v.length) {
    const i = index(first + out.length);
    if (v.length - at < ENTRY_HEAD) throw new StorageError(StorageErrorCode.Io, `corrupt raft log: entry ${i} is cut short`);
    const len = dv.getUint32(at + 9);
    if (v.length - at - ENTRY_HEAD < len) throw new StorageError(StorageErrorCode.Io, `corrupt raft log: entry ${i} is cut short`);
    const type: EntryType = v[at + 8] === 1 ? 'conf-change' : 'normal';
    out.push({ index: i, term: term(dv.getFloat64(at)), type, data: v.slice(at + ENTRY_HEAD, at + ENTRY_HEAD + len) });
    at += ENTRY_HEAD + len;
  }
  if (out.length === 0) throw new StorageError(StorageErrorCode.Io, `corrupt raft log: empty block at ${first}`);
  return out;
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
