// RawNode.proposeBatch: several proposals as one MsgProp — appended together,
// replicated in one append per follower, forwarded whole by a follower, and
// applied everywhere in order.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { Message } from '../src/message.js';
import { Cluster } from './helpers/cluster.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function started(): Cluster {
  const c = new Cluster();
  c.verbose = false;
  c.addNodes(3);
  c.campaign(1);
  c.stabilize();
  assert.equal(c.leader(), 1);
  return c;
}

const appendsTo = (msgs: readonly Message[], to: number): Message[] => msgs.filter((m) => m.type === 'MsgApp' && m.to === to && m.entries.length > 0);

test('proposeBatch on the leader: one append per follower carries the whole batch; every member applies it in order', () => {
  const c = started();
  assert.deepEqual(c.node(1).rn.proposeBatch([enc('a'), enc('b'), enc('c')]), { ok: true });
  c.processReady(1);
  for (const f of [2, 3]) {
    const apps = appendsTo(c.inflight, f);
    assert.equal(apps.length, 1);
    const m = apps[0];
    assert.ok(m !== undefined && m.type === 'MsgApp');
    assert.equal(m.entries.length, 3);
  }
  c.stabilize();
  for (const id of [1, 2, 3]) assert.deepEqual(c.node(id).applied, ['a', 'b', 'c']);
});

test('proposeBatch on a follower is forwarded to the leader as one MsgProp and applied in order', () => {
  const c = started();
  assert.deepEqual(c.node(2).rn.proposeBatch([enc('x'), enc('y')]), { ok: true });
  c.processReady(2);
  const props = c.inflight.filter((m) => m.type === 'MsgProp');
  assert.equal(props.length, 1);
  const p = props[0];
  assert.ok(p !== undefined && p.type === 'MsgProp');
  assert.equal(p.to, 1);
  assert.equal(p.entries.length, 2);
  c.stabilize();
  for (const id of [1, 2, 3]) assert.deepEqual(c.node(id).applied, ['x', 'y']);
});
