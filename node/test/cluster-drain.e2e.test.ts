// Removing a member of a three-node cluster drains it first (issue #6, item
// 6): users it owns have undelivered qos 1 messages and partially acked
// devices; it is removed through another node's API while a pusher keeps
// pushing to those users through the other nodes. Afterwards every answered
// message reaches each device bound on the remaining nodes in seq order from
// the device's acked seq (no replay of acked ones, no gap), no seq was given
// to two messages, and seqs go on; the drained node's topics keep their
// histories on their new owners. A removal that would lose quorum is
// refused with 409 before anything is drained.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, type RemovalAnswer } from './support/test-cluster.js';
import { createApp, type TestApp } from './support/ws-client.js';
import { Answered } from './support/answered.js';
import { assertApiError, eventually, obj, roundTrip, unless503, within } from './support/contract.js';
import { ownerOf } from '../src/ring.js';
import { topicKey } from '../src/ownership.js';
import type { Member } from '../../keeper/src/keeper.js';

const IDS = ['n1', 'n2', 'n3'] as const;
const cluster = new TestCluster();
let app: TestApp;

before(async () => {
  // The joins' user moves finish first: a removal during one is refused (409) by design.
  const { n1 } = await cluster.startThree();
  app = await createApp(n1, 'drain', { limits: { maxInbox: 10_000 } });
  cluster.app = app;
  for (const id of IDS) await eventually(async () => ((await cluster.push(id, 'warmup', 0)).status === 200 ? true : undefined), `app known on ${id}`);
});

after(async () => {
  await cluster.close();
});

test('a removal that would lose quorum is refused with 409 and drains nothing', async () => {
  const v = await cluster.voters(cluster.node('n1'), 3);
  const leader = v.leader ?? '';
  const [dead, target] = IDS.filter((id) => id !== leader);
  assert.ok(dead !== undefined && target !== undefined);
  await cluster.kill9(dead);
  await eventually(async () => ((await cluster.view(cluster.node(leader)))?.members.find((m) => m.id === dead)?.healthy === false ? true : undefined), `${dead} unhealthy`);
  // (The calls are forwarded to the leader: a 503 while an election runs is repeated.)
  const r = await unless503(() => cluster.node(target).api('DELETE', `/v1/cluster/members/${target}`), 'the removal');
  assertApiError(r, 409, 'conflict');
  // force skips only the drain, never the quorum check; bad query values are 400.
  assertApiError(await unless503(() => cluster.node(target).api('DELETE', `/v1/cluster/members/${target}?force=true&timeout=5`), 'the forced removal'), 409, 'conflict');
  assertApiError(await cluster.node(target).api('DELETE', `/v1/cluster/members/${target}?force=maybe`), 400, 'invalid');
  assertApiError(await cluster.node(target).api('DELETE', `/v1/cluster/members/${target}?timeout=9999`), 400, 'invalid');
  const kv = await unless503(() => cluster.node(leader).api('GET', '/v1/kv/sys/draining/?prefix=true'), 'the drain records');
  assert.equal(kv.status, 200, JSON.stringify(kv.body));
  assert.deepEqual(obj(kv.body).kvs, [], 'no drain recorded');
  await cluster.start(dead);
  for (const id of IDS) await cluster.voters(cluster.node(id), 3);
});

