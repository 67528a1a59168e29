// Topic interest on three real nodes: a topic's owner sends its pubs only to
// the members with subscribers of it, and none is lost on the way — a first
// subscription gets the pub published right after it, a member whose last
// subscriber left is sent no more, and an owner that restarted (no records)
// sends every member everything until they told it again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from './support/test-cluster.js';
import { TestSocket, createApp, token } from './support/ws-client.js';
import { eventually, obj, roundTrip, unless503 } from './support/contract.js';
import { metricValue } from './support/peer-probe.js';
import { ownerOf } from '../src/ring.js';
import { topicKey } from '../src/ownership.js';
import type { Member } from '../../keeper/src/keeper.js';

const cluster = new TestCluster();
after(async () => {
  await cluster.close();
});

const voter = (id: string): Member => ({ id, role: 'voter', peer: '', api: '', gateway: '', zone: 'default' });

type Fanout = Record<'interested' | 'unsynced' | 'skipped', number>;

test('a topic pub goes only to members with subscribers of it, none lost when one subscribes, leaves, or the owner restarts', async () => {
  const { n1, view } = await cluster.startThree();
  const ids = ['n1', 'n2', 'n3'];
  // The owner is not the keeper's leader: its restart then needs no election.
  const ownerId = ids.find((id) => id !== view.leader) ?? 'n1';
  const [aId = '', bId = ''] = ids.filter((id) => id !== ownerId);
  const app = await createApp(n1, 'interest');
  const voters = ids.map(voter);
  const ownedTopic = (prefix: string): string => {
    for (let i = 0; ; i++) if (ownerOf(voters, topicKey(app.app, `${prefix}-${i}`))?.id === ownerId) return `${prefix}-${i}`;
  };
  const topic = ownedTopic('t');
  const probe = ownedTopic('probe');

  const fanout = async (): Promise<Fanout> => {
    const owner = cluster.node(ownerId);
    const text = await (await owner.fetch(`${owner.apiUrl}/metrics`)).text();
    const of = (kind: string): number => metricValue(text, `longwire_topic_pub_fanout_total{kind="${kind}"}`);
    return { interested: of('interested'), unsynced: of('unsynced'), skipped: of('skipped') };
  };
  /** Publishes through `via` (forwarded to the owner); answers the offset and how the owner's fan-out counters moved. */
  const publish = async (t: string, data: number, via = ownerId): Promise<{ offset: number; moved: Fanout }> => {
    const before = await fanout();
    const a = await unless503(() => cluster.node(via).api('POST', `/v1/apps/${app.app}/topics/${t}`, { token: app.apiKey, body: { data } }), `publish ${data}`);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const after = await fanout();
    return { offset: Number(obj(a.body).offset), moved: { interested: after.interested - before.interested, unsynced: after.unsynced - before.unsynced, skipped: after.skipped - before.skipped } };
  };
  /** Until a pub on a topic nobody subscribed to goes to no member: both others synced (one round, 2 s). */
  const synced = (): Promise<void> =>
    eventually(async () => ((await publish(probe, 0)).moved.skipped === 2 ? true : undefined), 'the owner to have both members’ interest', undefined, 250).then(() => undefined);
  const subscribe = async (nodeId: string, user: string, after?: number): Promise<TestSocket> => {
    const s = await TestSocket.open(cluster.node(nodeId).wsUrl, 'json');
    await s.hello(`${user}-device`);
    await s.bind(app.app, await token(app.app, app.tokenSecret, user));
    s.send({ t: 'sub', app: app.app, topic, ...(after === undefined ? {} : { after }) });
    await roundTrip(s);
    return s;
  };
  const offsetsOf = async (s: TestSocket, upTo: number): Promise<number[]> => {
    const got: number[] = [];
    while ((got[got.length - 1] ?? 0) < upTo) got.push(Number((await s.nextOfType('pub')).offset));
    return got;
  };

  await synced();
  // A first subscriber on a: the very next pub reaches it; b, with none, is not sent it.
  const onA = await subscribe(aId, 'reader-a');
  const first = await publish(topic, 1, bId);
  assert.deepEqual(first.moved, { interested: 1, unsynced: 0, skipped: 1 }, `${aId} has a subscriber, ${bId} none`);
  const answered = [first.offset];
  for (let d = 2; d <= 10; d++) answered.push((await publish(topic, d)).offset);
  assert.deepEqual(await offsetsOf(onA, answered[answered.length - 1] ?? 0), answered);

  // A subscriber on b with `after`: the history, then the live pubs; both members are sent them now.
  const onB = await subscribe(bId, 'reader-b', 0);
  const both = await publish(topic, 11);
  assert.deepEqual(both.moved, { interested: 2, unsynced: 0, skipped: 0 });
  answered.push(both.offset);
  assert.deepEqual(await offsetsOf(onB, both.offset), answered);
  assert.deepEqual(await offsetsOf(onA, both.offset), [both.offset]);

  // a's last subscriber leaves: within a round a is sent no more.
  onA.close();
  await eventually(
    async () => {
      const p = await publish(topic, 12);
      answered.push(p.offset);
      return p.moved.skipped === 1 && p.moved.interested === 1 ? true : undefined;
    },
    `${aId} dropped from the topic's audience`,
    undefined,
    250,
  );

  // The owner restarts with no records: it sends both members everything until they synced again; b's subscriber misses nothing.
  await cluster.stop(ownerId);
  await cluster.start(ownerId);
  await cluster.voters(cluster.node(ownerId), 3);
  const restarted = await publish(topic, 13);
  answered.push(restarted.offset);
  await synced();
  const later = await publish(topic, 14);
  assert.deepEqual(later.moved, { interested: 1, unsynced: 0, skipped: 1 }, 'synced again: only b');
  answered.push(later.offset);
  const got = await offsetsOf(onB, later.offset);
  assert.deepEqual([...new Set([...answered.slice(0, 11), ...got])], answered, `b's subscriber got every answered pub in order: ${got.join(', ')}`);
  onB.close();
});
