// Removing a member of a three-node cluster drains it first (issue #6, item
// 6): users it owns have undelivered qos 1 messages and partially acked
// devices; it is removed through another node's API while a pusher keeps
// pushing to those users through the other nodes. Afterwards every answered
// message reaches each device bound on the remaining nodes in seq order from
// the device's acked seq (no replay of acked ones, no gap), no seq was given
// to two messages, and seqs go on. A removal that would lose quorum is
// refused with 409 before anything is drained.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { type ApiResponse } from './support/node-process.js';
import { TestCluster } from './support/test-cluster.js';
import { createApp, type TestApp } from './support/ws-client.js';
import { assertApiError, eventually, obj, roundTrip } from './support/contract.js';

const IDS = ['n1', 'n2', 'n3'] as const;
const cluster = new TestCluster();
let app: TestApp;

before(async () => {
  const n1 = await cluster.start('n1');
  await cluster.start('n2', n1.apiUrl);
  await cluster.voters(n1, 2);
  await cluster.start('n3', n1.apiUrl);
  for (const id of IDS) await cluster.voters(cluster.node(id), 3);
  // The joins' user moves finish first: a removal during one is refused (409) by design.
  await cluster.joinsFinished(n1);
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
  const r = await cluster.node(target).api('DELETE', `/v1/cluster/members/${target}`);
  assertApiError(r, 409, 'conflict');
  // force skips only the drain, never the quorum check; bad query values are 400.
  assertApiError(await cluster.node(target).api('DELETE', `/v1/cluster/members/${target}?force=true&timeout=5`), 409, 'conflict');
  assertApiError(await cluster.node(target).api('DELETE', `/v1/cluster/members/${target}?force=maybe`), 400, 'invalid');
  assertApiError(await cluster.node(target).api('DELETE', `/v1/cluster/members/${target}?timeout=9999`), 400, 'invalid');
  const kv = await cluster.node(leader).api('GET', '/v1/kv/sys/draining/?prefix=true');
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

  /** Every answered push: user → seq → data. */
  const answered = new Map<string, Map<number, number>>(users.map((u) => [u, new Map()]));
  let n = 0;
  const pushOne = async (user: string): Promise<void> => {
    const data = ++n;
    const r = await cluster.push(remaining[n % 2] ?? asker, user, data).catch(() => undefined);
    if (r?.status !== 200) return; // unanswered (503 during the move): the pusher goes on
    const seq = (obj(r.body).results as { seq: number }[])[0]?.seq;
    assert.ok(typeof seq === 'number');
    const prev = answered.get(user)?.get(seq);
    assert.equal(prev, undefined, `seq ${seq} of ${user} answered twice (${prev} and ${data})`);
    answered.get(user)?.set(seq, data);
  };
  for (const u of users) for (let i = 0; i < 10; i++) await pushOne(u);
  for (const u of users) assert.equal(answered.get(u)?.size, 10);

  // Device a of each user acks 4 of 10 on a remaining node, then leaves.
  for (const u of users) {
    const s = await cluster.bindOn(asker, 'dev-a', u);
    const first4 = await cluster.receiveUntil(s, 4);
    assert.deepEqual(
      first4.map((f) => f.seq),
      [1, 2, 3, 4],
    );
    await roundTrip(s);
    s.close();
    await s.closed;
    await cluster.offline(cluster.node(asker), u);
  }
  // Device c of the first user is connected to the drained node itself and acks as it goes.
  const cUser = users[0] ?? '';
  const c = await cluster.bindOn(drained, 'dev-c', cUser);
  assert.equal((await cluster.receiveUntil(c, 10)).length, 10);
  // Acked 1..10; what it is sent during the removal it does not ack.
  await roundTrip(c);

  // The pusher keeps going during the removal, and a little after it.
  let removal: ApiResponse | undefined;
  const removing = cluster.node(asker)
    .api('DELETE', `/v1/cluster/members/${drained}`)
    .then((r) => (removal = r));
  let after = 0;
  const deadline = Date.now() + 90_000;
  for (let i = 0; (removal === undefined || after < 20) && Date.now() < deadline && i < 5000; i++) {
    await pushOne(users[i % users.length] ?? '');
    if (removal !== undefined) after++;
  }
  await removing;
  assert.ok(removal !== undefined);
  assert.equal(removal.status, 200, JSON.stringify(removal.body));
  const handoff = obj(obj(removal.body).handoff);
  // Inboxes the batches moved (the others were pulled sooner by the pushes and binds).
  assert.ok(typeof handoff.users === "number" && typeof handoff.messages === "number");
  const after2 = await cluster.voters(cluster.node(remaining[0] ?? ''), 2);
  assert.deepEqual(after2.members.map((m) => m.id).sort(), [...remaining].sort());

  // Device c was redirected off the drained node; it resumes on a remaining node from its acks.
  const closed = await c.closed;
  assert.equal(closed.code, 4009);
  assert.ok(c.frames.some((f) => f.t === 'redirect'));
  await cluster.offline(cluster.node(remaining[0] ?? ''), cUser);

  for (const u of users) {
    const seqs = [...(answered.get(u)?.keys() ?? [])].sort((a, b) => a - b);
    const last = seqs[seqs.length - 1] ?? 0;
    assert.ok(seqs.some((s) => s > 10), `${u}: pushes were answered after the first ten (seqs go on)`);
    for (const [device, from, via] of [
      ['dev-a', 5, remaining[0]],
      ['dev-b', 1, remaining[1]],
    ] as const) {
      const s = await cluster.bindOn(via ?? '', device, u);
      const got = await cluster.receiveUntil(s, last);
      assert.equal(got[0]?.seq, from, `${u}/${device} resumes at ${from}: ${JSON.stringify(got.slice(0, 2))}`);
      for (const [i, f] of got.entries()) assert.equal(f.seq, from + i, `${u}/${device}: in order, no gap, no repeat`);
      const bySeq = new Map(got.map((f) => [f.seq as number, f.data]));
      for (const [seq, data] of answered.get(u) ?? []) {
        if (seq >= from) assert.deepEqual(bySeq.get(seq), data, `${u}/${device}: answered seq ${seq} delivered with its data`);
      }
      s.close();
    }
  }
  const sc = await cluster.bindOn(remaining[1] ?? '', 'dev-c', cUser);
  const cLast = Math.max(...(answered.get(cUser)?.keys() ?? []));
  const got = await cluster.receiveUntil(sc, cLast);
  assert.equal(got[0]?.seq, 11, `dev-c resumes after its acks, with no replay of them: ${JSON.stringify(got.slice(0, 2))}`);
  for (const [i, f] of got.entries()) assert.equal(f.seq, 11 + i, 'dev-c: in order, no gap');
  sc.close();
});
