// Handing topic histories to their new owners: topics stay where `newOwner`
// says so, each owner gets its topics whole in calls bounded by count and
// bytes, empty histories are not sent; and a topicImport call of a bad shape
// is refused with a clear error before anything is stored.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Member } from '../../keeper/src/keeper.js';
import { Metrics } from '../src/metrics.js';
import { openSaver } from '../src/saver/saver-level.js';
import { handTopics, parseTopicImport, TOPIC_CALL_BYTES_MAX, TOPICS_PER_CALL, type TopicHandoff } from '../src/topic-handover.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const member = (id: string): Member => ({ id, role: 'voter', peer: '', api: '', gateway: '', zone: 'default' });

test('topics go to their new owners whole, in bounded calls; those that stay or have no history are not sent', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'topic-handover-'));
  dirs.push(dir);
  const saver = await openSaver({ dir, fsync: false });
  try {
    const count = TOPICS_PER_CALL + 44;
    for (let i = 0; i < count; i++) await saver.publish('app', `t${i}`, i);
    await saver.publish('app', 't0', 'second');
    // Two big topics: each over half the byte bound, so they go in calls of their own.
    const big = 'x'.repeat(Math.ceil(TOPIC_CALL_BYTES_MAX / 2) + 10);
    await saver.publish('big', 'b1', big);
    await saver.publish('big', 'b2', big);
    const calls: { to: string; topics: TopicHandoff[] }[] = [];
    const peers = {
      of: (m: Member) => ({
        call: async (method: string, body: unknown) => {
          assert.equal(method, 'topicImport');
          const c = parseTopicImport(body);
          assert.equal(c.move, 'drain');
          assert.equal(c.mark, 'mark-1');
          calls.push({ to: m.id, topics: c.topics });
          return { topics: c.topics.length, records: c.topics.reduce((n, t) => n + t.records.length, 0) };
        },
      }),
    };
    const owner = (app: string, topic: string): Member | undefined => {
      if (app === 'big') return member('n2');
      const i = Number(topic.slice(1));
      return i % 3 === 0 ? undefined : member(i % 3 === 1 ? 'n2' : 'n3');
    };
    const moved = await handTopics(saver, peers as never, new Metrics(), 'drain', 'mark-1', owner);
    const sent = calls.flatMap((c) => c.topics.map((t) => `${c.to}:${t.app}/${t.topic}`));
    const want: string[] = [];
    for (let i = 0; i < count; i++) if (i % 3 !== 0) want.push(`${i % 3 === 1 ? 'n2' : 'n3'}:app/t${i}`);
    want.push('n2:big/b1', 'n2:big/b2');
    assert.deepEqual([...sent].sort(), [...want].sort(), 'each moving topic once, to its owner');
    assert.equal(new Set(sent).size, sent.length);
    assert.ok(calls.every((c) => c.topics.length <= TOPICS_PER_CALL));
    const bytes = (c: { topics: TopicHandoff[] }): number => c.topics.reduce((n, t) => n + t.records.reduce((m, r) => m + JSON.stringify(r.data).length, 0), 0);
    assert.ok(calls.every((c) => c.topics.length === 1 || bytes(c) <= TOPIC_CALL_BYTES_MAX), 'a call closes at the byte bound');
    assert.ok(!calls.some((c) => c.topics.filter((t) => t.app === 'big').length > 1), 'the two big topics went in two calls');
    assert.deepEqual(moved, { topics: want.length, records: want.length });
    assert.equal(calls.find((c) => c.topics.some((t) => t.topic === 't1'))?.topics.find((t) => t.topic === 't1')?.records[0]?.data, 1);
  } finally {
    await saver.close();
  }
});

test('a topicImport of a bad shape is refused with a clear error', () => {
  const good = { move: 'join', mark: 'm', topics: [{ app: 'a', topic: 't', records: [{ offset: 1, ts: 5, data: 'x' }] }] };
  assert.deepEqual(parseTopicImport(good).topics[0]?.records, [{ offset: 1, ts: 5, data: 'x' }]);
  const refused = (v: unknown, why: RegExp): void => {
    assert.throws(() => parseTopicImport(v), (err: Error & { status?: number }) => err.status === 400 && why.test(err.message));
  };
  refused(null, /not a map/);
  refused({ ...good, move: 'copy' }, /move/);
  refused({ ...good, mark: '' }, /mark/);
  refused({ ...good, topics: 'all' }, /topics/);
  refused({ ...good, topics: Array.from({ length: TOPICS_PER_CALL + 1 }, () => good.topics[0]) }, /at most/);
  refused({ ...good, topics: [{ app: 'a' }] }, /without "app" or "topic"/);
  refused({ ...good, topics: [{ app: 'a', topic: 't', records: [{ offset: 'one', ts: 1 }] }] }, /offset/);
  refused({ ...good, topics: [{ app: 'a', topic: 't', records: {} }] }, /no list/);
});
