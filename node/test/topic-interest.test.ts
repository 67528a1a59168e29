// A member's side of topic interest, with the calls answered by the test: a
// topic's first subscriber waits until its owner took the add (one call per
// owner for a turn's adds, bounded by addWaitMs); its own topics need no
// call; a round removes topics without subscribers, pings each member and
// syncs in chunks one whose copy differs, handing the owner's newest offsets
// on; a ring change regroups the topics under their new owners. Bad calls
// from a peer are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicInterest, parseInterestCall, type InterestCall, type TopicHeads } from '../src/topic-interest.js';
import { InterestDigest } from '../src/interest-digest.js';
import type { Member } from '../../keeper/src/keeper.js';
import type { Placement } from '../src/ownership.js';

const member = (id: string): Member => ({ id, role: 'voter', peer: '', api: '', gateway: '', zone: 'default' });
const MEMBERS = [member('n1'), member('n2'), member('n3')];

interface Setup {
  interest: TopicInterest;
  calls: [string, InterestCall][];
  heads: TopicHeads[];
  subscribed: Set<string>;
  owners: Map<string, string>;
  world: { sig: string; answer: (to: string, c: InterestCall) => Promise<unknown> };
}

function setup(chunkMax = 2, addWaitMs = 1000): Setup {
  const calls: [string, InterestCall][] = [];
  const heads: TopicHeads[] = [];
  const subscribed = new Set<string>();
  // Topic key -> owner id; unlisted keys are n2's.
  const owners = new Map<string, string>();
  const world = { sig: 'n1,n2,n3', answer: async (_to: string, c: InterestCall): Promise<unknown> => (c.op === 'sync' ? [] : true) };
  const interest = new TopicInterest(
    {
      nodeId: 'n1',
      members: () => MEMBERS,
      placementOf: (key): Placement => {
        const owner = owners.get(key) ?? 'n2';
        return owner === 'n1' ? { kind: 'here' } : { kind: 'elsewhere', owner: member(owner) };
      },
      sig: () => world.sig,
      hasSubscribers: (key) => subscribed.has(key),
      call: async (m, body) => {
        calls.push([m.id, body]);
        return world.answer(m.id, body);
      },
      onHeads: (h) => heads.push(h),
      onSynced: () => undefined,
    },
    { intervalMs: 60_000, chunkMax, addWaitMs },
  );
  return { interest, calls, heads, subscribed, owners, world };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));
const digestOf = (keys: readonly string[]): ReturnType<InterestDigest['value']> => {
  const d = new InterestDigest();
  for (const k of keys) d.add(k);
  return d.value();
};

test("a turn's first subscribers wait for one add per owner; the node's own topics need none", async () => {
  const s = setup();
  s.owners.set('c', 'n3').set('mine', 'n1');
  let released: () => void = () => undefined;
  const gate = new Promise<void>((r) => (released = r));
  s.world.answer = async () => {
    await gate;
    return true;
  };
  let done = 0;
  for (const k of ['a', 'b', 'c', 'mine']) void s.interest.want(k).then(() => done++);
  await settle();
  assert.deepEqual(s.calls, [
    ['n2', { op: 'change', sig: 'n1,n2,n3', add: ['a', 'b'], remove: [] }],
    ['n3', { op: 'change', sig: 'n1,n2,n3', add: ['c'], remove: [] }],
  ]);
  assert.equal(done, 1, 'only the topic owned here is through');
  // A second subscription to a topic whose add is in flight waits for it too, and makes no call.
  void s.interest.want('a').then(() => done++);
  await settle();
  assert.equal(done, 1);
  released();
  await settle();
  assert.equal(done, 5);
  assert.equal(s.calls.length, 2);
});

test('an owner that does not answer holds a subscription up addWaitMs at most', async () => {
  const s = setup(2, 50);
  s.world.answer = () => new Promise<never>(() => undefined);
  const t0 = performance.now();
  await s.interest.want('a');
  const waited = performance.now() - t0;
  assert.ok(waited >= 45 && waited < 1000, `waited ${waited} ms`);
});

