// Scenario tests on a cluster of RawNodes with persistence, driven step by step.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { DropReason } from '../src/errors.js';
import { ProgressState } from '../src/tracker/progress.js';
import type { NodeId } from '../src/types.js';
import { StateType, index, term } from '../src/types.js';
import { Cluster } from './helpers/cluster.js';
import type { NodeOptions } from './helpers/cluster.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function cluster(n: number, opts: NodeOptions = {}): Cluster {
  const c = new Cluster(opts);
  c.verbose = false;
  c.addNodes(n);
  return c;
}

function elect(c: Cluster, id: NodeId): void {
  c.campaign(id);
  c.stabilize();
  assert.equal(c.leader(), id);
}

function logOf(c: Cluster, id: NodeId): string {
  const r = c.node(id).rn.raft;
  const lo = r.log.firstIndex();
  return r.log
    .slice(lo, index(r.log.lastIndex() + 1), Infinity)
    .map((e) => `${e.index}/${e.term}`)
    .join(' ');
}

function assertConverged(c: Cluster, ids: readonly NodeId[] = c.ids()): void {
  const first = c.node(ids[0]!);
  for (const id of ids) {
    assert.deepEqual(c.node(id).applied, first.applied, `node ${id} applied differs from node ${first.id}`);
    assert.equal(c.node(id).rn.raft.log.committed, first.rn.raft.log.committed, `node ${id} commit`);
  }
}

