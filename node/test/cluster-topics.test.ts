// A topic's hand-over between owners, with the ring's placement set by the
// test (a real one-member keeper for offset blocks, a real saver, peer calls
// answered by the test): the previous owner answers a pull only once the
// publishes it had started are stored and sent, and refuses new ones; a new
// owner pulls a topic's history once per move before its first publish or
// history read, and goes on without it (not asking again at once) when the
// previous owner does not answer; a member that missed a pub is sent the
// topic's newest again until it gets through; a member is sent only the pubs
// of topics its interest record lists, once it has one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { RaftKeeper } from '../../keeper/src/raft-keeper.js';
import type { Keeper, Member } from '../../keeper/src/keeper.js';
import { ClusterTopics, type TopicOwnership } from '../src/cluster-topics.js';
import { Hub } from '../src/hub.js';
import { Metrics } from '../src/metrics.js';
import { topicKey, type Placement } from '../src/ownership.js';
import { openSaver } from '../src/saver/saver-level.js';
import type { Saver } from '../src/saver/saver.js';

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

const OTHER: Member = { id: 'n2', role: 'voter', peer: '127.0.0.1:1', api: '127.0.0.1:2', gateway: '127.0.0.1:3', zone: 'default' };

type Call = (method: string, body: unknown) => Promise<unknown>;

