// The owner's record of which members have subscribers of which topics: a
// pub goes to a member by its record only while the record is whole (synced,
// under the owner's ring, heard from lately, within the bound); any other
// member gets every pub. Digests match exactly when the sets do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicAudience, type TopicAudienceOptions } from '../src/topic-audience.js';
import { InterestDigest } from '../src/interest-digest.js';
import type { Member } from '../../keeper/src/keeper.js';

const member = (id: string): Member => ({ id, role: 'voter', peer: '', api: '', gateway: '', zone: 'default' });
const N2 = member('n2');
const N3 = member('n3');
const SIG = 'n1,n2,n3';

function setup(o: Partial<TopicAudienceOptions> = {}): { a: TopicAudience; clock: { now: number } } {
  const clock = { now: 0 };
  return { a: new TopicAudience({ staleMs: o.staleMs ?? 10_000, entriesMax: o.entriesMax ?? 100, now: () => clock.now }), clock };
}

const ids = (ms: readonly Member[]): string[] => ms.map((m) => m.id);
const digestOf = (keys: readonly string[]): ReturnType<InterestDigest['value']> => {
  const d = new InterestDigest();
  for (const k of keys) d.add(k);
  return d.value();
};

test('a member without a synced record gets every pub; a synced one only its topics', () => {
  const { a } = setup();
  assert.deepEqual(ids(a.recipients('t1', [N2, N3], SIG).to), ['n2', 'n3'], 'nothing known: every member');
  a.sync('n2', { sig: SIG, keys: ['t1'], first: true, last: true });
  a.sync('n3', { sig: SIG, keys: [], first: true, last: true });
  const r = a.recipients('t1', [N2, N3], SIG);
  assert.deepEqual([ids(r.to), r.interested, r.unsynced, r.skipped], [['n2'], 1, 0, 1]);
  assert.deepEqual(ids(a.recipients('t2', [N2, N3], SIG).to), [], 'a topic nobody subscribed to goes nowhere');
  assert.deepEqual(ids(a.recipients('t2', [N2, N3], 'n1,n2').to), ['n2', 'n3'], 'records made under another ring are not used');
  assert.equal(a.size(), 1);
});

test('a sync in chunks counts only once its last chunk came; a new first chunk starts over', () => {
  const { a } = setup();
  a.sync('n2', { sig: SIG, keys: ['t1', 't2'], first: true, last: false });
  assert.deepEqual(ids(a.recipients('t9', [N2], SIG).to), ['n2'], 'half a sync: still every pub');
  a.sync('n2', { sig: SIG, keys: ['t3'], first: true, last: false });
  a.sync('n2', { sig: SIG, keys: ['t4'], first: false, last: true });
  assert.deepEqual(ids(a.recipients('t1', [N2], SIG).to), [], 'the first sync was dropped');
  assert.deepEqual(ids(a.recipients('t3', [N2], SIG).to), ['n2']);
  assert.ok(a.ping('n2', SIG, digestOf(['t4', 't3'])), 'the digest does not depend on order');
  assert.ok(!a.ping('n2', SIG, digestOf(['t3'])));
  assert.ok(!a.ping('n2', 'n1,n2', digestOf(['t3', 't4'])), 'nor under another ring');
  assert.equal(a.size(), 2);
});

test('a change during a sync in chunks is kept when the sync ends', () => {
  const { a } = setup();
  a.sync('n2', { sig: SIG, keys: ['t1'], first: true, last: false });
  assert.equal(a.change('n2', { sig: SIG, add: ['t9'], remove: ['t1'] }), true, 'taken by the sync in progress');
  a.sync('n2', { sig: SIG, keys: ['t2'], first: false, last: true });
  assert.deepEqual(ids(a.recipients('t9', [N2], SIG).to), ['n2'], 'added meanwhile');
  assert.deepEqual(ids(a.recipients('t1', [N2], SIG).to), [], 'removed meanwhile');
  assert.ok(a.ping('n2', SIG, digestOf(['t2', 't9'])));
  assert.equal(a.size(), 2);
});

test('changes apply to a record made under their ring, and keep it equal to the member’s digest', () => {
  const { a } = setup();
  assert.equal(a.change('n2', { sig: SIG, add: ['t1'], remove: [] }), false, 'no record: ignored (the member gets every pub)');
  a.sync('n2', { sig: SIG, keys: ['t1'], first: true, last: true });
  assert.equal(a.change('n2', { sig: 'n1', add: ['t2'], remove: [] }), false, 'another ring: ignored');
  assert.equal(a.change('n2', { sig: SIG, add: ['t2', 't3'], remove: ['t1'] }), true);
  assert.deepEqual(ids(a.recipients('t1', [N2], SIG).to), []);
  assert.deepEqual(ids(a.recipients('t3', [N2], SIG).to), ['n2']);
  assert.ok(a.ping('n2', SIG, digestOf(['t2', 't3'])));
  assert.equal(a.size(), 2);
});

test('a member silent past staleMs, or gone from the cluster, gets every pub again', () => {
  const { a, clock } = setup({ staleMs: 1000 });
  a.sync('n2', { sig: SIG, keys: [], first: true, last: true });
  a.sync('n3', { sig: SIG, keys: ['t1'], first: true, last: true });
  clock.now = 900;
  assert.ok(a.ping('n2', SIG, digestOf([])), 'a matching ping keeps the record fresh');
  clock.now = 1500;
  assert.deepEqual(ids(a.recipients('t2', [N2, N3], SIG).to), ['n3'], 'n3 was last heard at 0: stale');
  clock.now = 2000;
  assert.ok(!a.ping('n2', SIG, digestOf([])), 'a ping after a silence past staleMs does not revive the record: the member syncs (and gets the newest offsets)');
  assert.deepEqual(ids(a.recipients('t2', [N2], SIG).to), ['n2']);
  a.sync('n2', { sig: SIG, keys: [], first: true, last: true });
  a.keepOnly(new Set(['n3']));
  assert.deepEqual(ids(a.recipients('t2', [N2], SIG).to), ['n2'], 'n2 left: its record is gone');
  assert.equal(a.size(), 0);
});

test('past the bound on entries a member keeps its digest but gets every pub', () => {
  const { a } = setup({ entriesMax: 3 });
  a.sync('n2', { sig: SIG, keys: ['t1', 't2'], first: true, last: true });
  a.sync('n3', { sig: SIG, keys: ['t3', 't4'], first: true, last: true });
  assert.deepEqual(ids(a.recipients('t9', [N2, N3], SIG).to), ['n3'], 'n3 overflowed: every pub');
  assert.ok(a.ping('n3', SIG, digestOf(['t3', 't4'])), 'its pings still match: it does not sync over and over');
  assert.ok(a.change('n3', { sig: SIG, add: ['t5'], remove: ['t3'] }));
  assert.ok(a.ping('n3', SIG, digestOf(['t4', 't5'])));
  assert.equal(a.size(), 2);
  assert.ok(a.change('n2', { sig: SIG, add: ['t6', 't7'], remove: [] }));
  assert.deepEqual(ids(a.recipients('t9', [N2], SIG).to), ['n2'], 'an add past the bound: n2 gets every pub too');
  assert.ok(a.ping('n2', SIG, digestOf(['t1', 't2', 't6', 't7'])));
  assert.equal(a.size(), 0);
});
