// A previous owner killed (kill -9) in the middle of a join's user move, then
// restarted on its data dir (docs/OPERATIONS.md: either side crashing leaves
// the join record in place; the joiner asks again and the previous owner
// starts its hand-over again). Users moving from it to the joiner have qos 1
// messages, some partially acked, and a paced pusher goes on through the
// leader the whole time. Two kill points: as soon as the joiner is a voter
// (usually before the hand-over), and once the joiner holds a first moved
// inbox (pulled by a push, or the previous owner's batch: then some or all
// are moved); the diagnostic line says how many the joiner held; each case
// must lose nothing. Afterwards every answered message reaches
// each device in seq order from its acked seq (no replay, no gap), no seq was
// given twice, and seqs go on past the old ones.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Member } from '../../keeper/src/keeper.js';
import { ownerOf as ringOwner } from '../src/ring.js';
import { ownerKey } from '../src/ownership.js';
import { NodeProcess } from './support/node-process.js';
import { TestCluster } from './support/test-cluster.js';
import { createApp, type TestApp } from './support/ws-client.js';
import { Answered } from './support/answered.js';
import { BackgroundPushes } from './support/background-pushes.js';
import { eventually } from './support/contract.js';

/** The owner a ring of these voters gives the user (ring.ts, the same function the nodes use). */
function owner(app: TestApp, ids: readonly string[], user: string): string {
  const members = ids.map((id): Member => ({ id, role: 'voter', peer: '', api: '', gateway: '', zone: 'default' }));
  return ringOwner(members, ownerKey(app.app, user))?.id ?? '';
}

/** longwire_handoff_users_total{move="join",direction="in"} on a node (0 before the first). */
async function joinedIn(n: NodeProcess): Promise<number> {
  const r = await n.api('GET', '/metrics', { token: null });
  const m = /longwire_handoff_users_total\{move="join",direction="in"\} (\d+)/.exec(String(r.body));
  return m === null ? 0 : Number(m[1]);
}

/** When the previous owner is killed: as soon as the joiner is a voter, or once the joiner holds a first moved inbox. */
type KillPoint = 'voter' | 'first-inbox';

async function scenario(t: TestContext, killAt: KillPoint): Promise<void> {
  const cluster = new TestCluster();
  try {
    await crashMidJoin(t, cluster, killAt);
  } finally {
    await cluster.close();
  }
}

test('a previous owner killed as soon as the joiner is a voter, restarted on its data dir: the joiner gets every answered message', async (t) => {
  await scenario(t, 'voter');
});

test('a previous owner killed once the joiner holds a first moved inbox, restarted on its data dir: the joiner gets every answered message', async (t) => {
  await scenario(t, 'first-inbox');
});

