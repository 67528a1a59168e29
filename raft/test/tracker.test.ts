// Unit and property tests for quorum/, tracker/ and confchange.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { applyConfChange, decodeConfChange, encodeConfChange } from '../src/confchange.js';
import type { ConfChange } from '../src/confchange.js';
import { committedIndex, voteResult } from '../src/quorum/majority.js';
import { SeededRng } from '../src/rng.js';
import { Inflights } from '../src/tracker/inflights.js';
import { Progress } from '../src/tracker/progress.js';
import type { ConfState, NodeId } from '../src/types.js';
import { index as I } from '../src/types.js';

describe('quorum/majority', () => {
  test('property: the committed index is acknowledged by a majority, and no larger index is', () => {
    const rng = new SeededRng(7);
    for (let round = 0; round < 2000; round++) {
      const n = 1 + rng.intn(7);
      const voters = new Set(Array.from({ length: n }, (_, i) => i + 1));
      const acked = new Map<NodeId, number>();
      for (const id of voters) if (rng.intn(5) > 0) acked.set(id, rng.intn(20));
      const c = committedIndex(voters, (id) => (acked.has(id) ? I(acked.get(id)!) : undefined));
      const atLeast = (x: number): number => [...voters].filter((id) => (acked.get(id) ?? 0) >= x).length;
      const q = Math.floor(n / 2) + 1;
      assert.ok(atLeast(c) >= q, `index ${c} acked by a majority`);
      assert.ok(atLeast(c + 1) < q, `index ${c + 1} not acked by a majority`);
    }
  });

  test('property: an election is won iff a majority granted, lost iff a majority cannot grant', () => {
    const rng = new SeededRng(11);
    for (let round = 0; round < 2000; round++) {
      const n = 1 + rng.intn(7);
      const voters = new Set(Array.from({ length: n }, (_, i) => i + 1));
      const votes = new Map<NodeId, boolean>();
      for (const id of voters) {
        const v = rng.intn(3);
        if (v < 2) votes.set(id, v === 0);
      }
      const q = Math.floor(n / 2) + 1;
      const granted = [...votes.values()].filter((v) => v).length;
      const missing = n - votes.size;
      const want = granted >= q ? 'won' : granted + missing >= q ? 'pending' : 'lost';
      assert.equal(voteResult(voters, votes), want);
    }
  });
});

describe('tracker/inflights', () => {
  test('the ring buffer fills by count and by bytes, and frees in order', () => {
    const inf = new Inflights(3, 100);
    inf.add(I(1), 10);
    inf.add(I(2), 10);
    assert.equal(inf.full(), false);
    inf.add(I(3), 10);
    assert.equal(inf.full(), true);
    inf.freeLE(I(1));
    assert.equal(inf.size(), 2);
    inf.add(I(4), 10); // wraps around
    inf.freeLE(I(3));
    assert.equal(inf.size(), 1);
    inf.freeLE(I(10));
    assert.equal(inf.size(), 0);
    const bytes = new Inflights(10, 100);
    bytes.add(I(1), 60);
    assert.equal(bytes.full(), false);
    bytes.add(I(2), 60);
    assert.equal(bytes.full(), true, 'full by bytes');
    bytes.freeLE(I(1));
    assert.equal(bytes.full(), false);
  });

  test('adding to a full window is a programmer error', () => {
    const inf = new Inflights(1, 0);
    inf.add(I(1), 1);
    assert.throws(() => inf.add(I(2), 1), /full inflights/);
  });
});

