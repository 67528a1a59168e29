// One test per claim of the Raft paper (Ongaro & Ousterhout, "In Search of
// an Understandable Consensus Algorithm", extended version), named with its
// section, after etcd's raft_paper_test.go.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { MemoryStorage } from '../src/log/memory-storage.js';
import type { Message } from '../src/message.js';
import type { Raft } from '../src/raft.js';
import type { Entry } from '../src/types.js';
import { StateType, index as I, term as T } from '../src/types.js';
import { Network, newTestRaft, persist, takeMsgs } from './helpers/network.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const ent = (t: number, i: number, data = ''): Entry => ({ term: T(t), index: I(i), type: 'normal', data: enc(data) });

function hup(r: Raft): void {
  r.step({ type: 'MsgHup', from: r.id, to: r.id, term: T(0) });
}

function prop(r: Raft, data: string): void {
  r.step({ type: 'MsgProp', from: r.id, to: r.id, term: T(0), entries: [ent(0, 0, data)] });
}

/** Makes r leader of a 3-member group by granting it every vote. */
function electLeader(r: Raft): void {
  hup(r);
  takeMsgs(r);
  for (const id of r.trk.voters) if (id !== r.id) r.step({ type: 'MsgVoteResp', from: id, to: r.id, term: r.term, reject: false });
  assert.equal(r.state, StateType.Leader);
}

function commitNoopEntry(r: Raft, st: MemoryStorage): void {
  assert.equal(r.state, StateType.Leader);
  for (const m of takeMsgs(r)) {
    assert.equal(m.type, 'MsgApp');
    if (m.type !== 'MsgApp') continue;
    r.step({ type: 'MsgAppResp', from: m.to, to: r.id, term: r.term, index: I(m.index + m.entries.length), reject: false, rejectHint: I(0), logTerm: T(0) });
  }
  takeMsgs(r);
  persist(r, st);
  r.log.appliedTo(r.log.committed);
}

describe('raft paper §5.1 (terms)', () => {
  for (const role of ['follower', 'candidate', 'leader'] as const) {
    test(`§5.1: a ${role} seeing a higher term updates its term and becomes follower`, () => {
      const r = newTestRaft(1, [1, 2, 3]);
      if (role === 'candidate') hup(r);
      if (role === 'leader') electLeader(r);
      r.step({ type: 'MsgApp', from: 2, to: 1, term: T(2), index: I(0), logTerm: T(0), entries: [], commit: I(0) });
      assert.equal(r.term, 2);
      assert.equal(r.state, StateType.Follower);
      assert.equal(r.lead, 2);
    });
  }

  test('§5.1: a request with a stale term is rejected (ignored)', () => {
    const r = newTestRaft(1, [1, 2, 3]);
    r.becomeFollower(T(2), 2);
    r.step({ type: 'MsgApp', from: 2, to: 1, term: T(1), index: I(0), logTerm: T(0), entries: [ent(1, 1)], commit: I(0) });
    assert.equal(r.log.lastIndex(), 0);
    assert.equal(r.term, 2);
  });
});

