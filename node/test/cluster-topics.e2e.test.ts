// A topic's offsets keep growing when its owner changes: a join hands the
// topic to the new node, which must not start again at 1 (a subscriber, and
// the client SDK, would take those offsets for ones already seen), and a
// restarted owner goes on above what it handed out before. Its history moves
// with it: a subscriber resuming with `after` gets what the old owner stored.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from './support/test-cluster.js';
import { TestSocket, createApp, token } from './support/ws-client.js';
import { eventually, obj, roundTrip } from './support/contract.js';
import { metricValue } from './support/peer-probe.js';
import { ownerOf } from '../src/ring.js';
import { ownerKey } from '../src/ownership.js';
import type { Member } from '../../keeper/src/keeper.js';

const cluster = new TestCluster();
after(async () => {
  await cluster.close();
});

const voter = (id: string): Member => ({ id, role: 'voter', peer: '', api: '', gateway: '', zone: 'default' });

const ownerAfterJoin = (key: string): string | undefined => ownerOf([voter('n1'), voter('n2')], key)?.id;

/** A topic that n1 owns alone and n2 owns once it joined. */
function movingTopic(app: string): string {
  for (let i = 0; ; i++) if (ownerAfterJoin(`${app}\u0000news-${i}\u0000topic`) === 'n2') return `news-${i}`;
}

/** A user n1 keeps after the join: its subscriber's connection is not redirected. */
function stayingUser(app: string, prefix: string): string {
  for (let i = 0; ; i++) if (ownerAfterJoin(ownerKey(app, `${prefix}-${i}`)) === 'n1') return `${prefix}-${i}`;
}

test("a topic's offsets keep growing and its history moves with it across a join, publishes going on, and a restart of the owner", async () => {
  const n1 = await cluster.start('n1');
  const app = await createApp(n1, 'topics');
  const topic = movingTopic(app.app);
  const s = await TestSocket.open(n1.wsUrl, 'json');
  await s.hello('topic-device');
  await s.bind(app.app, await token(app.app, app.tokenSecret, stayingUser(app.app, 'reader')));
  s.send({ t: 'sub', app: app.app, topic });
  await roundTrip(s);
  const publishOnce = async (data: number): Promise<number | undefined> => {
    const a = await cluster.node('n1').api('POST', `/v1/apps/${app.app}/topics/${topic}`, { token: app.apiKey, body: { data } });
    return a.status === 200 ? Number(obj(a.body).offset) : undefined;
  };
  /** Answered publishes in the order they were answered (one at a time), as [offset, data]. */
  const answered: [number, number][] = [];
  const publish = async (data: number): Promise<number> => {
    // Through n1 each time: after the join it forwards to the owner, n2 (a 503 while the join settles is repeated).
    const offset = await eventually(async () => publishOnce(data), `publish ${data}`);
    answered.push([offset, data]);
    return offset;
  };

  const offsets = [await publish(1), await publish(2), await publish(3)];
  assert.deepEqual(offsets, [1, 2, 3], 'a new topic starts at 1 and is consecutive on one owner');

  // Publishes go on, one at a time, while n2 joins and takes the topic over (a refused one is not repeated).
  let joined = false;
  const during = (async () => {
    for (let i = 0; !joined && i < 60; i++) {
      const offset = await publishOnce(100 + i);
      if (offset !== undefined) answered.push([offset, 100 + i]);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  await cluster.start('n2', n1.apiUrl);
  await cluster.voters(n1, 2);
  await cluster.joinsFinished(n1);
  joined = true;
  await during;
  const moved = [await publish(4), await publish(5)];
  const n2 = cluster.node('n2');
  const inN2 = metricValue(await (await n2.fetch(`${n2.apiUrl}/metrics`)).text(), 'longwire_topic_history_records_in_total{move="join"}');
  assert.ok(inN2 >= 3, `n2 took n1's records (pulled or in the join's batches): ${inN2}`);
  await cluster.stop('n2');
  await cluster.start('n2');
  await cluster.voters(n1, 2);
  const restarted = await publish(6);
  for (let i = 1; i < answered.length; i++) assert.ok((answered[i]?.[0] ?? 0) > (answered[i - 1]?.[0] ?? 0), `offsets must grow in answer order: ${JSON.stringify(answered)}`);
  assert.equal(moved[1], (moved[0] ?? 0) + 1, 'consecutive again on the new owner');
  assert.ok(restarted > (moved[1] ?? 0));

  // The subscriber on n1 saw every answered publish once, and offsets only grew (a publish whose
  // answer was lost may have been stored too: it may be there, in its place).
  const want = answered.map(([o]) => o);
  const last = want[want.length - 1] ?? 0;
  const got: number[] = [];
  while ((got[got.length - 1] ?? 0) < last) got.push(Number((await s.nextOfType('pub')).offset));
  for (let i = 1; i < got.length; i++) assert.ok((got[i] ?? 0) > (got[i - 1] ?? 0), `the subscriber's offsets must grow: ${got.join(', ')}`);
  assert.deepEqual(got.filter((o) => want.includes(o)), want, 'every answered publish reached the subscriber');
  // History comes from the owner (n2, asked by n1), and moved with the topic:
  // what n1 stored before and during the join is there too, after n2's restart as well.
  const late = await TestSocket.open(n1.wsUrl, 'json');
  await late.hello('late-device');
  await late.bind(app.app, await token(app.app, app.tokenSecret, stayingUser(app.app, 'late')));
  late.send({ t: 'sub', app: app.app, topic, after: 0 });
  const history: [number, unknown][] = [];
  while ((history[history.length - 1]?.[0] ?? 0) < last) {
    const f = await late.nextOfType('pub');
    history.push([Number(f.offset), f.data]);
  }
  assert.deepEqual(history.filter(([o]) => want.includes(o)), answered);
  // With its owner down, a sub with `after` is refused, naming the topic (the SDK asks for it again later).
  await cluster.stop('n2');
  late.send({ t: 'sub', app: app.app, topic, after: 0 });
  const refused = await late.nextOfType('error');
  assert.deepEqual([refused.code, refused.app, refused.topic], ['owner-unavailable', app.app, topic]);
  s.close();
  late.close();
});
