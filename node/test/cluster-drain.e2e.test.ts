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
import { NodeProcess, type ApiResponse } from './support/node-process.js';
import { TestSocket, createApp, token, type Frame, type TestApp } from './support/ws-client.js';
import { assertApiError, eventually, obj, roundTrip } from './support/contract.js';

const IDS = ['n1', 'n2', 'n3'] as const;
const nodes = new Map<string, NodeProcess>();
const kept = new Map<string, { dataDir: string; apiPort: number; gatewayPort: number; peerPort: number }>();
let app: TestApp;

function node(id: string): NodeProcess {
  const n = nodes.get(id);
  assert.ok(n !== undefined, `node ${id} is not running`);
  return n;
}

async function start(id: string, join?: string): Promise<NodeProcess> {
  const k = kept.get(id);
  const n = await NodeProcess.start({ ...(k ?? {}), args: ['--id', id, ...(join === undefined ? [] : ['--join', join])] });
  nodes.set(id, n);
  if (k === undefined) kept.set(id, { dataDir: n.dataDir, apiPort: n.apiPort, gatewayPort: n.gatewayPort, peerPort: n.peerPort });
  return n;
}

interface View {
  leader: string | null;
  members: { id: string; role: string; healthy: boolean }[];
}

async function view(n: NodeProcess): Promise<View | undefined> {
  const r = await n.api('GET', '/v1/cluster').catch(() => undefined);
  return r?.status === 200 ? (obj(r.body) as unknown as View) : undefined;
}

async function voters(n: NodeProcess, count: number): Promise<View> {
  return eventually(async () => {
    const v = await view(n);
    return v !== undefined && v.leader !== null && v.members.filter((m) => m.role === 'voter' && m.healthy).length === count ? v : undefined;
  }, `${count} healthy voters seen by ${n.apiUrl}`, 200, 100);
}

async function ownerOf(via: NodeProcess, user: string): Promise<string> {
  const res = await fetch(`${via.gatewayUrl}/v1/dispatch?app=${app.app}&user=${user}`);
  const first = ((await res.json()) as { nodes: { id: string }[] }).nodes[0];
  assert.ok(first !== undefined);
  return first.id;
}

async function push(via: string, user: string, data: unknown): Promise<ApiResponse> {
  return node(via).api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: [user], data } });
}

async function bindOn(id: string, device: string, user: string): Promise<TestSocket> {
  const s = await TestSocket.open(node(id).wsUrl);
  await s.hello(device);
  const bound = await s.bind(app.app, await token(app.app, app.tokenSecret, user));
  assert.equal(bound.t, 'bound', JSON.stringify(bound));
  return s;
}

/** qos 1 frames up to and including seq `last`, acking each. */
async function receiveUntil(s: TestSocket, last: number): Promise<Frame[]> {
  const got: Frame[] = [];
  for (let seq = 0; seq < last; ) {
    const m = await s.next((f) => f.t === 'gap' || (f.t === 'msg' && f.qos === 1), 20_000);
    assert.equal(m.t, 'msg', `no gap expected: ${JSON.stringify(m)}`);
    got.push(m);
    seq = m.seq as number;
    s.send({ t: 'ack', app: app.app, seq });
  }
  return got;
}

/** The user's sessions are gone from the register: the closed binding's cursor write is done (it comes first). */
async function offline(via: NodeProcess, user: string): Promise<void> {
  await eventually(async () => {
    const r = await via.api('GET', `/v1/apps/${app.app}/users/${user}`, { token: app.apiKey });
    return r.status === 200 && (obj(r.body).sessions as unknown[]).length === 0 ? true : undefined;
  }, `${user} offline`);
}

before(async () => {
  const n1 = await start('n1');
  await start('n2', n1.apiUrl);
  await voters(n1, 2);
  await start('n3', n1.apiUrl);
  for (const id of IDS) await voters(node(id), 3);
  // The joins' user moves finish first: a removal during one is refused (409) by design.
  await eventually(async () => {
    const j = await n1.api('GET', '/v1/kv/sys/joining/?prefix=true');
    return j.status === 200 && (obj(j.body).kvs as unknown[]).length === 0 ? true : undefined;
  }, 'join moves finished', 200, 100);
  app = await createApp(n1, 'drain', { limits: { maxInbox: 10_000 } });
  for (const id of IDS) await eventually(async () => ((await push(id, 'warmup', 0)).status === 200 ? true : undefined), `app known on ${id}`);
});

after(async () => {
  for (const n of nodes.values()) await n.stop({ keepData: true });
  const { rm } = await import('node:fs/promises');
  for (const k of kept.values()) await rm(k.dataDir, { recursive: true, force: true });
});