describe('tracker/progress', () => {
  test('probe pauses after one append; replicate pipelines until the window is full', () => {
    const pr = new Progress(I(5), 2, 0, false);
    pr.sentEntries(1, 10);
    assert.equal(pr.isPaused(), true);
    assert.equal(pr.maybeUpdate(I(5)), true);
    pr.becomeReplicate();
    assert.equal(pr.next, 6);
    pr.sentEntries(2, 20);
    assert.equal(pr.next, 8);
    assert.equal(pr.isPaused(), false);
    pr.sentEntries(1, 10);
    assert.equal(pr.isPaused(), true);
    pr.maybeUpdate(I(7));
    pr.inflights.freeLE(I(7));
    assert.equal(pr.inflights.size(), 1);
  });

  test('a rejection in replicate falls back to match + 1; a stale one is ignored', () => {
    const pr = new Progress(I(1), 8, 0, false);
    pr.maybeUpdate(I(5));
    pr.becomeReplicate();
    pr.sentEntries(5, 50);
    assert.equal(pr.next, 11);
    assert.equal(pr.maybeDecrTo(I(4), I(4)), false, 'stale: 4 <= match');
    assert.equal(pr.maybeDecrTo(I(8), I(6)), true);
    assert.equal(pr.next, 6);
  });

  test('in probe, a rejection uses the hint but never goes below match + 1', () => {
    const pr = new Progress(I(11), 8, 0, false);
    pr.maybeUpdate(I(3));
    pr.next = I(11);
    assert.equal(pr.maybeDecrTo(I(9), I(2)), false, 'only the latest probe counts');
    assert.equal(pr.maybeDecrTo(I(10), I(2)), true);
    assert.equal(pr.next, 4);
  });

  test('after a snapshot, probing resumes past it', () => {
    const pr = new Progress(I(1), 8, 0, false);
    pr.becomeSnapshot(I(20));
    assert.equal(pr.isPaused(), true);
    pr.becomeProbe();
    assert.equal(pr.next, 21);
  });
});

describe('confchange', () => {
  const cs = (voters: NodeId[], learners: NodeId[] = []): ConfState => ({ voters, learners });

  test('add, promote, remove; demotion and removing the last voter are refused', () => {
    assert.deepEqual(applyConfChange(cs([1]), { type: 'add-learner', nodeId: 2 }), { ok: true, confState: cs([1], [2]) });
    assert.deepEqual(applyConfChange(cs([1], [2]), { type: 'add-node', nodeId: 2 }), { ok: true, confState: cs([1, 2]) });
    assert.deepEqual(applyConfChange(cs([1, 2]), { type: 'remove-node', nodeId: 1 }), { ok: true, confState: cs([2]) });
    assert.equal(applyConfChange(cs([1, 2]), { type: 'add-learner', nodeId: 2 }).ok, false);
    assert.equal(applyConfChange(cs([1]), { type: 'remove-node', nodeId: 1 }).ok, false);
    assert.equal(applyConfChange(cs([1]), { type: 'add-node', nodeId: 0 }).ok, false);
  });

  test('property: a change alters at most one voter, and voters and learners stay disjoint', () => {
    const rng = new SeededRng(3);
    let state = cs([1, 2, 3]);
    const types = ['add-node', 'add-learner', 'remove-node'] as const;
    for (let i = 0; i < 3000; i++) {
      const cc: ConfChange = { type: types[rng.intn(3)]!, nodeId: 1 + rng.intn(6) };
      const r = applyConfChange(state, cc);
      if (!r.ok) continue;
      const before = new Set(state.voters);
      const after = new Set(r.confState.voters);
      const changed = [...before].filter((v) => !after.has(v)).length + [...after].filter((v) => !before.has(v)).length;
      assert.ok(changed <= 1, `${JSON.stringify(cc)} changed ${changed} voters`);
      for (const l of r.confState.learners) assert.ok(!after.has(l));
      assert.ok(after.size > 0);
      state = r.confState;
    }
  });

  test('encoding round-trips and rejects garbage', () => {
    const cc: ConfChange = { type: 'add-learner', nodeId: 9 };
    assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc);
    assert.equal(decodeConfChange(new TextEncoder().encode('nope')), undefined);
    assert.equal(decodeConfChange(new TextEncoder().encode('{"type":"x","nodeId":1}')), undefined);
  });
});
