// Edge cases after etcd's raft_test.go: CheckQuorum and PreVote against
// disruptive members, leadership transfer corner cases, flow control.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { DropReason } from '../src/errors.js';
import type { Message } from '../src/message.js';
import { ProgressState } from '../src/tracker/progress.js';
import { StateType, index as I, term as T } from '../src/types.js';
import { Cluster } from './helpers/cluster.js';
import type { NodeOptions } from './helpers/cluster.js';
import { Network, takeMsgs } from './helpers/network.js';

function cluster(n: number, opts: NodeOptions = {}): Cluster {
  const c = new Cluster(opts);
  c.verbose = false;
  c.addNodes(n);
  return c;
}

function elect(c: Cluster, id: number): void {
  c.campaign(id);
  c.stabilize();
  assert.equal(c.leader(), id);
}

describe('CheckQuorum and PreVote', () => {
  test('a candidate stuck at a higher term after a partition is freed: the leader learns the term and a new election follows', () => {
    const c = cluster(3, { checkQuorum: true });
    elect(c, 1);
    c.isolate(3);
    for (let i = 0; i < 3; i++) {
      c.campaign(3);
      c.stabilize([3]);
    }
    const stuck = c.node(3).rn.raft.term;
    assert.ok(stuck > 1);
    c.heal();
    // Votes of node 3 are ignored while 1 and 2 hear from the leader, but the
    // leader learns of the higher term from 3's answer to its heartbeat.
    c.tickAll(1);
    assert.notEqual(c.node(1).rn.raft.state, StateType.Leader, 'leader stepped down');
    assert.ok(c.node(1).rn.raft.term >= stuck);
    for (let i = 0; i < 60 && c.leader() === undefined; i++) c.tickAll(1);
    const lead = c.leader();
    assert.ok(lead !== undefined);
    assert.ok(c.propose(lead, 'x').ok);
    c.stabilize();
    assert.deepEqual(c.node(3).applied, ['x']);
  });

  test('without PreVote a disruptive follower deposes a healthy leader; with PreVote it cannot', () => {
    const plain = cluster(3, { checkQuorum: true });
    elect(plain, 1);
    plain.campaign(3);
    plain.stabilize();
    plain.tickAll(1);
    assert.ok(plain.node(1).rn.raft.term > 1, 'the disruption raised the term');

    const pv = cluster(3, { checkQuorum: true, preVote: true });
    elect(pv, 1);
    pv.campaign(3);
    pv.stabilize();
    pv.tickAll(3);
    assert.equal(pv.leader(), 1);
    assert.equal(pv.node(1).rn.raft.term, 1);
    assert.equal(pv.node(3).rn.raft.term, 1, 'a pre-candidate never raises its term');
  });

  test('a leader that cannot reach a quorum steps down; one that can, stays', () => {
    const c = cluster(5, { checkQuorum: true });
    elect(c, 1);
    c.isolate(4);
    c.isolate(5);
    c.tickAll(25);
    assert.equal(c.leader(), 1, 'three of five is a quorum');
    c.isolate(3);
    c.tickAll(25);
    assert.notEqual(c.node(1).rn.raft.state, StateType.Leader);
  });

  test('a node with a smaller term and PreVote can still complete an election once the leader is gone', () => {
    const c = cluster(3, { checkQuorum: true, preVote: true });
    elect(c, 1);
    c.isolate(1);
    for (let i = 0; i < 60 && ![2, 3].some((id) => c.node(id).rn.raft.state === StateType.Leader); i++) {
      for (const id of [2, 3]) c.tick(id, 1);
      c.stabilize([2, 3]);
    }
    assert.ok([2, 3].some((id) => c.node(id).rn.raft.state === StateType.Leader));
  });
});

