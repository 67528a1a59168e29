// The owner's memory of pubs members missed: the newest per topic and member,
// sent again each round until a send of it or of a later pub gets through,
// bounded per member, nothing owed to a member that left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicResends, type TopicResendOptions } from '../src/topic-resends.js';
import type { TopicPub } from '../src/cluster-topics.js';

const pub = (topic: string, offset: number): TopicPub => ({ app: 'a', topic, offset, prev: offset - 1, data: offset, ts: 0 });

function setup(o: Partial<TopicResendOptions> & { up?: Set<string>; members?: Set<string> } = {}): { r: TopicResends; sent: [string, string, number][]; results: string[] } {
  const sent: [string, string, number][] = [];
  const results: string[] = [];
  const up = o.up ?? new Set(['n2', 'n3']);
  const members = o.members ?? new Set(['n2', 'n3']);
  const r = new TopicResends({
    intervalMs: 60_000,
    topicsMax: o.topicsMax ?? 100,
    send: async (member, p) => {
      sent.push([member, p.topic, p.offset]);
      if (!up.has(member)) throw new Error('unreachable');
      return true;
    },
    isMember: (m) => members.has(m),
    onResent: (x) => results.push(x),
  });
  return { r, sent, results };
}

test("a member is sent a topic's newest missed pub again until it gets through", async () => {
  const up = new Set<string>();
  const { r, sent, results } = setup({ up });
  r.missed('n2', pub('t', 1));
  r.missed('n2', pub('t', 3));
  r.missed('n2', pub('t', 2)); // older than what is owed: the newest stays
  r.missed('n2', pub('u', 7));
  assert.equal(r.owedTo('n2'), 2);
  await r.round();
  assert.deepEqual(sent, [['n2', 't', 3]], 'one failed send ends the member’s round');
  up.add('n2');
  await r.round();
  assert.deepEqual(sent.slice(1), [['n2', 't', 3], ['n2', 'u', 7]]);
  assert.deepEqual(results, ['failed', 'sent', 'sent']);
  assert.equal(r.owedTo('n2'), 0);
  await r.round();
  assert.equal(sent.length, 3, 'nothing is owed any more');
});

test('a later pub that got through settles what the member missed before it; an older one does not', async () => {
  const { r, sent } = setup({ up: new Set() });
  r.missed('n2', pub('t', 5));
  r.delivered('n2', pub('t', 4));
  assert.equal(r.owedTo('n2'), 1, 'a pub older than the one owed settles nothing');
  r.delivered('n2', pub('t', 6));
  assert.equal(r.owedTo('n2'), 0, 'its prev shows the member the hole');
  await r.round();
  assert.deepEqual(sent, []);
});

test('topics owed to one member are bounded, the one owed longest forgotten; a member that left is owed nothing', async () => {
  const members = new Set(['n2', 'n3']);
  const { r, results, sent } = setup({ topicsMax: 2, members });
  r.missed('n2', pub('t1', 1));
  r.missed('n2', pub('t2', 1));
  r.missed('n2', pub('t1', 2)); // owed again: now the newest
  r.missed('n2', pub('t3', 1));
  assert.equal(r.owedTo('n2'), 2);
  assert.deepEqual(results, ['forgotten']);
  r.missed('n3', pub('t1', 9));
  members.delete('n3');
  await r.round();
  assert.deepEqual(sent, [['n2', 't1', 2], ['n2', 't3', 1]], 't2 was forgotten; n3 left');
  assert.equal(r.owedTo('n3'), 0);
});