describe('raft scenarios', () => {
  test('Figure 8: an entry of an old term on a majority is not committed by counting, and may be overwritten', () => {
    // One entry per MsgApp, so that a follower can receive the old entry
    // without the new leader's entry of its own term.
    const c = cluster(5, { appendBytesMax: 1 });
    elect(c, 1); // term 1, index 1 committed everywhere
    // (a) S1 replicates 2/1 to S2 only.
    for (const o of [3, 4, 5]) c.cut.add(`1-${o}`);
    assert.ok(c.propose(1, 'fig8').ok);
    c.stabilize([1, 2]);
    assert.equal(c.node(2).rn.raft.log.lastIndex(), 2);
    assert.equal(c.node(1).rn.raft.log.committed, 1);
    // (b) S1 crashes; S5 wins term 2 with S3, S4, appends 2/2 and replicates nothing.
    c.heal();
    c.isolate(1);
    c.restart(1);
    c.cut.add('5-2').add('2-5');
    c.campaign(5);
    c.processReady(5);
    for (const id of [3, 4]) {
      c.deliver(id);
      c.processReady(id);
    }
    c.deliver(5);
    assert.equal(c.leader(), 5);
    c.isolate(5);
    c.processReady(5);
    c.inflight = [];
    assert.equal(logOf(c, 5), '1/1 2/2');
    // (c) S5 crashes; S1 restarts and wins term 3 with S2, S3, S4.
    c.heal();
    c.restart(5);
    c.isolate(5);
    c.restart(1);
    // The first try (term 2) is refused by S3, S4 who voted for S5 in term 2.
    for (let k = 0; k < 2 && c.leader() !== 1; k++) {
      c.campaign(1);
      c.processReady(1);
      for (const id of [2, 3, 4]) {
        c.deliver(id);
        c.processReady(id);
      }
      c.deliver(1);
    }
    assert.equal(c.leader(), 1);
    assert.equal(c.node(1).rn.raft.term, 3);
    // S2 and S3 get only the old entry 2/1 (one entry per MsgApp): the
    // appends that carry 3/3 are lost.
    c.cut.add('1-4');
    const onlyFirstAppend = (): void => {
      c.processReady(1);
      for (const id of [2, 3]) {
        const mine = c.inflight.filter((m) => m.to === id);
        c.inflight = c.inflight.filter((m) => m.to !== id);
        c.inflight.push(...mine.slice(0, 1));
        c.deliver(id);
        c.processReady(id);
      }
      c.deliver(1);
    };
    onlyFirstAppend(); // S3 rejects prev 2/1 (it lacks index 2); S2 accepts 3/3... unless dropped
    onlyFirstAppend(); // the probe at prev 1/1 carries 2/1
    c.isolate(1);
    // 2/1 is now on S1, S2, S3, a majority, but must not be committed: it is of term 1.
    assert.ok(c.node(3).rn.raft.log.matchTerm(index(2), term(1)));
    assert.ok(c.node(2).rn.raft.log.matchTerm(index(2), term(1)));
    assert.ok((c.node(1).rn.status().progress.get(3)?.match ?? 0) >= 2, 'the leader knows S3 holds 2/1');
    assert.equal(c.node(1).rn.raft.log.committed, 1);
    // (d) S1 crashes; S5 (log 2/2) wins term 4 with S2, S3, S4 and overwrites 2/1.
    c.heal();
    c.isolate(1);
    c.restart(1);
    c.restart(5);
    for (let k = 0; k < 3 && c.leader() !== 5; k++) {
      c.campaign(5);
      c.stabilize();
    }
    assert.equal(c.leader(), 5);
    assert.ok(c.propose(5, 'after').ok);
    c.stabilize();
    for (const id of [2, 3, 4, 5]) {
      assert.deepEqual(c.node(id).applied, ['after'], `node ${id} applied`);
      assert.ok(c.node(id).rn.raft.log.matchTerm(index(2), term(2)), `node ${id} has 2/2`);
    }
    c.heal();
    c.tickAll(3);
    assertConverged(c);
    assert.deepEqual(c.node(1).applied, ['after']);
  });

  test('a new leader is elected after the leader is lost, and the group keeps committing', () => {
    const c = cluster(3);
    elect(c, 1);
    c.propose(1, 'a');
    c.stabilize();
    c.isolate(1);
    for (let i = 0; i < 40 && (c.leader() === 1 || c.leader() === undefined); i++) {
      for (const id of [2, 3]) c.tick(id, 1);
      c.stabilize([2, 3]);
    }
    // Node 1 still believes it leads (no CheckQuorum), the others elected a new leader.
    const lead = [2, 3].find((id) => c.node(id).rn.raft.state === StateType.Leader);
    assert.ok(lead !== undefined, 'a new leader among 2, 3');
    c.propose(lead, 'b');
    c.stabilize([2, 3]);
    c.heal();
    c.tickAll(3);
    assertConverged(c);
    assert.deepEqual(c.node(1).applied, ['a', 'b']);
    assert.equal(c.node(1).rn.raft.state, StateType.Follower);
  });

  test('a partitioned leader steps down with CheckQuorum, and its uncommitted entries are discarded', () => {
    const c = cluster(3, { checkQuorum: true, preVote: true });
    elect(c, 1);
    c.isolate(1);
    assert.ok(c.propose(1, 'lost').ok);
    c.stabilize();
    for (let i = 0; i < 20; i++) c.tick(1, 1);
    c.stabilize();
    assert.equal(c.node(1).rn.raft.state, StateType.Follower, 'stepped down within two election timeouts');
    for (let i = 0; i < 40 && c.leader() === undefined; i++) {
      for (const id of [2, 3]) c.tick(id, 1);
      c.stabilize([2, 3]);
    }
    const lead = c.leader();
    assert.ok(lead === 2 || lead === 3);
    c.propose(lead, 'kept');
    c.stabilize();
    c.heal();
    c.tickAll(20);
    assertConverged(c);
    assert.deepEqual(c.node(1).applied, ['kept']);
  });

  test('a far-behind follower with a long divergent log is backed up in few round trips', () => {
    const c = cluster(5);
    elect(c, 1);
    // Old leader 1 appends 50 entries that only node 2 receives.
    for (const o of [3, 4, 5]) c.cut.add(`1-${o}`).add(`${o}-1`);
    for (let i = 0; i < 50; i++) c.propose(1, `old${i}`);
    c.stabilize();
    c.heal();
    // Node 3 leads a new term with 4, 5 and commits 50 other entries.
    c.isolate(1);
    c.isolate(2);
    c.campaign(3);
    c.stabilize();
    assert.equal(c.node(3).rn.raft.state, StateType.Leader);
    for (let i = 0; i < 50; i++) c.propose(3, `new${i}`);
    c.stabilize();
    c.heal();
    let rejects = 0;
    for (let i = 0; i < 5; i++) {
      c.tick(3, 1);
      for (let round = 0; round < 100; round++) {
        let progress = false;
        for (const id of c.ids()) progress = c.processReady(id) || progress;
        rejects += c.inflight.filter((m) => m.type === 'MsgAppResp' && m.reject).length;
        for (const id of c.ids()) progress = c.deliver(id) > 0 || progress;
        if (!progress) break;
      }
    }
    assertConverged(c);
    assert.equal(c.node(1).applied.length, 50);
    assert.ok(rejects <= 4, `at most two rejections per divergent follower, got ${rejects}`);
  });

  test('a lagging follower is caught up by snapshot after the leader compacted its log', () => {
    const c = cluster(3);
    elect(c, 1);
    c.isolate(3);
    for (let i = 0; i < 20; i++) c.propose(1, `e${i}`);
    c.stabilize();
    c.compact(1);
    assert.ok(c.node(1).rn.raft.log.firstIndex() > 2);
    c.heal();
    c.tickAll(2);
    assert.equal(c.node(3).storage.snapshot().meta.index, c.node(1).storage.snapshot().meta.index, 'node 3 installed the snapshot');
    c.node(1).rn.reportSnapshot(3, true);
    c.propose(1, 'after');
    c.tickAll(3);
    assertConverged(c);
    assert.equal(c.node(3).applied.length, 21);
    assert.equal(c.node(1).rn.status().progress.get(3)?.state, ProgressState.Replicate);
  });

  test('leadership transfer hands over to an up-to-date follower and to a lagging one after catch-up', () => {
    const c = cluster(3);
    elect(c, 1);
    c.propose(1, 'a');
    c.stabilize();
    c.node(1).rn.transferLeader(2);
    c.stabilize();
    assert.equal(c.leader(), 2);
    assert.equal(c.node(2).rn.raft.term, 2);
    // Lagging transferee: node 3 misses entries, then receives them before TimeoutNow.
    c.isolate(3);
    c.propose(2, 'b');
    c.stabilize();
    c.heal();
    c.node(2).rn.transferLeader(3);
    assert.deepEqual(c.propose(2, 'during'), { ok: false, reason: DropReason.TransferInProgress });
    c.stabilize();
    assert.equal(c.leader(), 3);
    c.propose(3, 'c');
    c.stabilize();
    assertConverged(c);
    assert.deepEqual(c.node(1).applied, ['a', 'b', 'c']);
  });

  test('a leadership transfer that cannot finish is aborted after an election timeout', () => {
    const c = cluster(3);
    elect(c, 1);
    c.isolate(3);
    c.node(1).rn.transferLeader(3);
    assert.equal(c.node(1).rn.raft.leadTransferee, 3);
    c.tick(1, 10);
    assert.equal(c.node(1).rn.raft.leadTransferee, 0);
    assert.ok(c.propose(1, 'x').ok);
  });

  test('ReadIndex on the leader and on a follower returns the commit index after a heartbeat quorum', () => {
    const c = cluster(3);
    elect(c, 1);
    c.propose(1, 'a');
    c.stabilize();
    const commit = c.node(1).rn.raft.log.committed;
    assert.ok(c.node(1).rn.readIndex(enc('r1')).ok);
    const rd1 = c.node(1).rn.ready();
    assert.equal(rd1.readStates.length, 0, 'not before a quorum of heartbeats');
    assert.ok(rd1.messages.some((m) => m.type === 'MsgHeartbeat' && m.context.length > 0));
    c.node(1).rn.advance(rd1);
    c.inflight.push(...rd1.messages);
    let states: { node: NodeId; index: number; ctx: string }[] = [];
    const collect = (): void => {
      for (const id of c.ids()) {
        const n = c.node(id);
        if (!n.rn.hasReady()) continue;
        const rd = n.rn.ready();
        for (const rs of rd.readStates) states.push({ node: id, index: rs.index, ctx: new TextDecoder().decode(rs.context) });
        n.rn.advance(rd);
        c.inflight.push(...rd.messages);
      }
      for (const id of c.ids()) c.deliver(id);
    };
    for (let i = 0; i < 5; i++) collect();
    assert.deepEqual(states, [{ node: 1, index: commit, ctx: 'r1' }]);
    states = [];
    assert.ok(c.node(3).rn.readIndex(enc('r2')).ok);
    for (let i = 0; i < 8; i++) collect();
    assert.deepEqual(states, [{ node: 3, index: commit, ctx: 'r2' }]);
  });

  test('ReadIndex waits until the leader commits an entry of its term; lease-based reads answer at once', () => {
    const c = cluster(3, { checkQuorum: true, readOnlyOption: 'lease-based' });
    c.campaign(1);
    c.processReady(1);
    for (const id of [2, 3]) {
      c.deliver(id);
      c.processReady(id);
    }
    c.deliver(1);
    assert.equal(c.leader(), 1);
    assert.ok(c.node(1).rn.readIndex(enc('early')).ok);
    c.processReady(1);
    assert.deepEqual(c.readStates, [], 'held until an entry of the term commits');
    for (const id of [2, 3]) {
      c.deliver(id);
      c.processReady(id);
    }
    c.deliver(1);
    c.processReady(1);
    assert.deepEqual(c.readStates, [{ node: 1, index: c.node(1).rn.raft.log.committed, context: 'early' }]);
    c.stabilize();
    assert.ok(c.node(1).rn.readIndex(enc('lease')).ok);
    const rd = c.node(1).rn.ready();
    assert.deepEqual(
      rd.readStates.map((r) => r.index),
      [c.node(1).rn.raft.log.committed],
    );
    c.node(1).rn.advance(rd);
  });

  test('a learner catches up without voting, then is promoted to voter', () => {
    const c = cluster(3);
    elect(c, 1);
    c.propose(1, 'a');
    c.stabilize();
    // The new node starts with an empty configuration: it learns the
    // membership from a snapshot that includes it.
    c.addNodes(1);
    c.isolate(4);
    assert.ok(c.node(1).rn.proposeConfChange({ type: 'add-learner', nodeId: 4 }).ok);
    assert.deepEqual(c.node(1).rn.proposeConfChange({ type: 'add-node', nodeId: 4 }), { ok: false, reason: DropReason.ConfChangePending });
    c.stabilize();
    c.compact(1);
    c.heal();
    c.tickAll(3);
    assert.deepEqual(c.node(4).applied, ['a']);
    assert.deepEqual(c.node(1).confState, { voters: [1, 2, 3], learners: [4] });
    assert.equal(c.node(4).rn.raft.isLearner, true);
    // A learner never campaigns.
    c.node(4).rn.campaign();
    assert.equal(c.node(4).rn.raft.state, StateType.Follower);
    assert.ok(c.node(1).rn.proposeConfChange({ type: 'add-node', nodeId: 4 }).ok);
    c.stabilize();
    for (const id of c.ids()) assert.deepEqual(c.node(id).confState, { voters: [1, 2, 3, 4], learners: [] }, `node ${id}`);
    // With 4 voters, a quorum is 3: nodes 1 and 2 alone cannot commit.
    c.isolate(3);
    c.isolate(4);
    c.propose(1, 'b');
    c.stabilize();
    assert.deepEqual(c.node(1).applied, ['a']);
    c.heal();
    c.tickAll(3);
    assertConverged(c);
  });

  test('removing a follower shrinks the quorum; removing the leader makes it step down', () => {
    const c = cluster(3);
    elect(c, 1);
    c.node(1).rn.proposeConfChange({ type: 'remove-node', nodeId: 3 });
    c.stabilize();
    assert.deepEqual(c.node(1).confState.voters, [1, 2]);
    c.node(1).rn.proposeConfChange({ type: 'remove-node', nodeId: 1 });
    c.stabilize();
    assert.equal(c.node(1).rn.raft.state, StateType.Follower);
    for (let i = 0; i < 40 && c.leader() === undefined; i++) c.tickAll(1);
    assert.equal(c.leader(), 2);
    c.propose(2, 'solo');
    c.stabilize();
    assert.deepEqual(c.node(2).applied, ['solo']);
  });

  test('proposals beyond uncommittedBytesMax are dropped with a reason until entries commit', () => {
    const c = cluster(3, { uncommittedBytesMax: 100 });
    elect(c, 1);
    c.isolate(2);
    c.isolate(3);
    const big = 'x'.repeat(60);
    assert.ok(c.propose(1, big).ok);
    assert.deepEqual(c.propose(1, big), { ok: false, reason: DropReason.UncommittedBytesMax });
    c.stabilize();
    c.heal();
    c.tickAll(2);
    assert.deepEqual(c.node(1).applied, [big]);
    assert.ok(c.propose(1, big).ok);
  });

  test('followers forward proposals to the leader, unless forwarding is disabled', () => {
    const c = cluster(3);
    elect(c, 1);
    assert.ok(c.propose(2, 'fwd').ok);
    c.stabilize();
    assertConverged(c);
    assert.deepEqual(c.node(3).applied, ['fwd']);
    const d = cluster(3, { disableProposalForwarding: true });
    elect(d, 1);
    assert.deepEqual(d.propose(2, 'x'), { ok: false, reason: DropReason.ForwardingDisabled });
    const e = cluster(3);
    assert.deepEqual(e.propose(2, 'x'), { ok: false, reason: DropReason.NoLeader });
  });

  test('PreVote: a partitioned node does not raise its term and does not disrupt the leader on return', () => {
    const c = cluster(3, { preVote: true, checkQuorum: true });
    elect(c, 1);
    c.isolate(3);
    for (let i = 0; i < 50; i++) {
      c.tick(3, 1);
      c.stabilize([3]);
    }
    assert.equal(c.node(3).rn.raft.term, 1, 'pre-candidate keeps its term');
    c.heal();
    c.tickAll(5);
    assert.equal(c.leader(), 1);
    assert.equal(c.node(1).rn.raft.term, 1);
  });

  test('a restarted node recovers its log, term and vote from storage', () => {
    const c = cluster(3);
    elect(c, 1);
    for (let i = 0; i < 5; i++) c.propose(1, `v${i}`);
    c.stabilize();
    c.restart(2);
    const r = c.node(2).rn.raft;
    assert.equal(r.term, 1);
    assert.equal(r.vote, 1);
    assert.equal(r.log.lastIndex(), 6);
    c.tickAll(2);
    assertConverged(c);
  });
});