async function crashMidJoin(t: TestContext, cluster: TestCluster, killAt: KillPoint): Promise<void> {
  const n1 = await cluster.start('n1');
  await cluster.start('n2', n1.apiUrl);
  await cluster.voters(n1, 2, 300);
  await cluster.joinsFinished(n1);
  const app = await createApp(n1, 'join-crash', { limits: { maxInbox: 10_000 } });
  cluster.app = app;
  for (const id of ['n1', 'n2']) await eventually(async () => ((await cluster.push(id, 'warmup', 0)).status === 200 ? true : undefined), `app known on ${id}`);
  const v = await cluster.voters(cluster.node('n1'), 2, 300);
  const leader = v.leader;
  assert.ok(leader !== null, 'a leader');
  const victim = leader === 'n1' ? 'n2' : 'n1';
  // Six users moving from the follower (killed later) to n3.
  const users: string[] = [];
  for (let i = 0; users.length < 6 && i < 1000; i++) {
    const u = `c${i}`;
    if (owner(app, ['n1', 'n2'], u) === victim && owner(app, ['n1', 'n2', 'n3'], u) === 'n3') users.push(u);
  }
  assert.equal(users.length, 6, `6 users moving from ${victim} to n3`);

  const answered = new Answered(users);
  let n = 0;
  // Unanswered (503 while an inbox is on its way or its holder is down): false, and the pusher goes on.
  const pushOne = (user: string): Promise<boolean> => cluster.pushAnswered(leader, user, ++n, answered);
  // The first eight each, repeated while unanswered (a 503 while an election runs, which a loaded machine can set off).
  for (const u of users) for (let i = 0; i < 8; i++) await eventually(async () => ((await pushOne(u)) ? true : undefined), `a push to ${u} answered`);
  for (const u of users) assert.equal(answered.of(u).size, 8);

  // Device a of half the users acks 3 of 8 on their owner, then leaves.
  const partly = users.slice(0, 3);
  for (const u of partly) await cluster.ackFirst(victim, 'dev-a', u, 3);
  const oldMax = new Map(users.map((u) => [u, answered.last(u)]));

  // The pusher goes on through the leader until the move is over (stopped by close() on a failure).
  const pusher = cluster.stopOnClose(new BackgroundPushes(pushOne, users));

  // n3 joins (not awaited; close() waits for it on a failure); the previous owner is killed at the kill point.
  let joinErr: unknown;
  const joining = cluster.start('n3', cluster.node(leader).apiUrl).catch((err: unknown) => (joinErr = err));
  await eventually(
    async () => {
      if (joinErr !== undefined) throw new Error(`the join failed: ${String(joinErr)}`);
      const view = await cluster.view(cluster.node(leader));
      return view?.members.some((m) => m.id === 'n3' && m.role === 'voter') === true ? true : undefined;
    },
    'n3 a voter',
    3000,
    10,
  );
  if (killAt === 'first-inbox') {
    // n3's API (its address as the cluster lists it) answers once it is up; its count of inboxes taken moves with
    // the first pull (a push routed to it) or the previous owner's batch, whichever comes first.
    const view = await cluster.view(cluster.node(leader));
    const n3Api = (view?.members as { id: string; api?: string }[] | undefined)?.find((m) => m.id === 'n3')?.api;
    assert.ok(n3Api !== undefined, 'n3 listed with its API address');
    await eventually(
      async () => {
        const r = await fetch(`http://${n3Api}/metrics`).catch(() => undefined);
        const m = r?.ok === true ? /longwire_handoff_users_total\{move="join",direction="in"\} (\d+)/.exec(await r.text()) : null;
        return m !== null && Number(m[1]) >= 1 ? true : undefined;
      },
      'n3 holds a first moved inbox',
      3000,
      10,
    );
  }
  await cluster.kill9(victim);
  await joining;
  assert.equal(joinErr, undefined, String(joinErr));
  const tookAtKill = await joinedIn(cluster.node('n3'));

  // Restarted on its data dir, the previous owner hands over what is left; the joiner clears the record.
  await cluster.start(victim);
  await cluster.joinsFinished(cluster.node(leader));
  await pusher.stop();
  for (const id of ['n1', 'n2', 'n3']) await cluster.voters(cluster.node(id), 3, 300);
  const tookAfter = await joinedIn(cluster.node('n3'));
  t.diagnostic(`inboxes n3 had taken from ${victim}: ${tookAtKill} when n3 was up after the kill, ${tookAfter} at the end; ${pusher.pushes} pushes during the join (${pusher.unanswered} unanswered)`);

  for (const u of users) {
    // A push after the move: its seq goes on past every answered one.
    const before = answered.last(u);
    // (Repeated while unanswered, as above.)
    await eventually(async () => ((await pushOne(u)) ? true : undefined), `${u}: a push after the move answered`);
    const last = answered.last(u);
    assert.ok(last > before && last > (oldMax.get(u) ?? 0), `${u}: seqs go on (${before} -> ${last})`);
    const d = await (await fetch(`${cluster.node(leader).gatewayUrl}/v1/dispatch?app=${app.app}&user=${u}`)).json();
    assert.equal((d as { nodes: { id: string }[] }).nodes[0]?.id, 'n3', `${u} is owned by n3`);
    const acked = partly.includes(u) ? 3 : 0;
    await cluster.expectDelivered('n3', 'dev-a', u, acked + 1, answered);
    await cluster.expectDelivered(leader, 'dev-b', u, 1, answered);
  }
}
