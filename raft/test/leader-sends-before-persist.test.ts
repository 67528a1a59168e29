// Config.leaderSendsBeforePersist (thesis §10.2.1): the leader's appends go
// out before its own write (Ready.earlyMessages) and it counts itself in the
// commit quorum only for entries the shell reported durable (advance()).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { Message } from '../src/message.js';
import type { Ready } from '../src/raw-node.js';
import { Cluster } from './helpers/cluster.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function started(): Cluster {
  const c = new Cluster({ leaderSendsBeforePersist: true });
  c.verbose = false;
  c.addNodes(3);
  c.campaign(1);
  c.stabilize();
  assert.equal(c.leader(), 1);
  return c;
}

/** The shell's step 1 and 2 for a Ready taken earlier: persist, then queue the late messages. */
function persistAndAdvance(c: Cluster, id: number, rd: Ready): void {
  const n = c.node(id);
  n.storage.append(rd.entries);
  if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
  c.inflight.push(...rd.messages);
  n.rn.advance(rd);
}

const appendTo = (msgs: readonly Message[], to: number): Message | undefined => msgs.find((m) => m.type === 'MsgApp' && m.to === to && m.entries.length > 0);

test('the leader sends its appends early and counts itself only once its write is done', () => {
  const c = started();
  const leader = c.node(1).rn;
  const before = leader.raft.log.committed;
  assert.ok(leader.propose(enc('a')).ok);
  const rd = leader.ready();
  assert.equal(rd.entries.length, 1);
  const idx = rd.entries[0]!.index;
  assert.ok(appendTo(rd.earlyMessages, 2) !== undefined && appendTo(rd.earlyMessages, 3) !== undefined);
  assert.equal(rd.messages.filter((m) => m.type === 'MsgApp').length, 0);
  // Only follower 2 gets the append; its ack arrives while the leader still writes.
  c.inflight.push(...rd.earlyMessages.filter((m) => m.to === 2));
  c.deliver(2);
  c.processReady(2);
  c.deliver(1);
  assert.equal(leader.raft.log.committed, before, 'one durable copy of three is no quorum');
  persistAndAdvance(c, 1, rd);
  assert.equal(leader.raft.log.committed, idx, 'the leader\'s own write makes two of three');
  c.stabilize();
  for (const id of [1, 2, 3]) assert.deepEqual(c.node(id).applied, ['a']);
});

test('two followers\' acks commit an entry before the leader\'s write is done; it is applied only after', () => {
  const c = started();
  const leader = c.node(1).rn;
  assert.ok(leader.propose(enc('b')).ok);
  const rd = leader.ready();
  const idx = rd.entries[0]!.index;
  c.inflight.push(...rd.earlyMessages);
  for (const f of [2, 3]) {
    c.deliver(f);
    c.processReady(f);
  }
  c.deliver(1);
  assert.equal(leader.raft.log.committed, idx, 'two durable copies of three are a quorum');
  assert.equal(rd.committedEntries.length, 0, 'the Ready being written hands out nothing to apply');
  persistAndAdvance(c, 1, rd);
  c.processReady(1);
  assert.deepEqual(c.node(1).applied, ['b']);
});

test('votes, vote answers and followers\' acks never go early', () => {
  const c = started();
  // A follower's ack of an append.
  assert.ok(c.node(1).rn.propose(enc('c')).ok);
  c.processReady(1);
  c.deliver(2);
  const frd = c.node(2).rn.ready();
  assert.equal(frd.earlyMessages.length, 0);
  assert.ok(frd.messages.some((m) => m.type === 'MsgAppResp'));
  persistAndAdvance(c, 2, frd);
  c.stabilize();
  // An election: the candidate's term and vote must be durable before its MsgVote.
  c.campaign(3);
  const crd = c.node(3).rn.ready();
  assert.equal(crd.earlyMessages.length, 0);
  assert.ok(crd.messages.some((m) => m.type === 'MsgVote'));
  persistAndAdvance(c, 3, crd);
  c.deliver(1);
  const vrd = c.node(1).rn.ready();
  assert.equal(vrd.earlyMessages.length, 0);
  assert.ok(vrd.messages.some((m) => m.type === 'MsgVoteResp'));
  persistAndAdvance(c, 1, vrd);
  c.stabilize();
  assert.equal(c.leader(), 3);
  // The new leader's first appends are of its (durable) term: early.
  assert.ok(c.node(3).rn.propose(enc('d')).ok);
  const lrd = c.node(3).rn.ready();
  assert.ok(lrd.earlyMessages.length > 0 && lrd.earlyMessages.every((m) => m.type === 'MsgApp' && m.term === c.node(3).storage.initialState().hardState.term));
  persistAndAdvance(c, 3, lrd);
  c.inflight.push(...lrd.earlyMessages);
  c.stabilize();
  for (const id of [1, 2, 3]) assert.deepEqual(c.node(id).applied, ['c', 'd']);
});

test('a single voter commits its entry once written', () => {
  const c = new Cluster({ leaderSendsBeforePersist: true });
  c.verbose = false;
  c.addNodes(1);
  c.campaign(1);
  c.stabilize();
  const rn = c.node(1).rn;
  assert.ok(rn.propose(enc('e')).ok);
  const rd = rn.ready();
  assert.ok(rn.raft.log.committed < rd.entries[0]!.index, 'not before the write');
  persistAndAdvance(c, 1, rd);
  assert.equal(rn.raft.log.committed, rd.entries[0]!.index);
  c.stabilize();
  assert.deepEqual(c.node(1).applied, ['e']);
});