describe('raft paper §5.2 (leader election)', () => {
  test('§5.2: servers start up as followers', () => {
    const r = newTestRaft(1, [1, 2, 3]);
    assert.equal(r.state, StateType.Follower);
  });

  test('§5.2: a leader sends heartbeats to all followers every heartbeat timeout', () => {
    const r = newTestRaft(1, [1, 2, 3], { heartbeatTicks: 1 });
    electLeader(r);
    takeMsgs(r);
    r.tick();
    const msgs = takeMsgs(r).filter((m) => m.type === 'MsgHeartbeat');
    assert.deepEqual(msgs.map((m) => m.to).sort(), [2, 3]);
  });

  for (const role of ['follower', 'candidate'] as const) {
    test(`§5.2: a ${role} whose election timeout elapses starts an election (term+1, votes for itself, asks all)`, () => {
      const r = newTestRaft(1, [1, 2, 3]);
      if (role === 'candidate') hup(r);
      const t0 = r.term;
      takeMsgs(r);
      for (let i = 0; i < 2 * 10; i++) r.tick();
      assert.equal(r.term, t0 + 1);
      assert.equal(r.state, StateType.Candidate);
      assert.equal(r.vote, 1);
      const votes = takeMsgs(r).filter((m) => m.type === 'MsgVote');
      assert.deepEqual(votes.map((m) => m.to).sort(), [2, 3]);
    });
  }

  const rounds: [number, Record<number, boolean>, StateType][] = [
    [1, {}, StateType.Leader],
    [3, { 2: true, 3: true }, StateType.Leader],
    [3, { 2: true }, StateType.Leader],
    [5, { 2: true, 3: true, 4: true, 5: true }, StateType.Leader],
    [5, { 2: true, 3: true }, StateType.Leader],
    [3, {}, StateType.Candidate],
    [5, { 2: true }, StateType.Candidate],
    [5, { 2: false, 3: false }, StateType.Candidate],
    [5, { 2: false, 3: false, 4: false }, StateType.Follower],
  ];
  for (const [size, votes, want] of rounds) {
    test(`§5.2: a candidate of ${size} with votes ${JSON.stringify(votes)} ends ${want} (wins with a majority)`, () => {
      const ids = Array.from({ length: size }, (_, i) => i + 1);
      const r = newTestRaft(1, ids);
      hup(r);
      for (const [id, granted] of Object.entries(votes)) {
        r.step({ type: 'MsgVoteResp', from: Number(id), to: 1, term: r.term, reject: !granted });
      }
      assert.equal(r.state, want);
      assert.equal(r.term, 1);
    });
  }

  const voteCases: [number, number, boolean][] = [
    [0, 2, false],
    [0, 3, false],
    [2, 2, false],
    [3, 3, false],
    [2, 3, true],
    [3, 2, true],
  ];
  for (const [vote, from, reject] of voteCases) {
    test(`§5.2: a follower votes for at most one candidate per term, first come (voted ${vote}, from ${from})`, () => {
      const r = newTestRaft(1, [1, 2, 3]);
      r.term = T(1);
      r.vote = vote;
      r.step({ type: 'MsgVote', from, to: 1, term: T(1), index: I(0), logTerm: T(0), transfer: false });
      const resp = takeMsgs(r);
      assert.equal(resp.length, 1);
      assert.equal(resp[0]!.type, 'MsgVoteResp');
      assert.equal(resp[0]!.type === 'MsgVoteResp' && resp[0]!.reject, reject);
    });
  }

  for (const t of [1, 2]) {
    test(`§5.2: a candidate receiving AppendEntries from a leader of term ${t} >= its own reverts to follower`, () => {
      const r = newTestRaft(1, [1, 2, 3]);
      hup(r);
      assert.equal(r.state, StateType.Candidate);
      r.step({ type: 'MsgApp', from: 2, to: 1, term: T(t), index: I(0), logTerm: T(0), entries: [], commit: I(0) });
      assert.equal(r.state, StateType.Follower);
      assert.equal(r.term, t);
    });
  }

  for (const role of ['follower', 'candidate'] as const) {
    test(`§5.2: a ${role}'s election timeout is randomized in [et, 2*et)`, () => {
      const seen = new Set<number>();
      for (let seed = 1; seed <= 50; seed++) {
        const r = newTestRaft(seed, [seed, 1000, 1001]);
        if (role === 'candidate') hup(r);
        r.becomeFollower(T(r.term + 1), 0);
        let ticks = 0;
        while (r.state === StateType.Follower) {
          r.tick();
          ticks++;
        }
        assert.ok(ticks >= 10 && ticks < 20, `timeout ${ticks}`);
        seen.add(ticks);
      }
      assert.ok(seen.size > 5, 'timeouts are spread');
    });
  }

  test('§5.2: in most cases only a single server times out first', () => {
    let conflicts = 0;
    const rounds = 1000;
    for (let round = 0; round < rounds; round++) {
      const rs = [1, 2, 3, 4, 5].map((id) => newTestRaft(id + round * 5, [1, 2, 3, 4, 5].map((x) => x + round * 5)));
      let timedOut = 0;
      for (let tick = 0; tick < 20 && timedOut === 0; tick++) {
        for (const r of rs) {
          r.tick();
          if (takeMsgs(r).length > 0) timedOut++;
        }
      }
      if (timedOut > 1) conflicts++;
    }
    assert.ok(conflicts / rounds <= 0.3, `conflict ratio ${conflicts / rounds}`);
  });
});