async function setup(call: Call, ready: () => boolean = () => true, resendMs?: number): Promise<{ topics: ClusterTopics; saver: Saver; place: (p: Placement) => void; metrics: Metrics }> {
  const dir = await mkdtemp(join(tmpdir(), 'cluster-topics-'));
  const keeper = await RaftKeeper.open({
    dataDir: join(dir, 'raft'),
    member: { id: 'n1', peer: '127.0.0.1:1', api: '127.0.0.1:2', gateway: '127.0.0.1:3', zone: 'default' },
    listen: { host: '127.0.0.1', port: 0 },
    leaseCheckIntervalMs: 0,
  });
  const saver = await openSaver({ dir: join(dir, 'saver'), fsync: false });
  closers.push(async () => {
    await saver.close();
    await keeper.close();
    await rm(dir, { recursive: true, force: true });
  });
  // The real keeper, with one more member listed (the owner sends each publish to it) and its readiness set by the test.
  const withOther = new Proxy(keeper, {
    get(target, prop, receiver) {
      if (prop === 'cluster') return () => ({ ...target.cluster(), members: [...target.cluster().members, OTHER] });
      if (prop === 'ready') return () => target.ready() && ready();
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as Keeper;
  let placement: Placement = { kind: 'here' };
  const ownership: TopicOwnership = { placementOf: () => placement, refresh: async () => undefined, ringMembers: () => [...withOther.cluster().members] };
  const metrics = new Metrics();
  const topics = new ClusterTopics('n1', withOther, ownership, saver, new Hub(), { of: () => ({ call }) }, metrics, pino({ level: 'silent' }), resendMs === undefined ? {} : { intervalMs: resendMs });
  topics.start();
  closers.push(async () => topics.stop());
  return { topics, saver, place: (p) => (placement = p), metrics };
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a publish is answered once stored; the previous owner hands a topic over only after the publishes it started are stored and sent, and refuses new ones', async () => {
  let sent: () => void = () => undefined;
  const pubSent = new Promise<void>((r) => (sent = r));
  let pubs = 0;
  const { topics, place } = await setup(async (method) => {
    assert.equal(method, 'pub');
    pubs++;
    await pubSent;
    return null;
  });
  const first = topics.publishHere('app', 't', 'a');
  for (let i = 0; i < 200 && pubs === 0; i++) await settle(5);
  assert.equal(pubs, 1, 'stored, and being sent to the other member');
  assert.equal(await first, 1, 'answered once stored: the send to a slow member does not hold the publisher up');

  place({ kind: 'elsewhere', owner: OTHER });
  let released = false;
  const handed = topics.release('app', 't').then((r) => {
    released = true;
    return r;
  });
  await assert.rejects(topics.publishHere('app', 't', 'b'), (err: Error & { status?: number }) => err.status === 503 && /owned by n2/.test(err.message));
  await settle(50);
  assert.equal(released, false, 'the hand-over waits for the send still on its way');
  sent();
  assert.deepEqual((await handed).map((r) => [r.offset, r.data]), [[1, 'a']], 'the whole history, without the refused publish');
});

test('a new owner pulls a topic once per move before it publishes or reads, and goes on without it when the previous owner fails', async () => {
  const now = Date.now();
  const pulls: string[] = [];
  let failing = false;
  const { topics, saver, place, metrics } = await setup(async (method, body) => {
    if (method === 'pub') return null;
    assert.equal(method, 'topicRelease');
    const { topic } = body as { topic: string };
    pulls.push(topic);
    if (failing) throw new Error('previous owner down');
    await settle(20);
    return [
      { offset: 5, data: `${topic}-old`, ts: now - 10 },
      { offset: 7, data: `${topic}-older-owner-last`, ts: now - 5 },
    ];
  });
  place({ kind: 'incoming', from: OTHER, move: 'join', mark: 'm1' });

  const [a, b] = await Promise.all([topics.publishHere('app', 'moved', 'x'), topics.publishHere('app', 'moved', 'y')]);
  assert.deepEqual(pulls, ['moved'], 'two publishes at once: one pull');
  assert.deepEqual([a, b], [8, 9], 'above the pulled history');
  assert.deepEqual((await topics.history('app', 'moved', 0)).map((r) => r.offset), [5, 7, 8, 9]);
  assert.deepEqual(pulls, ['moved'], 'a history read after it does not pull again');

  // A topic the batches brought first is not pulled.
  await topics.imported('m1', 'app', 'batched', [{ offset: 3, data: 'b', ts: now }]);
  assert.equal(await topics.publishHere('app', 'batched', 'z'), 4);
  assert.deepEqual(pulls, ['moved']);

  // Another move of the same topic pulls again.
  place({ kind: 'incoming', from: OTHER, move: 'drain', mark: 'm2' });
  await topics.history('app', 'moved', 0);
  assert.deepEqual(pulls, ['moved', 'moved']);

  // The previous owner fails: the publish goes on without the history, and the next one does not ask again at once.
  failing = true;
  assert.equal(await topics.publishHere('app', 'lost', 'p'), 1);
  assert.equal(await topics.publishHere('app', 'lost', 'q'), 2);
  assert.deepEqual(pulls, ['moved', 'moved', 'lost']);
  assert.equal((await metrics.registry.getSingleMetricAsString('longwire_topic_history_pulls_total')).includes('move="drain",result="failed"} 1'), true);
  assert.deepEqual((await saver.readTopic('app', 'lost', 0)).map((r) => r.data), ['p', 'q']);
  // A history read does not answer without the previous owner's part (503: the subscriber asks again later) ...
  await assert.rejects(topics.history('app', 'lost', 0), (err: Error & { status?: number }) => err.status === 503 && /previous owner/.test(err.message));
  assert.deepEqual(pulls, ['moved', 'moved', 'lost'], 'not asked again at once');
  // ... until the hand-over's batch for it came (here: the previous owner had none).
  await topics.imported('m2', 'app', 'lost', []);
  assert.deepEqual((await topics.history('app', 'lost', 0)).map((r) => r.data), ['p', 'q']);
});

test('an owner whose keeper member is not caught up with the leader (cut off from the quorum) stores nothing', async () => {
  let ready = true;
  const t = await setup(async () => null, () => ready);
  assert.equal(await t.topics.publishHere('app', 'cut', 'x'), 1);
  ready = false;
  await assert.rejects(t.topics.publishHere('app', 'cut', 'y'), (err: Error & { status?: number }) => err.status === 503 && /not caught up/.test(err.message));
  assert.deepEqual((await t.saver.readTopic('app', 'cut', 0)).map((r) => r.data), ['x']);
  ready = true;
  assert.equal(await t.topics.publishHere('app', 'cut', 'z'), 2);
});

test("a member that missed pubs is sent the topic's newest again until it gets through", async () => {
  let failing = true;
  const got: number[] = [];
  const bodies: unknown[] = [];
  const { topics, metrics } = await setup(
    async (method, body) => {
      assert.equal(method, 'pub');
      if (failing) throw new Error('member cut off');
      got.push((body as { offset: number }).offset);
      bodies.push(body);
      return null;
    },
    undefined,
    20,
  );
  assert.equal(await topics.publishHere('app', 't', 'a'), 1);
  assert.equal(await topics.publishHere('app', 't', 'b'), 2);
  for (let i = 0; i < 200 && topics.owedTo('n2') === 0; i++) await settle(5);
  assert.equal(topics.owedTo('n2'), 1, 'one topic owed');
  await settle(100);
  assert.deepEqual(got, [], 'still cut off');
  failing = false;
  for (let i = 0; i < 200 && got.length === 0; i++) await settle(5);
  assert.deepEqual(got, [2], 'the newest pub, whose prev shows the member the hole before it');
  const resent = bodies[0] as Record<string, unknown>;
  assert.deepEqual([resent.app, resent.topic, resent.offset, resent.prev, resent.data], ['app', 't', 2, 1, 'b'], 'read back from the history');
  assert.equal(topics.owedTo('n2'), 0);
  await settle(100);
  assert.deepEqual(got, [2], 'sent again only until it got through');
  const text = await metrics.registry.metrics();
  assert.match(text, /longwire_topic_pub_resends_total\{result="sent"\} 1/);
  assert.match(text, /longwire_topic_pub_resends_total\{result="failed"\} [1-9]/);
});

test("an owner sends a member a topic's pubs only while the member's interest record lists the topic, and answers a sync with the topics' newest offsets", async () => {
  const sent: string[] = [];
  const { topics, metrics } = await setup(async (method, body) => {
    if (method === 'pub') sent.push(`${(body as { topic: string }).topic}@${(body as { offset: number }).offset}`);
    return null;
  });
  const sig = topics.ringSignature();
  const [t, u] = [topicKey('app', 't'), topicKey('app', 'u')];
  await topics.publishHere('app', 't', 'a');
  await settle(50);
  assert.deepEqual(sent, ['t@1'], 'no record of n2 yet: it gets every pub');
  assert.deepEqual(await topics.interestCall('n2', { op: 'sync', sig, keys: [t, u], first: true, last: true }), [[t, 1]], 'u has no offset yet');
  await topics.publishHere('app', 't', 'b');
  assert.equal(await topics.interestCall('n2', { op: 'change', sig, add: [], remove: [u] }), true);
  await topics.publishHere('app', 'u', 'c');
  assert.equal(await topics.interestCall('n2', { op: 'change', sig, add: [], remove: [t] }), true);
  await topics.publishHere('app', 't', 'd');
  await settle(50);
  assert.deepEqual(sent, ['t@1', 't@2'], 'u and then t had no subscriber on n2');
  const text = await metrics.registry.metrics();
  for (const [kind, n] of [['interested', 1], ['unsynced', 1], ['skipped', 2]] as const) assert.ok(text.includes(`longwire_topic_pub_fanout_total{kind="${kind}"} ${n}`), `${kind}: ${n}`);
  assert.equal(await topics.interestCall('n2', { op: 'ping', sig, digest: { count: 0, x: 0, s: 0 } }), true, 'its copy is the empty list n2 has');
});
