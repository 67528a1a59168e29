// A node joining a two-node cluster takes the users it now owns with their
// inboxes (issue #6, joins): users have undelivered qos 1 messages and
// partially acked devices on their owners n1 and n2; n3 joins while a pusher
// keeps pushing to them through n1 and n2. Afterwards every answered message
// reaches each device in seq order from the device's acked seq (no replay of
// acked ones, no gap), no seq was given to two messages, the seqs of users
// that moved to n3 go on past their old values, a device bound to a moved
// user's old owner is redirected (owner-moved) to n3, and the join record is
// cleared once the previous owners have handed their users over.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Member } from '../../keeper/src/keeper.js';
import { ownerOf as ringOwner } from '../src/ring.js';
import { ownerKey } from '../src/ownership.js';
import { NodeProcess } from './support/node-process.js';
import { TestCluster } from './support/test-cluster.js';
import { createApp, type TestApp } from './support/ws-client.js';
import { Answered } from './support/answered.js';
import { eventually, roundTrip, within } from './support/contract.js';

const cluster = new TestCluster();
let app: TestApp;

/** The owner a ring of these voters gives the user (ring.ts, the same function the nodes use). */
function owner(ids: readonly string[], user: string): string {
  const members = ids.map((id): Member => ({ id, role: 'voter', peer: '', api: '', gateway: '', zone: 'default' }));
  return ringOwner(members, ownerKey(app.app, user))?.id ?? '';
}

before(async () => {
  const n1 = await cluster.start('n1');
  await cluster.start('n2', n1.apiUrl);
  await cluster.voters(n1, 2, 300);
  // n2's own join moved nothing (no users yet) and is over before n3 may join.
  await eventually(async () => ((await cluster.joinRecords(n1)).length === 0 ? true : undefined), 'n2 join record cleared');
  app = await createApp(n1, 'join', { limits: { maxInbox: 10_000 } });
  cluster.app = app;
  for (const id of ['n1', 'n2']) await eventually(async () => ((await cluster.push(id, 'warmup', 0)).status === 200 ? true : undefined), `app known on ${id}`);
});

after(async () => {
  await cluster.close();
});

test('a joining node takes its users with their inboxes, cursors and seqs while pushes go on', async () => {
  // Two users moving from n1 to n3, two from n2 to n3, and two staying where they are.
  const moving: string[] = [];
  const staying: string[] = [];
  const from = new Map<string, string>();
  for (let i = 0; i < 500 && (moving.length < 4 || staying.length < 2); i++) {
    const u = `j${i}`;
    const before = owner(['n1', 'n2'], u);
    if (owner(['n1', 'n2', 'n3'], u) === 'n3') {
      if (moving.filter((x) => from.get(x) === before).length < 2) {
        moving.push(u);
        from.set(u, before);
      }
    } else if (staying.length < 2) {
      staying.push(u);
      from.set(u, before);
    }
  }
  assert.equal(moving.length, 4);
  const users = [...moving, ...staying];

  const answered = new Answered(users);
  let n = 0;
  const vias = ['n1', 'n2'];
  // Unanswered (503 during the move): the pusher goes on.
  const pushOne = async (user: string): Promise<boolean> => {
    const data = ++n;
    return cluster.pushAnswered(vias[n % vias.length] ?? 'n1', user, data, answered);
  };
  // The first ten each, repeated while unanswered (a 503 while an election runs, which a loaded machine can set off).
  for (const u of users) for (let i = 0; i < 10; i++) await eventually(async () => ((await pushOne(u)) ? true : undefined), `a push to ${u} answered`);
  for (const u of users) assert.equal(answered.of(u).size, 10);

  // Device a of each user acks 4 of 10 on its owner, then leaves.
  for (const u of users) await cluster.ackFirst(from.get(u) ?? 'n1', 'dev-a', u, 4);
  // Device c of the first moving user stays bound on its old owner and acks all ten.
  const cUser = moving[0] ?? '';
  const c = await cluster.bindOn(from.get(cUser) ?? 'n1', 'dev-c', cUser);
  assert.equal((await cluster.receiveUntil(c, 10)).length, 10);
  await roundTrip(c);

  // n3 joins while the pusher goes on; the pusher stops a little after the join record is cleared.
  let joined: NodeProcess | undefined;
  let joinErr: unknown;
  const joining = cluster.start('n3', cluster.node('n1').apiUrl).then(
    (p) => {
      joined = p;
    },
    (err: unknown) => (joinErr = err),
  );
  let cleared = false;
  let afterCleared = 0;
  const deadline = Date.now() + 90_000;
  for (let i = 0; afterCleared < 24 && joinErr === undefined && Date.now() < deadline && i < 5000; i++) {
    await pushOne(users[i % users.length] ?? '');
    if (joined !== undefined && !cleared && i % 8 === 0) cleared = (await cluster.joinRecords(cluster.node('n1'))).length === 0;
    if (cleared) afterCleared++;
  }
  await joining;
  assert.equal(joinErr, undefined, String(joinErr));
  assert.ok(cleared, 'the join record was cleared (every previous owner handed its users over)');
  for (const id of ['n1', 'n2', 'n3']) await cluster.voters(cluster.node(id), 3, 300);

  // Device c was told its owner moved, to n3 first.
  const closed = await within(c.closed, 30_000, 'dev-c closed by its owner move');
  assert.equal(closed.code, 4009);
  const redirect = c.frames.find((f) => f.t === 'redirect');
  assert.ok(redirect !== undefined, 'dev-c got a redirect');
  assert.equal(redirect.reason, 'owner-moved');
  assert.equal((redirect.nodes as { id: string }[])[0]?.id, 'n3');
  await cluster.offline(cluster.node('n3'), cUser);

  for (const u of moving) {
    const seqs = [...answered.of(u).keys()];
    assert.ok(
      seqs.some((s) => s > 10),
      `${u}: pushes were answered after the first ten, with seqs that go on (${seqs.sort((a, b) => a - b).join(',')})`,
    );
    const d = await (await fetch(`${cluster.node('n1').gatewayUrl}/v1/dispatch?app=${app.app}&user=${u}`)).json();
    assert.equal((d as { nodes: { id: string }[] }).nodes[0]?.id, 'n3', `${u} is owned by n3`);
  }
  for (const u of users) {
    await cluster.expectDelivered('n3', 'dev-a', u, 5, answered);
    await cluster.expectDelivered('n1', 'dev-b', u, 1, answered);
  }
  const sc = await cluster.bindOn('n2', 'dev-c', cUser);
  const cLast = answered.last(cUser);
  const got = await cluster.receiveUntil(sc, cLast);
  assert.equal(got[0]?.seq, 11, `dev-c resumes after its acks, with no replay of them: ${JSON.stringify(got.slice(0, 2))}`);
  for (const [i, f] of got.entries()) assert.equal(f.seq, 11 + i, 'dev-c: in order, no gap');
  sc.close();

  // The joiner counts the inboxes it took.
  const metrics = String((await cluster.node('n3').api('GET', '/metrics', { token: null })).body);
  const took = /longwire_handoff_users_total\{move="join",direction="in"\} (\d+)/.exec(metrics);
  assert.ok(took !== null && Number(took[1]) >= moving.length, `n3 took the moved inboxes: ${took?.[0] ?? 'no metric'}`);
});
