import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Level } from 'level';
import { RawNode } from '../src/raw-node.js';
import { SeededRng } from '../src/rng.js';
import { LevelStorage } from '../src/storage/level-storage.js';
import type { Entry } from '../src/types.js';
import { index as I, term as T } from '../src/types.js';

const root = mkdtempSync(join(tmpdir(), 'raft-level-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const dir = (): string => join(root, `db${n++}`);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const ent = (t: number, i: number, d = ''): Entry => ({ term: T(t), index: I(i), type: 'normal', data: enc(d) });
const dump = (st: LevelStorage): string => {
  const m = st.memory;
  const ents = m.lastIndex() >= m.firstIndex() ? m.entries(m.firstIndex(), I(m.lastIndex() + 1), Infinity) : [];
  return ents.map((e) => `${e.term}/${e.index}:${new TextDecoder().decode(e.data)}`).join(' ');
};

describe('LevelStorage', () => {
  test('entries and hard state survive a restart', async () => {
    const p = dir();
    const st = await LevelStorage.open(p);
    await st.save({ hardState: { term: T(2), vote: 1, commit: I(2) }, entries: [ent(1, 1, 'a'), ent(2, 2, 'b'), ent(2, 3, 'c')] });
    await st.close();
    const re = await LevelStorage.open(p);
    assert.equal(dump(re), '1/1:a 2/2:b 2/3:c');
    assert.deepEqual(re.memory.initialState().hardState, { term: 2, vote: 1, commit: 2 });
    await re.close();
  });

  test('a commit-only hard state writes nothing; it is stored with the next entries or snapshot, never below the snapshot', async () => {
    const p = dir();
    const st = await LevelStorage.open(p);
    await st.save({ hardState: { term: T(1), vote: 1, commit: I(1) }, entries: [1, 2, 3, 4].map((i) => ent(1, i)) });
    await st.save({ hardState: { term: T(1), vote: 1, commit: I(3) }, entries: [], mustSync: false });
    assert.equal(st.memory.initialState().hardState.commit, 3, 'the member itself knows the new commit at once');
    await st.close();
    let re = await LevelStorage.open(p);
    assert.equal(re.memory.initialState().hardState.commit, 1, 'the commit-only change was not written');
    // Again, then entries with no hard state of their own: the pending commit goes with them.
    await re.save({ hardState: { term: T(1), vote: 1, commit: I(4) }, entries: [], mustSync: false });
    await re.save({ entries: [ent(1, 5)] });
    await re.close();
    re = await LevelStorage.open(p);
    assert.equal(re.memory.initialState().hardState.commit, 4);
    // A pending commit goes with a snapshot, so the stored commit is never below it.
    await re.save({ hardState: { term: T(1), vote: 1, commit: I(5) }, entries: [], mustSync: false });
    await re.snapshotAndCompact(I(5), { voters: [1], learners: [] }, enc('state@5'), I(4));
    await re.close();
    re = await LevelStorage.open(p);
    assert.equal(re.memory.snapshot().meta.index, 5);
    assert.equal(re.memory.initialState().hardState.commit, 5);
    await re.close();
  });

  test('a stored commit below the stored snapshot is read back as the snapshot index (a snapshot holds only committed entries)', async () => {
    const p = dir();
    const st = await LevelStorage.open(p);
    await st.save({ hardState: { term: T(1), vote: 1, commit: I(2) }, entries: [1, 2, 3, 4, 5, 6].map((i) => ent(1, i)) });
    await st.snapshotAndCompact(I(5), { voters: [1], learners: [] }, enc('state@5'), I(3));
    await st.close();
    const re = await LevelStorage.open(p);
    assert.deepEqual(re.memory.initialState().hardState, { term: 1, vote: 1, commit: 5 });
    await re.close();
  });

  test('a conflicting suffix is truncated atomically with the new entries', async () => {
    const p = dir();
    const st = await LevelStorage.open(p);
    await st.save({ entries: [ent(1, 1), ent(1, 2), ent(1, 3), ent(1, 4), ent(1, 5)] });
    await st.save({ entries: [ent(2, 3, 'x'), ent(2, 4, 'y')] });
    assert.equal(dump(st), '1/1: 1/2: 2/3:x 2/4:y');
    await st.close();
    const re = await LevelStorage.open(p);
    assert.equal(dump(re), '1/1: 1/2: 2/3:x 2/4:y');
    assert.equal(re.memory.lastIndex(), 4);
    await re.close();
  });

  test('snapshot and compaction survive a restart; old entries are gone', async () => {
    const p = dir();
    const st = await LevelStorage.open(p);
    await st.save({ entries: [1, 2, 3, 4, 5, 6].map((i) => ent(1, i, `v${i}`)) });
    const cs = { voters: [1, 2, 3], learners: [] };
    await st.snapshotAndCompact(I(5), cs, enc('state@5'), I(3));
    await st.close();
    const re = await LevelStorage.open(p);
    assert.equal(re.memory.firstIndex(), 4);
    assert.equal(dump(re), '1/4:v4 1/5:v5 1/6:v6');
    assert.equal(re.memory.snapshot().meta.index, 5);
    assert.deepEqual(re.memory.snapshot().meta.confState, cs);
    assert.equal(new TextDecoder().decode(re.memory.snapshot().data), 'state@5');
    assert.equal(re.memory.term(I(3)), 1);
    await re.close();
  });

  test('a snapshot that compacts nothing keeps the entries below it readable after a restart', async () => {
    // Regression: snapshotAndCompact with compactTo below the first index wrote
    // no offset, so recovery took the snapshot index as the offset and refused
    // the kept entries as a gap ("entry 1 where 4 was expected").
    const p = dir();
    const st = await LevelStorage.open(p);
    await st.save({ hardState: { term: T(1), vote: 1, commit: I(3) }, entries: [ent(1, 1, 'a'), ent(1, 2, 'b'), ent(1, 3, 'c')] });
    await st.snapshotAndCompact(I(3), { voters: [1], learners: [] }, enc('state'), I(0));
    await st.close();
    const re = await LevelStorage.open(p);
    assert.equal(dump(re), '1/1:a 1/2:b 1/3:c');
    assert.equal(re.memory.snapshot().meta.index, 3);
    await re.close();
  });

  test('a snapshot without compaction keeps the whole log across a restart', async () => {
    // Regression: recovery took the snapshot index as the compaction point
    // when no compaction had happened yet, and refused the log as corrupt.
    const p = dir();
    const st = await LevelStorage.open(p);
    await st.bootstrap({ voters: [1], learners: [] });
    await st.save({ entries: [1, 2, 3, 4].map((i) => ent(1, i, `v${i}`)) });
    await st.snapshotAndCompact(I(3), { voters: [1], learners: [] }, enc('state@3'), I(0));
    await st.close();
    const re = await LevelStorage.open(p);
    assert.equal(re.memory.firstIndex(), 1);
    assert.equal(dump(re), '1/1:v1 1/2:v2 1/3:v3 1/4:v4');
    assert.equal(re.memory.snapshot().meta.index, 3);
    await re.close();
  });

  test('installing a snapshot from the leader replaces the log', async () => {
    const p = dir();
    const st = await LevelStorage.open(p);
    await st.save({ entries: [ent(1, 1), ent(1, 2)] });
    const snap = { meta: { index: I(10), term: T(3), confState: { voters: [1, 2], learners: [3] } }, data: enc('s10') };
    await st.save({ snapshot: snap, entries: [ent(3, 11, 'after')], hardState: { term: T(3), vote: 0, commit: I(10) } });
    await st.close();
    const re = await LevelStorage.open(p);
    assert.equal(re.memory.firstIndex(), 11);
    assert.equal(dump(re), '3/11:after');
    assert.equal(re.memory.term(I(10)), 3);
    await re.close();
  });

  test('entries truncated inside a block and compactions through a block read back as written after restarts', async () => {
    // One block per save: conflicting appends that start inside an earlier
    // block, and compactions that cut through one, must recover to exactly
    // what memory held. A seeded random walk over appends, compactions and restarts.
    const p = dir();
    const rng = new SeededRng(7);
    let st = await LevelStorage.open(p);
    let t = 1;
    for (let step = 0; step < 300; step++) {
      const m = st.memory;
      const r = rng.intn(10);
      if (r < 7) {
        // Append 1-6 entries from anywhere in [firstIndex, lastIndex + 1], a new term if it conflicts.
        const from = m.firstIndex() + rng.intn(m.lastIndex() - m.firstIndex() + 2);
        if (from <= m.lastIndex()) t++;
        const es = Array.from({ length: 1 + rng.intn(6) }, (_, k) => ent(t, from + k, `s${step}.${k}`));
        await st.save({ entries: es });
      } else if (r < 9 && m.lastIndex() > m.snapshot().meta.index) {
        const at = I(m.snapshot().meta.index + 1 + rng.intn(m.lastIndex() - m.snapshot().meta.index));
        await st.snapshotAndCompact(at, { voters: [1], learners: [] }, enc(`state@${at}`), I(Math.max(0, at - rng.intn(4))));
      } else {
        const want = dump(st);
        const first = m.firstIndex();
        await st.close();
        st = await LevelStorage.open(p);
        assert.equal(dump(st), want, `after restart at step ${step}`);
        assert.equal(st.memory.firstIndex(), first);
      }
    }
    const want = dump(st);
    await st.close();
    const re = await LevelStorage.open(p);
    assert.equal(dump(re), want);
    await re.close();
  });

  test('a log in the per-entry layout of earlier builds is migrated to one block on open, compaction offset kept', async () => {
    const p = dir();
    const old = new Level<string, Uint8Array>(p, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const entry = (t: number, type: number, d: string): Uint8Array => {
      const data = enc(d);
      const v = new Uint8Array(9 + data.length);
      new DataView(v.buffer).setFloat64(0, t);
      v[8] = type;
      v.set(data, 9);
      return v;
    };
    const key = (i: number): string => `e${i.toString(16).padStart(16, '0')}`;
    await old.batch([
      { type: 'put', key: 'o', value: enc(JSON.stringify({ index: 3, term: 1 })) },
      { type: 'put', key: 'h', value: enc(JSON.stringify({ term: 2, vote: 1, commit: 5 })) },
      { type: 'put', key: key(4), value: entry(1, 0, 'four') },
      { type: 'put', key: key(5), value: entry(2, 1, 'five') },
      { type: 'put', key: key(6), value: entry(2, 0, '') },
    ]);
    await old.close();
    const st = await LevelStorage.open(p);
    assert.equal(dump(st), '1/4:four 2/5:five 2/6:');
    assert.equal(st.memory.entries(I(5), I(6), Infinity)[0]?.type, 'conf-change');
    assert.equal(st.memory.term(I(3)), 1);
    await st.save({ entries: [ent(3, 6, 'six'), ent(3, 7, 'seven')] });
    await st.close();
    const raw = new Level<string, Uint8Array>(p, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const keys: string[] = [];
    for await (const k of raw.keys()) keys.push(k);
    await raw.close();
    assert.deepEqual(keys.filter((k) => k.startsWith('e')), []);
    const re = await LevelStorage.open(p);
    assert.equal(dump(re), '1/4:four 2/5:five 3/6:six 3/7:seven');
    assert.deepEqual(re.memory.initialState().hardState, { term: 2, vote: 1, commit: 5 });
    await re.close();
  });

  test('a single-voter RawNode over LevelStorage recovers term, log and commit after restart', async () => {
    const p = dir();
    const st = await LevelStorage.open(p);
    await st.bootstrap({ voters: [1], learners: [] });
    const cfg = { id: 1, rng: new SeededRng(1) };
    const rn = new RawNode({ ...cfg, storage: st.memory });
    rn.campaign();
    const applied: string[] = [];
    const drain = async (): Promise<void> => {
      while (rn.hasReady()) {
        const rd = rn.ready();
        await st.save(rd);
        for (const e of rd.committedEntries) if (e.data.length > 0) applied.push(new TextDecoder().decode(e.data));
        rn.advance(rd);
      }
    };
    await drain();
    rn.propose(enc('one'));
    rn.propose(enc('two'));
    await drain();
    assert.deepEqual(applied, ['one', 'two']);
    await st.close();
    const re = await LevelStorage.open(p);
    const hs = re.memory.initialState().hardState;
    assert.equal(hs.term, 1);
    assert.equal(hs.commit, 3);
    assert.equal(re.memory.lastIndex(), 3);
    assert.deepEqual(re.memory.initialState().confState, { voters: [1], learners: [] });
    // A restarted node with applied = 0 re-applies the committed entries, then goes on.
    const rn2 = new RawNode({ id: 1, rng: new SeededRng(2), storage: re.memory });
    applied.length = 0;
    rn2.campaign();
    while (rn2.hasReady()) {
      const rd = rn2.ready();
      await re.save(rd);
      for (const e of rd.committedEntries) if (e.data.length > 0) applied.push(new TextDecoder().decode(e.data));
      rn2.advance(rd);
    }
    rn2.propose(enc('three'));
    while (rn2.hasReady()) {
      const rd = rn2.ready();
      await re.save(rd);
      for (const e of rd.committedEntries) if (e.data.length > 0) applied.push(new TextDecoder().decode(e.data));
      rn2.advance(rd);
    }
    assert.deepEqual(applied, ['one', 'two', 'three']);
    assert.equal(rn2.status().term, 2);
    await re.close();
  });
});