describe('raft paper §5.3 (log replication)', () => {
  test('§5.3: the leader appends a proposal to its log and sends AppendEntries to every follower', () => {
    const st = new MemoryStorage();
    st.bootstrap({ voters: [1, 2, 3], learners: [] });
    const r = newTestRaft(1, [1, 2, 3], {}, st);
    electLeader(r);
    commitNoopEntry(r, st);
    const li = r.log.lastIndex();
    prop(r, 'some data');
    const msgs = takeMsgs(r).filter((m): m is Extract<Message, { type: 'MsgApp' }> => m.type === 'MsgApp');
    assert.deepEqual(msgs.map((m) => m.to).sort(), [2, 3]);
    for (const m of msgs) {
      assert.equal(m.index, li);
      assert.equal(m.logTerm, 1);
      assert.equal(m.entries.length, 1);
      assert.equal(m.entries[0]!.index, li + 1);
      assert.equal(m.commit, li);
    }
    assert.equal(r.log.lastIndex(), li + 1);
  });

  test('§5.3: an entry replicated on a majority is committed, and followers learn the commit index', () => {
    const st = new MemoryStorage();
    st.bootstrap({ voters: [1, 2, 3], learners: [] });
    const r = newTestRaft(1, [1, 2, 3], {}, st);
    electLeader(r);
    commitNoopEntry(r, st);
    const li = r.log.lastIndex();
    prop(r, 'x');
    const apps = takeMsgs(r);
    r.step({ type: 'MsgAppResp', from: 2, to: 1, term: r.term, index: I(li + 1), reject: false, rejectHint: I(0), logTerm: T(0) });
    assert.equal(r.log.committed, li + 1);
    const commits = takeMsgs(r).filter((m): m is Extract<Message, { type: 'MsgApp' }> => m.type === 'MsgApp');
    assert.ok(apps.length === 2);
    assert.deepEqual(commits.map((m) => [m.to, m.commit]).sort(), [
      [2, li + 1],
      [3, li + 1],
    ]);
  });

  for (const [size, acks, committed] of [
    [1, [], true],
    [3, [], false],
    [3, [2], true],
    [3, [2, 3], true],
    [5, [2], false],
    [5, [2, 3], true],
  ] as [number, number[], boolean][]) {
    test(`§5.3: a ${size}-member leader commits once a majority acknowledges (acks ${JSON.stringify(acks)})`, () => {
      const ids = Array.from({ length: size }, (_, i) => i + 1);
      const st = new MemoryStorage();
      st.bootstrap({ voters: ids, learners: [] });
      const r = newTestRaft(1, ids, {}, st);
      electLeader(r);
      commitNoopEntry(r, st);
      const li = r.log.lastIndex();
      prop(r, 'x');
      takeMsgs(r);
      for (const id of acks) r.step({ type: 'MsgAppResp', from: id, to: 1, term: r.term, index: I(li + 1), reject: false, rejectHint: I(0), logTerm: T(0) });
      assert.equal(r.log.committed > li, committed);
    });
  }

  test('§5.3: committing an entry also commits all preceding entries of the leader', () => {
    const st = new MemoryStorage();
    st.bootstrap({ voters: [1, 2, 3], learners: [] });
    st.append([ent(2, 1), ent(2, 2)]);
    st.setHardState({ term: T(2), vote: 0, commit: I(0) });
    const r = newTestRaft(1, [1, 2, 3], {}, st);
    electLeader(r);
    prop(r, 'x');
    for (const m of takeMsgs(r)) {
      if (m.type === 'MsgApp') r.step({ type: 'MsgAppResp', from: m.to, to: 1, term: r.term, index: I(4), reject: false, rejectHint: I(0), logTerm: T(0) });
    }
    assert.equal(r.log.committed, 4);
    const got = r.log.nextCommittedEntries().map((e) => [e.index, e.term]);
    assert.deepEqual(got, [
      [1, 2],
      [2, 2],
      [3, 3],
      [4, 3],
    ]);
  });

  test('§5.3: a follower applies entries once it learns they are committed', () => {
    const r = newTestRaft(1, [1, 2, 3]);
    r.becomeFollower(T(1), 2);
    r.step({ type: 'MsgApp', from: 2, to: 1, term: T(1), index: I(0), logTerm: T(0), entries: [ent(1, 1, 'a'), ent(1, 2, 'b')], commit: I(1) });
    assert.equal(r.log.committed, 1);
    assert.deepEqual(r.log.nextCommittedEntries().map((e) => e.index), [1]);
  });

  // (prevIndex, prevTerm, entries, leaderCommit) -> (last index, commit).
  // The follower's log is 1/1 2/2 3/2 (index/term pairs: 1 term 1, 2-3 term 2).
  for (const [prevIndex, prevTerm, ents, leaderCommit, wantLast, wantCommit] of [
    [3, 2, [], 3, 3, 3],
    [3, 2, [], 5, 3, 3],
    [1, 1, [], 3, 3, 1],
    [1, 1, [ent(2, 2)], 3, 3, 2],
    [2, 2, [ent(2, 3), ent(2, 4)], 4, 4, 4],
    [0, 0, [ent(1, 1)], 3, 3, 1],
  ] as [number, number, Entry[], number, number, number][]) {
    test(`§5.3 (AppendEntries rule 5): commit = min(leaderCommit, index of last new entry) (prev ${prevIndex}/${prevTerm}, ${ents.length} entries, commit ${leaderCommit})`, () => {
      const st = new MemoryStorage();
      st.bootstrap({ voters: [1, 2, 3], learners: [] });
      st.append([ent(1, 1), ent(2, 2), ent(2, 3)]);
      const r = newTestRaft(1, [1, 2, 3], {}, st);
      r.becomeFollower(T(2), 2);
      r.step({ type: 'MsgApp', from: 2, to: 1, term: T(2), index: I(prevIndex), logTerm: T(prevTerm), entries: ents, commit: I(leaderCommit) });
      assert.equal(r.log.lastIndex(), wantLast);
      assert.equal(r.log.committed, wantCommit, 'entries past the last new one may be stale: never commit them');
    });
  }

  for (const [prevTerm, prevIndex, reject, hint] of [
    [0, 0, false, 0],
    [1, 1, false, 0],
    [2, 2, false, 0],
    [1, 2, true, 1],
    [3, 3, true, 2],
  ] as [number, number, boolean, number][]) {
    test(`§5.3: a follower rejects AppendEntries whose (prevIndex ${prevIndex}, prevTerm ${prevTerm}) is not in its log`, () => {
      const st = new MemoryStorage();
      st.bootstrap({ voters: [1, 2, 3], learners: [] });
      st.append([ent(1, 1), ent(2, 2)]);
      const r = newTestRaft(1, [1, 2, 3], {}, st);
      r.becomeFollower(T(2), 2);
      r.step({ type: 'MsgApp', from: 2, to: 1, term: T(2), index: I(prevIndex), logTerm: T(prevTerm), entries: [], commit: I(0) });
      const [resp] = takeMsgs(r);
      assert.ok(resp !== undefined && resp.type === 'MsgAppResp');
      assert.equal(resp.reject, reject);
      if (reject) assert.equal(resp.rejectHint, hint);
    });
  }

  for (const [prevIndex, prevTerm, ents, want] of [
    [2, 2, [ent(3, 3)], [1, 2, 3]],
    [1, 1, [ent(3, 2), ent(4, 3)], [1, 3, 4]],
    [0, 0, [ent(1, 1)], [1, 2]],
    [0, 0, [ent(3, 1)], [3]],
  ] as [number, number, Entry[], number[]][]) {
    test(`§5.3: a follower deletes a conflicting suffix and appends new entries (after ${prevIndex}/${prevTerm})`, () => {
      const st = new MemoryStorage();
      st.bootstrap({ voters: [1, 2, 3], learners: [] });
      st.append([ent(1, 1), ent(2, 2)]);
      const r = newTestRaft(1, [1, 2, 3], {}, st);
      r.becomeFollower(T(2), 2);
      r.step({ type: 'MsgApp', from: 2, to: 1, term: T(2), index: I(prevIndex), logTerm: T(prevTerm), entries: ents, commit: I(0) });
      const terms = r.log.slice(I(1), I(r.log.lastIndex() + 1), Infinity).map((e) => e.term);
      assert.deepEqual(terms, want);
    });
  }

  // Figure 7: the leader's log against followers (a)-(f).
  const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const followers: [string, number[]][] = [
    ['a', [1, 1, 1, 4, 4, 5, 5, 6, 6]],
    ['b', [1, 1, 1, 4]],
    ['c', [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6]],
    ['d', [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7]],
    ['e', [1, 1, 1, 4, 4, 4, 4]],
    ['f', [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]],
  ];
  const storageWith = (terms: number[], hsTerm: number): MemoryStorage => {
    const st = new MemoryStorage();
    st.bootstrap({ voters: [1, 2, 3], learners: [] });
    st.append(terms.map((t, i) => ent(t, i + 1)));
    st.setHardState({ term: T(hsTerm), vote: 0, commit: I(0) });
    return st;
  };
  for (const [name, terms] of followers) {
    test(`§5.3 (Figure 7${name}): the leader brings a follower's log into consistency with its own`, () => {
      const lead = newTestRaft(1, [1, 2, 3], {}, storageWith(leaderLog, 8));
      const follower = newTestRaft(2, [1, 2, 3], {}, storageWith(terms, 8));
      // Member 3 only votes: it has the leader's log.
      const voter = newTestRaft(3, [1, 2, 3], {}, storageWith(leaderLog, 8));
      const n = new Network([lead, follower, voter]);
      n.campaign(1);
      assert.equal(lead.state, StateType.Leader);
      n.propose(1, 'x');
      const dump = (r: Raft): string => r.log.slice(I(1), I(r.log.lastIndex() + 1), Infinity).map((e) => `${e.index}/${e.term}`).join(' ');
      assert.equal(dump(follower), dump(lead));
      assert.equal(follower.log.committed, lead.log.committed);
    });
  }
});