describe('a lost connection to the leader (reportDisconnected)', () => {
  // Cluster nodes have electionTicks 10: without the report no follower campaigns before 10 ticks.
  test('when both followers lose the leader, the lower id campaigns at the next tick and wins, whenever the loss falls', () => {
    for (let since = 0; since < 10; since++) {
      const c = cluster(3, { checkQuorum: true, preVote: true });
      elect(c, 1);
      c.tickAll(since);
      c.isolate(1);
      for (const id of [2, 3]) c.node(id).rn.reportDisconnected(1);
      for (const id of [2, 3]) c.tick(id, 1);
      c.stabilize([2, 3]);
      assert.equal(c.node(2).rn.raft.state, StateType.Leader, `${since} ticks after a heartbeat`);
      assert.equal(c.node(3).rn.raft.lead, 2);
    }
  });

  test('reports that arrive apart still elect at once: the first to campaign is refused while the other hears the leader, then the other wins', () => {
    const c = cluster(3, { checkQuorum: true, preVote: true });
    elect(c, 1);
    c.isolate(1);
    c.node(2).rn.reportDisconnected(1);
    c.tick(2, 1);
    c.stabilize([2, 3]);
    assert.equal(c.node(2).rn.raft.state, StateType.PreCandidate, 'node 3 is in the lease: no answer');
    c.node(3).rn.reportDisconnected(1);
    for (let i = 0; i < 3 && c.node(3).rn.raft.state !== StateType.Leader; i++) {
      for (const id of [2, 3]) c.tick(id, 1);
      c.stabilize([2, 3]);
    }
    assert.equal(c.node(3).rn.raft.state, StateType.Leader, 'within 1 + 2 ticks of its report');
  });

  test('without the report the same loss takes at least a full election timeout', () => {
    const c = cluster(3, { checkQuorum: true, preVote: true });
    elect(c, 1);
    c.tickAll(3);
    c.isolate(1);
    for (let i = 0; i < 9; i++) {
      for (const id of [2, 3]) c.tick(id, 1);
      c.stabilize([2, 3]);
    }
    assert.ok([2, 3].every((id) => c.node(id).rn.raft.state === StateType.Follower));
  });

  test('one follower wrong about a live leader cannot depose it, and follows it again at the next heartbeat', () => {
    const c = cluster(3, { checkQuorum: true, preVote: true });
    elect(c, 1);
    c.node(3).rn.reportDisconnected(1);
    assert.equal(c.node(3).rn.raft.lead, 0, 'forgot the leader');
    for (let i = 0; i < 12; i++) c.tickAll(1);
    assert.equal(c.leader(), 1);
    assert.equal(c.node(1).rn.raft.term, 1, 'no election reached the leader');
    assert.equal(c.node(3).rn.raft.lead, 1);
  });

  test('a report about a member that is not the leader, or on the leader itself, changes nothing', () => {
    const c = cluster(3, { checkQuorum: true, preVote: true });
    elect(c, 1);
    c.node(2).rn.reportDisconnected(3);
    c.node(1).rn.reportDisconnected(2);
    assert.equal(c.node(2).rn.raft.lead, 1);
    assert.equal(c.node(1).rn.raft.state, StateType.Leader);
    assert.equal(c.node(2).rn.raft.electionElapsed, 0);
  });
});

describe('what must be synced (Ready.mustSync)', () => {
  test('entries, a new term and a vote must be durable; a Ready that only moves the commit index need not be', () => {
    const c = cluster(3, { checkQuorum: true, preVote: true });
    elect(c, 1);
    const elected = c.persisted.filter((p) => p.hardState !== undefined && p.hardState.commit === 0);
    assert.ok(elected.length > 0 && elected.every((p) => p.mustSync), 'term and vote changes are synced');
    c.persisted.length = 0;
    assert.ok(c.propose(1, 'x').ok);
    c.stabilize();
    assert.deepEqual(c.node(3).applied, ['x']);
    const withEntries = c.persisted.filter((p) => p.entries > 0);
    assert.ok(withEntries.length >= 3 && withEntries.every((p) => p.mustSync), 'every Ready with entries is synced');
    const commitOnly = c.persisted.filter((p) => p.entries === 0 && p.hardState !== undefined);
    assert.ok(commitOnly.length >= 3, `each member had a commit-only Ready (${commitOnly.length})`);
    assert.ok(commitOnly.every((p) => !p.mustSync), 'none of them is synced');
  });
});