test('a removal that would lose quorum is refused with 409 and drains nothing', async () => {
  const v = await voters(node('n1'), 3);
  const leader = v.leader ?? '';
  const [dead, target] = IDS.filter((id) => id !== leader);
  assert.ok(dead !== undefined && target !== undefined);
  await node(dead).kill9();
  nodes.delete(dead);
  await eventually(async () => ((await view(node(leader)))?.members.find((m) => m.id === dead)?.healthy === false ? true : undefined), `${dead} unhealthy`);
  const r = await node(target).api('DELETE', `/v1/cluster/members/${target}`);
  assertApiError(r, 409, 'conflict');
  // force skips only the drain, never the quorum check; bad query values are 400.
  assertApiError(await node(target).api('DELETE', `/v1/cluster/members/${target}?force=true&timeout=5`), 409, 'conflict');
  assertApiError(await node(target).api('DELETE', `/v1/cluster/members/${target}?force=maybe`), 400, 'invalid');
  assertApiError(await node(target).api('DELETE', `/v1/cluster/members/${target}?timeout=9999`), 400, 'invalid');
  const kv = await node(leader).api('GET', '/v1/kv/sys/draining/?prefix=true');
  assert.equal(kv.status, 200, JSON.stringify(kv.body));
  assert.deepEqual(obj(kv.body).kvs, [], 'no drain recorded');
  await start(dead);
  for (const id of IDS) await voters(node(id), 3);
});

test('removing a member hands its inboxes and cursors to the new owners while pushes go on', async () => {
  const v = await voters(node('n1'), 3);
  // A follower is drained; the call goes to the other follower (which forwards it to the leader).
  const [drained, asker] = IDS.filter((id) => id !== v.leader);
  assert.ok(drained !== undefined && asker !== undefined);
  const remaining = IDS.filter((id) => id !== drained);
  const users: string[] = [];
  for (let i = 0; users.length < 4 && i < 200; i++) if ((await ownerOf(node('n1'), `d${i}`)) === drained) users.push(`d${i}`);
  assert.equal(users.length, 4, `4 users owned by ${drained}`);

  /** Every answered push: user → seq → data. */
  const answered = new Map<string, Map<number, number>>(users.map((u) => [u, new Map()]));
  let n = 0;
  const pushOne = async (user: string): Promise<void> => {
    const data = ++n;
    const r = await push(remaining[n % 2] ?? asker, user, data).catch(() => undefined);
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
    const s = await bindOn(asker, 'dev-a', u);
    const first4 = await receiveUntil(s, 4);
    assert.deepEqual(
      first4.map((f) => f.seq),
      [1, 2, 3, 4],
    );
    await roundTrip(s);
    s.close();
    await s.closed;
    await offline(node(asker), u);
  }
  // Device c of the first user is connected to the drained node itself and acks as it goes.
  const cUser = users[0] ?? '';
  const c = await bindOn(drained, 'dev-c', cUser);
  assert.equal((await receiveUntil(c, 10)).length, 10);
  // Acked 1..10; what it is sent during the removal it does not ack.
  await roundTrip(c);

  // The pusher keeps going during the removal, and a little after it.
  let removal: ApiResponse | undefined;
  const removing = node(asker)
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
  const after2 = await voters(node(remaining[0] ?? ''), 2);
  assert.deepEqual(after2.members.map((m) => m.id).sort(), [...remaining].sort());

  // Device c was redirected off the drained node; it resumes on a remaining node from its acks.
  const closed = await c.closed;
  assert.equal(closed.code, 4009);
  assert.ok(c.frames.some((f) => f.t === 'redirect'));
  await offline(node(remaining[0] ?? ''), cUser);

  for (const u of users) {
    const seqs = [...(answered.get(u)?.keys() ?? [])].sort((a, b) => a - b);
    const last = seqs[seqs.length - 1] ?? 0;
    assert.ok(seqs.some((s) => s > 10), `${u}: pushes were answered after the first ten (seqs go on)`);
    for (const [device, from, via] of [
      ['dev-a', 5, remaining[0]],
      ['dev-b', 1, remaining[1]],
    ] as const) {
      const s = await bindOn(via ?? '', device, u);
      const got = await receiveUntil(s, last);
      assert.equal(got[0]?.seq, from, `${u}/${device} resumes at ${from}: ${JSON.stringify(got.slice(0, 2))}`);
      for (const [i, f] of got.entries()) assert.equal(f.seq, from + i, `${u}/${device}: in order, no gap, no repeat`);
      const bySeq = new Map(got.map((f) => [f.seq as number, f.data]));
      for (const [seq, data] of answered.get(u) ?? []) {
        if (seq >= from) assert.deepEqual(bySeq.get(seq), data, `${u}/${device}: answered seq ${seq} delivered with its data`);
      }
      s.close();
    }
  }
  const sc = await bindOn(remaining[1] ?? '', 'dev-c', cUser);
  const cLast = Math.max(...(answered.get(cUser)?.keys() ?? []));
  const got = await receiveUntil(sc, cLast);
  assert.equal(got[0]?.seq, 11, `dev-c resumes after its acks, with no replay of them: ${JSON.stringify(got.slice(0, 2))}`);
  for (const [i, f] of got.entries()) assert.equal(f.seq, 11 + i, 'dev-c: in order, no gap');
  sc.close();
});
