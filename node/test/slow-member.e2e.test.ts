// A member that does not answer (SIGSTOP: its connections stay open, so a call
// to it waits for the peer link's 10 s timeout) must not hold up publishers: a
// topic publish is answered once the owner stored it (the stopped member's
// subscribers get the pubs once it runs again), a qos 0 push waits for a
// holding node's count for at most 2 s, and a push to a user it owns fails
// once the peer link's probe goes unanswered, well before the call deadline.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from './support/test-cluster.js';
import { TestSocket, createApp, token } from './support/ws-client.js';
import { eventually, obj, roundTrip } from './support/contract.js';
import { ownerOf } from '../src/ring.js';
import { ownerKey, topicKey } from '../src/ownership.js';
import type { Member } from '../../keeper/src/keeper.js';

const cluster = new TestCluster();
let stopped: number | undefined;
after(async () => {
  if (stopped !== undefined) process.kill(stopped, 'SIGCONT');
  await cluster.close();
});

const voter = (id: string): Member => ({ id, role: 'voter', peer: '', api: '', gateway: '', zone: 'default' });

/** Well below the peer link's call timeout (10 s), which a publish waiting on the stopped member would take. */
const ANSWER_MS = 5000;

test('a member that does not answer holds up no topic publish and no qos 0 push; its subscriber gets the pubs once it runs again', async () => {
  const { n1, view } = await cluster.startThree();
  const ids = ['n1', 'n2', 'n3'];
  // The stopped member is not the keeper's leader (the others keep a ready quorum without an election) nor the owner.
  const slowId = ids.find((id) => id !== view.leader) ?? 'n3';
  const ownerId = ids.find((id) => id !== slowId) ?? 'n1';
  const app = await createApp(n1, 'slow-member');
  const voters = ids.map(voter);
  let n = 0;
  while (ownerOf(voters, topicKey(app.app, `t-${n}`))?.id !== ownerId) n++;
  const topic = `t-${n}`;

  const subscribe = async (nodeId: string, user: string): Promise<TestSocket> => {
    const s = await TestSocket.open(cluster.node(nodeId).wsUrl, 'json');
    await s.hello(`${user}-device`);
    await s.bind(app.app, await token(app.app, app.tokenSecret, user));
    s.send({ t: 'sub', app: app.app, topic });
    await roundTrip(s);
    return s;
  };
  let u = 0;
  while (ownerOf(voters, ownerKey(app.app, `u-${u}`))?.id !== ownerId) u++;
  const user = `u-${u}`;
  const near = await subscribe(ownerId, user);
  const far = await subscribe(slowId, user);
  const owner = cluster.node(ownerId);
  /** Resolves with the answer, or 'late' once ANSWER_MS passed. */
  const inTime = <T>(answer: Promise<T>): Promise<T | 'late'> => Promise.race([answer, new Promise<'late'>((r) => setTimeout(() => r('late'), ANSWER_MS).unref())]);
  const publish = async (data: number): Promise<number> => {
    // A 503 `not-ready` (the keeper's leader changed just then) is repeated, as a client would.
    for (let attempt = 1; ; attempt++) {
      const a = await owner.api('POST', `/v1/apps/${app.app}/topics/${topic}`, { token: app.apiKey, body: { data } });
      if (a.status === 503 && (obj(a.body).error as { code?: string } | undefined)?.code === 'not-ready' && attempt < 40) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      assert.equal(a.status, 200, JSON.stringify(a.body));
      return Number(obj(a.body).offset);
    }
  };
  assert.equal(await publish(0), 1);
  assert.equal(Number((await far.nextOfType('pub')).offset), 1, 'the member gets pubs while it runs');

  stopped = cluster.node(slowId).pid;
  process.kill(stopped, 'SIGSTOP');
  const offsets: number[] = [];
  for (let data = 1; data <= 3; data++) {
    const answer = await inTime(publish(data));
    assert.notEqual(answer, 'late', `publish ${data} was not answered within ${ANSWER_MS} ms while ${slowId} is stopped`);
    offsets.push(answer as number);
  }
  assert.deepEqual(offsets, [2, 3, 4]);
  for (const o of [1, 2, 3, 4]) assert.equal(Number((await near.nextOfType('pub')).offset), o, 'the owner wrote each pub to its own subscriber at once');
  // The user is connected on the owner and on the stopped member: the push counts the owner's connection only.
  const flash = await inTime(owner.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: [user], data: 'flash', qos: 0 } }));
  assert.notEqual(flash, 'late', `a qos 0 push was not answered within ${ANSWER_MS} ms while ${slowId} is stopped`);
  if (flash === 'late') return;
  assert.equal(flash.status, 200, JSON.stringify(flash.body));
  assert.deepEqual(obj(flash.body).results, [{ user, delivered: 1 }]);
  assert.equal((await near.next((f) => f.t === 'msg' && f.qos === 0)).data, 'flash');
  // A push to a user the stopped member owns fails (503) once the link's probe, or a dial, got no answer: about 3 s, not the 10 s call deadline.
  let v = 0;
  while (ownerOf(voters, ownerKey(app.app, `v-${v}`))?.id !== slowId) v++;
  const stuck = await inTime(owner.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: [`v-${v}`], data: 'stuck', qos: 1 } }));
  assert.notEqual(stuck, 'late', `a push to a user of the stopped ${slowId} was not answered within ${ANSWER_MS} ms`);
  if (stuck === 'late') return;
  assert.equal(stuck.status, 503, JSON.stringify(stuck.body));
  assert.equal((obj(stuck.body).error as { code?: string } | undefined)?.code, 'peer-unavailable');

  process.kill(stopped, 'SIGCONT');
  stopped = undefined;
  for (const o of [2, 3, 4]) assert.equal(Number((await far.nextOfType('pub', 15_000)).offset), o, 'the pubs reach the member once it runs again');
  near.close();
  far.close();
});