describe('leadership transfer corner cases', () => {
  test('transfer to self, to a stranger, or to a learner is ignored', () => {
    const c = cluster(3);
    elect(c, 1);
    c.node(1).rn.transferLeader(1);
    c.node(1).rn.transferLeader(9);
    assert.equal(c.node(1).rn.raft.leadTransferee, 0);
    c.addNodes(1);
    c.node(1).rn.proposeConfChange({ type: 'add-learner', nodeId: 4 });
    c.stabilize();
    c.node(1).rn.transferLeader(4);
    assert.equal(c.node(1).rn.raft.leadTransferee, 0);
    assert.equal(c.leader(), 1);
  });

  test('a second transfer to the same node does not extend the deadline; a transfer back to the leader aborts', () => {
    const c = cluster(3);
    elect(c, 1);
    c.isolate(3);
    c.node(1).rn.transferLeader(3);
    c.tick(1, 5);
    c.node(1).rn.transferLeader(3);
    c.tick(1, 5);
    assert.equal(c.node(1).rn.raft.leadTransferee, 0, 'aborted after one election timeout in total');
    c.node(1).rn.transferLeader(3);
    assert.equal(c.node(1).rn.raft.leadTransferee, 3);
    c.node(1).rn.transferLeader(1);
    assert.equal(c.node(1).rn.raft.leadTransferee, 0);
    assert.equal(c.leader(), 1);
  });

  test('a transfer request sent to a follower is forwarded to the leader', () => {
    const c = cluster(3);
    elect(c, 1);
    assert.ok(c.node(2).rn.transferLeader(3).ok);
    c.stabilize();
    assert.equal(c.leader(), 3);
  });

  test('the transferee campaigns even inside the old leader\'s lease (CheckQuorum)', () => {
    const c = cluster(3, { checkQuorum: true, preVote: true });
    elect(c, 1);
    c.node(1).rn.transferLeader(2);
    c.stabilize();
    assert.equal(c.leader(), 2);
    assert.equal(c.node(2).rn.raft.term, 2);
  });

  test('campaigning while leader changes nothing', () => {
    const c = cluster(3);
    elect(c, 1);
    c.campaign(1);
    c.stabilize();
    assert.equal(c.leader(), 1);
    assert.equal(c.node(1).rn.raft.term, 1);
  });
});

describe('flow control', () => {
  const appsTo = (msgs: Message[], to: number): Extract<Message, { type: 'MsgApp' }>[] =>
    msgs.filter((m): m is Extract<Message, { type: 'MsgApp' }> => m.type === 'MsgApp' && m.to === to);

  test('in replicate state at most inflightMsgsMax appends are in flight; an ack opens the window', () => {
    const n = Network.of(3, { inflightMsgsMax: 2, appendBytesMax: 1 });
    n.campaign(1);
    const r = n.get(1);
    n.ignore('MsgAppResp');
    for (let i = 0; i < 5; i++) {
      r.step({ type: 'MsgProp', from: 1, to: 1, term: T(0), entries: [{ term: T(0), index: I(0), type: 'normal', data: new Uint8Array([i]) }] });
    }
    const sent = appsTo(takeMsgs(r), 2).filter((m) => m.entries.length > 0);
    assert.equal(sent.length, 2, 'two appends, then the window is full');
    assert.equal(r.trk.progress.get(2)?.state, ProgressState.Replicate);
    const last = sent[1]!;
    r.step({ type: 'MsgAppResp', from: 2, to: 1, term: r.term, index: I(last.index + 1), reject: false, rejectHint: I(0), logTerm: T(0) });
    assert.equal(appsTo(takeMsgs(r), 2).filter((m) => m.entries.length > 0).length, 2, 'the ack freed both slots');
  });

  test('in probe state one append per heartbeat interval', () => {
    const n = Network.of(3);
    n.campaign(1);
    const r = n.get(1);
    r.step({ type: 'MsgUnreachable', from: 2, to: 1, term: T(0) });
    assert.equal(r.trk.progress.get(2)?.state, ProgressState.Probe);
    for (let i = 0; i < 3; i++) {
      r.step({ type: 'MsgProp', from: 1, to: 1, term: T(0), entries: [{ term: T(0), index: I(0), type: 'normal', data: new Uint8Array([i]) }] });
    }
    assert.equal(appsTo(takeMsgs(r), 2).length, 1, 'paused after the first probe');
    r.step({ type: 'MsgHeartbeatResp', from: 2, to: 1, term: r.term, context: new Uint8Array(0) });
    assert.equal(appsTo(takeMsgs(r), 2).length, 1, 'a heartbeat response lets one more probe go');
  });

  test('a candidate drops proposals with a reason', () => {
    const c = cluster(3);
    c.campaign(1);
    assert.deepEqual(c.propose(1, 'x'), { ok: false, reason: DropReason.Candidate });
  });

  test('a stale snapshot is ignored and answered with the commit index', () => {
    const n = Network.of(3);
    n.campaign(1);
    n.propose(1, 'a');
    const f = n.get(2);
    f.step({
      type: 'MsgSnap',
      from: 1,
      to: 2,
      term: n.get(1).term,
      snapshot: { meta: { index: I(1), term: T(1), confState: { voters: [1, 2, 3], learners: [] } }, data: new Uint8Array(0) },
    });
    const [resp] = takeMsgs(f);
    assert.ok(resp !== undefined && resp.type === 'MsgAppResp');
    assert.equal(resp.index, f.log.committed);
    assert.equal(f.log.unstableSnapshot(), undefined);
  });
});