test('a round removes topics without subscribers, pings every other member, and syncs in chunks one whose copy differs', async () => {
  const s = setup(2);
  s.owners.set('d', 'n3');
  for (const k of ['a', 'b', 'c', 'd']) s.subscribed.add(k);
  await Promise.all(['a', 'b', 'c', 'd'].map((k) => s.interest.want(k)));
  s.calls.length = 0;
  s.subscribed.delete('b');
  // n2 lost its copy (it restarted); n3's matches.
  s.world.answer = async (to, c) => {
    if (c.op === 'ping') return to === 'n3';
    if (c.op === 'sync') return c.keys.includes('a') ? [['a', 7]] : [];
    return true;
  };
  s.interest.round();
  await settle();
  assert.deepEqual(
    s.calls.filter(([to]) => to === 'n2'),
    [
      ['n2', { op: 'change', sig: 'n1,n2,n3', add: [], remove: ['b'] }],
      ['n2', { op: 'ping', sig: 'n1,n2,n3', digest: digestOf(['a', 'c']) }],
      ['n2', { op: 'sync', sig: 'n1,n2,n3', keys: ['a', 'c'], first: true, last: true }],
    ],
  );
  assert.deepEqual(s.calls.filter(([to]) => to === 'n3'), [['n3', { op: 'ping', sig: 'n1,n2,n3', digest: digestOf(['d']) }]]);
  assert.deepEqual(s.heads, [[['a', 7]]], "the owner's newest offsets are handed on");
});

test('a member with no subscribers syncs an empty list; a long list goes in chunks', async () => {
  const s = setup(2);
  s.world.answer = async (_to, c) => (c.op === 'ping' ? false : c.op === 'sync' ? [] : true);
  s.interest.round();
  await settle();
  assert.deepEqual(
    s.calls.filter(([to]) => to === 'n3').map(([, c]) => c),
    [
      { op: 'ping', sig: 'n1,n2,n3', digest: digestOf([]) },
      { op: 'sync', sig: 'n1,n2,n3', keys: [], first: true, last: true },
    ],
  );
  for (const k of ['a', 'b', 'c', 'd', 'e']) s.subscribed.add(k);
  await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => s.interest.want(k)));
  s.calls.length = 0;
  s.interest.round();
  await settle();
  assert.deepEqual(
    s.calls.filter(([to, c]) => to === 'n2' && c.op === 'sync').map(([, c]) => c),
    [
      { op: 'sync', sig: 'n1,n2,n3', keys: ['a', 'b'], first: true, last: false },
      { op: 'sync', sig: 'n1,n2,n3', keys: ['c', 'd'], first: false, last: false },
      { op: 'sync', sig: 'n1,n2,n3', keys: ['e'], first: false, last: true },
    ],
  );
});

test('after a ring change the topics are grouped under their new owners and sent under the new ring', async () => {
  const s = setup(10);
  for (const k of ['a', 'b']) s.subscribed.add(k);
  await Promise.all(['a', 'b'].map((k) => s.interest.want(k)));
  s.calls.length = 0;
  s.world.sig = 'n1,n3';
  s.owners.set('a', 'n3').set('b', 'n1');
  s.world.answer = async (_to, c) => (c.op === 'ping' ? false : c.op === 'sync' ? [] : true);
  s.interest.round();
  await settle();
  const syncs = s.calls.filter(([, c]) => c.op === 'sync');
  assert.deepEqual(syncs, [
    ['n2', { op: 'sync', sig: 'n1,n3', keys: [], first: true, last: true }],
    ['n3', { op: 'sync', sig: 'n1,n3', keys: ['a'], first: true, last: true }],
  ]);
});

test('a topicInterest call of the wrong shape is refused', () => {
  const good = { op: 'change', sig: 's', add: ['k'], remove: [] };
  assert.deepEqual(parseInterestCall(good), good);
  assert.deepEqual(parseInterestCall({ op: 'ping', sig: 's', digest: { count: 1, x: 5, s: 6 } }), { op: 'ping', sig: 's', digest: { count: 1, x: 5, s: 6 } });
  for (const bad of [
    null,
    [],
    { op: 'nope', sig: 's' },
    { op: 'change', add: [], remove: [] },
    { op: 'change', sig: 's', add: 'k', remove: [] },
    { op: 'change', sig: 's', add: [1], remove: [] },
    { op: 'change', sig: 's', add: ['x'.repeat(1025)], remove: [] },
    { op: 'sync', sig: 's', keys: Array.from({ length: 5001 }, (_, i) => `k${i}`), first: true, last: true },
    { op: 'sync', sig: 's', keys: [], first: 'yes', last: true },
    { op: 'ping', sig: 's', digest: { count: -1, x: 0, s: 0 } },
    { op: 'ping', sig: 's', digest: { count: 0, x: 2 ** 32, s: 0 } },
  ]) {
    assert.throws(() => parseInterestCall(bad), /peer topicInterest/, JSON.stringify(bad)?.slice(0, 80));
  }
});