test('removing a member hands its inboxes and cursors to the new owners while pushes go on', async () => {
  const v = await cluster.voters(cluster.node('n1'), 3);
  // A follower is drained; the call goes to the other follower (which forwards it to the leader).
  const [drained, asker] = IDS.filter((id) => id !== v.leader);
  assert.ok(drained !== undefined && asker !== undefined);
  const remaining = IDS.filter((id) => id !== drained);
  const users: string[] = [];
  for (let i = 0; users.length < 4 && i < 200; i++) if ((await cluster.ownerOf(cluster.node('n1'), `d${i}`)) === drained) users.push(`d${i}`);
  assert.equal(users.length, 4, `4 users owned by ${drained}`);

  const answered = new Answered(users);
  let n = 0;
  // Unanswered (503 during the move): the pusher goes on.
  const pushOne = async (user: string): Promise<boolean> => {
    const data = ++n;
    return cluster.pushAnswered(remaining[n % 2] ?? asker, user, data, answered);
  };
  // The first ten each, repeated while unanswered (a 503 while an election runs, which a loaded machine can set off).
  for (const u of users) for (let i = 0; i < 10; i++) await eventually(async () => ((await pushOne(u)) ? true : undefined), `a push to ${u} answered`);
  for (const u of users) assert.equal(answered.of(u).size, 10);

  // Device a of each user acks 4 of 10 on a remaining node, then leaves.
  for (const u of users) await cluster.ackFirst(asker, 'dev-a', u, 4);
  // Device c of the first user is connected to the drained node itself and acks as it goes.
  const cUser = users[0] ?? '';
  const c = await cluster.bindOn(drained, 'dev-c', cUser);
  assert.equal((await cluster.receiveUntil(c, 10)).length, 10);
  // Acked 1..10; what it is sent during the removal it does not ack.
  await roundTrip(c);

  // Two topics the drained node owns: one is published to again during the removal, the other
  // not; both histories must be on their new owners afterwards (handed over, or pulled sooner).
  const ring = IDS.map((id): Member => ({ id, role: 'voter', peer: '', api: '', gateway: '', zone: 'default' }));
  const topics: string[] = [];
  for (let i = 0; topics.length < 2 && i < 500; i++) if (ownerOf(ring, topicKey(app.app, `room-${i}`))?.id === drained) topics.push(`room-${i}`);
  assert.equal(topics.length, 2, `2 topics owned by ${drained}`);
  const publish = async (topic: string, data: string): Promise<number> => {
    const r = await eventually(async () => {
      const a = await cluster.node(asker).api('POST', `/v1/apps/${app.app}/topics/${topic}`, { token: app.apiKey, body: { data } });
      return a.status === 200 ? a : undefined;
    }, `publish ${data} to ${topic}`);
    return Number(obj(r.body).offset);
  };
  const published = new Map<string, [number, string][]>();
  for (const t of topics) for (const d of ['a', 'b', 'c']) published.set(t, [...(published.get(t) ?? []), [await publish(t, `${t}-${d}`), `${t}-${d}`]]);

  // The pusher keeps going during the removal, and a little after it. The removal is repeated on the
  // refusals the protocol gives as passing (409 while the leader has not heard from a voter within 300 ms).
  let removal: RemovalAnswer | undefined;
  let removalErr: unknown;
  const removing = cluster.removeMember(asker, drained).then(
    (r) => (removal = r),
    (err: unknown) => (removalErr = err ?? new Error('removal failed')),
  );
  let after = 0;
  const deadline = Date.now() + 90_000;
  const busy = topics[0] ?? '';
  for (let i = 0; ((removal === undefined && removalErr === undefined) || after < 20) && Date.now() < deadline && i < 5000; i++) {
    await pushOne(users[i % users.length] ?? '');
    if (i % 10 === 0) {
      // Unanswered (503 while its owner changes) is not published: only answered ones are expected back.
      const r = await cluster.node(asker).api('POST', `/v1/apps/${app.app}/topics/${busy}`, { token: app.apiKey, body: { data: `${busy}-${i}` } });
      if (r.status === 200) published.get(busy)?.push([Number(obj(r.body).offset), `${busy}-${i}`]);
    }
    if (removal !== undefined || removalErr !== undefined) after++;
  }
  await within(removing, 60_000, 'the removal answered');
  assert.equal(removalErr, undefined, String(removalErr));
  assert.ok(removal !== undefined);
  assert.equal(removal.status, 200, `${JSON.stringify(removal.body)}; refused before: ${removal.refused.join(' | ')}`);
  const handoff = obj(obj(removal.body).handoff);
  // Inboxes the batches moved (the others were pulled sooner by the pushes and binds).
  assert.ok(typeof handoff.users === "number" && typeof handoff.messages === "number");
  const after2 = await cluster.voters(cluster.node(remaining[0] ?? ''), 2);
  assert.deepEqual(after2.members.map((m) => m.id).sort(), [...remaining].sort());

  // Device c was redirected off the drained node; it resumes on a remaining node from its acks.
  const closed = await within(c.closed, 30_000, 'dev-c closed by the drain');
  assert.equal(closed.code, 4009);
  assert.ok(c.frames.some((f) => f.t === 'redirect'));
  await cluster.offline(cluster.node(remaining[0] ?? ''), cUser);

  for (const u of users) {
    assert.ok(answered.last(u) > 10, `${u}: pushes were answered after the first ten (seqs go on)`);
    await cluster.expectDelivered(remaining[0] ?? '', 'dev-a', u, 5, answered);
    await cluster.expectDelivered(remaining[1] ?? '', 'dev-b', u, 1, answered);
  }
  // Each topic's history on its new owner holds what the drained node stored, in offset order, then what came since.
  for (const t of topics) {
    const want = [...(published.get(t) ?? [])];
    want.push([await publish(t, `${t}-after`), `${t}-after`]);
    const h = await cluster.bindOn(remaining[0] ?? '', `dev-topic-${t}`, `topic-reader-${t}`);
    h.send({ t: 'sub', app: app.app, topic: t, after: 0 });
    const got: [number, unknown][] = [];
    while (got.length < want.length) {
      const f = await h.nextOfType('pub');
      got.push([Number(f.offset), f.data]);
    }
    assert.deepEqual(got, want.sort((a, b) => a[0] - b[0]), `${t}: the whole history after the drain`);
    h.close();
  }
  const sc = await cluster.bindOn(remaining[1] ?? '', 'dev-c', cUser);
  const cLast = answered.last(cUser);
  const got = await cluster.receiveUntil(sc, cLast);
  assert.equal(got[0]?.seq, 11, `dev-c resumes after its acks, with no replay of them: ${JSON.stringify(got.slice(0, 2))}`);
  for (const [i, f] of got.entries()) assert.equal(f.seq, 11 + i, 'dev-c: in order, no gap');
  sc.close();
});