describe('raft paper §5.4 (safety)', () => {
  test('§5.4.1: RequestVote carries the candidate\'s last log index and term', () => {
    const st = new MemoryStorage();
    st.bootstrap({ voters: [1, 2, 3], learners: [] });
    st.append([ent(1, 1), ent(2, 2)]);
    const r = newTestRaft(1, [1, 2, 3], {}, st);
    hup(r);
    for (const m of takeMsgs(r)) {
      assert.ok(m.type === 'MsgVote');
      assert.equal(m.index, 2);
      assert.equal(m.logTerm, 2);
    }
  });

  for (const [logTerms, candIndex, candTerm, reject] of [
    [[1, 1], 2, 1, false],
    [[1, 1], 3, 1, false],
    [[1, 1], 1, 1, true],
    [[1, 2], 2, 2, false],
    [[1, 2], 2, 1, true],
    [[1, 2], 3, 1, true],
    [[1], 1, 2, false],
  ] as [number[], number, number, boolean][]) {
    test(`§5.4.1: a voter denies its vote if its log is more up to date (log ${logTerms}, candidate ${candIndex}/${candTerm})`, () => {
      const st = new MemoryStorage();
      st.bootstrap({ voters: [1, 2, 3], learners: [] });
      st.append(logTerms.map((t, i) => ent(t, i + 1)));
      const r = newTestRaft(1, [1, 2, 3], {}, st);
      r.step({ type: 'MsgVote', from: 2, to: 1, term: T(3), index: I(candIndex), logTerm: T(candTerm), transfer: false });
      const [resp] = takeMsgs(r);
      assert.ok(resp !== undefined && resp.type === 'MsgVoteResp');
      assert.equal(resp.reject, reject);
    });
  }

  for (const [ackIndex, wantCommit] of [
    [1, 0],
    [2, 0],
    [3, 3],
  ] as [number, number][]) {
    test(`§5.4.2: a leader commits only entries of its own term by counting replicas (ack ${ackIndex})`, () => {
      const st = new MemoryStorage();
      st.bootstrap({ voters: [1, 2, 3], learners: [] });
      st.append([ent(1, 1), ent(2, 2)]);
      st.setHardState({ term: T(2), vote: 0, commit: I(0) });
      const r = newTestRaft(1, [1, 2, 3], {}, st);
      electLeader(r);
      assert.equal(r.term, 3);
      takeMsgs(r);
      r.step({ type: 'MsgAppResp', from: 2, to: 1, term: r.term, index: I(ackIndex), reject: false, rejectHint: I(0), logTerm: T(0) });
      assert.equal(r.log.committed, wantCommit);
    });
  }
});
