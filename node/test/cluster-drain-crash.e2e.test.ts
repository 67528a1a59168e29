// A member killed (kill -9) in the middle of its removal's drain, restarted on
// its data dir, and removed by repeating the call (docs/OPERATIONS.md: "If it
// crashes mid-drain, restart it from its data dir and repeat the call"). Users
// it owns have qos 1 messages, some partially acked by a device on another
// node, and a paced pusher goes on through the other nodes the whole time.
// The member is killed as soon as its drain is recorded; by then the new owners
// have taken none, some or all of its inboxes (by the drain or pulled by a
// push), and the diagnostic line says which: each case must lose nothing.
// Afterwards every answered message reaches each device bound on the remaining
// nodes in seq order from the device's acked seq (no replay of acked ones, no
// gap), no seq was given to two messages, and seqs go on past the old ones.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NodeProcess, type ApiResponse } from './support/node-process.js';
import { TestSocket, createApp, token, type Frame, type TestApp } from './support/ws-client.js';
import { eventually, obj, roundTrip } from './support/contract.js';

const IDS = ['n1', 'n2', 'n3'] as const;
const nodes = new Map<string, NodeProcess>();
const kept = new Map<string, { dataDir: string; apiPort: number; gatewayPort: number; peerPort: number }>();
let app: TestApp;

function node(id: string): NodeProcess {
  const n = nodes.get(id);
  assert.ok(n !== undefined, `node ${id} is not running`);
  return n;
}

/** Starts a node, on its kept data dir and ports when it ran before. */
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

async function voters(n: NodeProcess, count: number): Promise<View> {
  return eventually(async () => {
    const r = await n.api('GET', '/v1/cluster').catch(() => undefined);
    const v = r?.status === 200 ? (obj(r.body) as unknown as View) : undefined;
    return v !== undefined && v.leader !== null && v.members.filter((m) => m.role === 'voter' && m.healthy).length === count ? v : undefined;
  }, `${count} healthy voters seen by ${n.apiUrl}`, 200, 100);
}

async function ownerOf(via: NodeProcess, user: string): Promise<string> {
  const res = await fetch(`${via.gatewayUrl}/v1/dispatch?app=${app.app}&user=${user}`);
  const first = ((await res.json()) as { nodes: { id: string }[] }).nodes[0];
  assert.ok(first !== undefined);
  return first.id;
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

async function offline(via: NodeProcess, user: string): Promise<void> {
  await eventually(async () => {
    const r = await via.api('GET', `/v1/apps/${app.app}/users/${user}`, { token: app.apiKey });
    return r.status === 200 && (obj(r.body).sessions as unknown[]).length === 0 ? true : undefined;
  }, `${user} offline`);
}

/** longwire_handoff_users_total{move="drain",direction="in"} on a node (0 before the first). */
async function handedIn(n: NodeProcess): Promise<number> {
  const r = await n.api('GET', '/metrics', { token: null });
  const line = String(r.body)
    .split('\n')
    .find((l) => l.startsWith('longwire_handoff_users_total{') && l.includes('move="drain"') && l.includes('direction="in"'));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

before(async () => {
  const n1 = await start('n1');
  await start('n2', n1.apiUrl);
  await voters(n1, 2);
  await start('n3', n1.apiUrl);
  for (const id of IDS) await voters(node(id), 3);
  // A removal is refused (409) while a joiner's users are still moved to it.
  await eventually(async () => {
    const r = await n1.api('GET', '/v1/kv/sys/joining/?prefix=true');
    return r.status === 200 && (obj(r.body).kvs as unknown[]).length === 0 ? true : undefined;
  }, 'joins finished', 200, 100);
  app = await createApp(n1, 'drain-crash', { limits: { maxInbox: 10_000 } });
  for (const id of IDS) {
    await eventually(async () => {
      const r = await node(id).api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: ['warmup'], data: 0 } });
      return r.status === 200 ? true : undefined;
    }, `app known on ${id}`);
  }
});

after(async () => {
  for (const n of nodes.values()) await n.stop({ keepData: true });
  const { rm } = await import('node:fs/promises');
  for (const k of kept.values()) await rm(k.dataDir, { recursive: true, force: true });
});

test('a member killed mid-drain, restarted on its data dir and removed again loses no answered message', async (t) => {
  const v = await voters(node('n1'), 3);
  // A follower is drained (the leader stays put); the call goes to the other follower.
  const [drained, asker] = IDS.filter((id) => id !== v.leader);
  assert.ok(drained !== undefined && asker !== undefined);
  const remaining = IDS.filter((id) => id !== drained);
  const users: string[] = [];
  for (let i = 0; users.length < 8 && i < 300; i++) if ((await ownerOf(node('n1'), `k${i}`)) === drained) users.push(`k${i}`);
  assert.equal(users.length, 8, `8 users owned by ${drained}`);

  /** Every answered push: user → seq → data. */
  const answered = new Map<string, Map<number, number>>(users.map((u) => [u, new Map()]));
  let n = 0;
  const pushOne = async (user: string): Promise<boolean> => {
    const data = ++n;
    const r = await node(remaining[n % 2] ?? asker)
      .api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: [user], data } })
      .catch(() => undefined);
    if (r?.status !== 200) return false; // unanswered (503 while an inbox is on its way or its holder is down): go on
    const seq = (obj(r.body).results as { seq: number }[])[0]?.seq;
    assert.ok(typeof seq === 'number', JSON.stringify(r.body));
    const prev = answered.get(user)?.get(seq);
    assert.equal(prev, undefined, `seq ${seq} of ${user} answered twice (${prev} and ${data})`);
    answered.get(user)?.set(seq, data);
    return true;
  };
  for (const u of users) for (let i = 0; i < 8; i++) await pushOne(u);
  for (const u of users) assert.equal(answered.get(u)?.size, 8);

  // Device a of the first half of the users acks 3 of 8 on a remaining node, then leaves.
  const partly = users.slice(0, 4);
  for (const u of partly) {
    const s = await bindOn(asker, 'dev-a', u);
    assert.deepEqual(
      (await receiveUntil(s, 3)).map((f) => f.seq),
      [1, 2, 3],
    );
    await roundTrip(s);
    s.close();
    await s.closed;
    await offline(node(asker), u);
  }
  const oldMax = new Map(users.map((u) => [u, Math.max(...(answered.get(u)?.keys() ?? []))]));
  const inBefore = await Promise.all(remaining.map((id) => handedIn(node(id))));

  // The pusher goes on through the remaining nodes until the member is out.
  let removed = false;
  let pushes = 0;
  let unanswered = 0;
  const pusher = (async () => {
    const deadline = Date.now() + 60_000;
    for (; !removed && Date.now() < deadline && pushes < 3000; pushes++) {
      if (!(await pushOne(users[pushes % users.length] ?? ''))) unanswered++;
      // Paced, so that its bounded count spans the kill, the restart and the repeated call.
      await new Promise((r) => setTimeout(r, 10));
    }
  })();

  // The removal starts through the asker, not awaited; as soon as the drain is recorded, the member is killed.
  let first: ApiResponse | Error | undefined;
  const firstCall = node(asker)
    .api('DELETE', `/v1/cluster/members/${drained}?timeout=5`)
    .then(
      (r) => (first = r),
      (e: unknown) => (first = e instanceof Error ? e : new Error(String(e))),
    );
  await eventually(async () => {
    if (first !== undefined) throw new Error(`the removal answered before its drain was recorded: ${JSON.stringify(first)}`);
    const r = await node(asker).api('GET', '/v1/kv/sys/draining/?prefix=true');
    return r.status === 200 && (obj(r.body).kvs as unknown[]).length > 0 ? true : undefined;
  }, 'the drain recorded', 500, 10);
  await node(drained).kill9();
  // Inboxes the new owners had taken (by the drain, or pulled by a push) when it died: the rest are on its disk.
  const inAtKill = await Promise.all(remaining.map((id) => handedIn(node(id))));
  nodes.delete(drained);
  // The route polls the drain every 250 ms: it cannot have answered 200 before the kill.
  const atKill = first as ApiResponse | Error | undefined;
  assert.ok(atKill === undefined, `the first removal call was still waiting at the kill: ${JSON.stringify(atKill)}`);
  await firstCall;
  assert.ok(!(first instanceof Error) && first !== undefined, `the first call is answered: ${String(first)}`);
  assert.equal(first.status, 503, `a drain whose member is down answers 503: ${JSON.stringify(first.body)}`);

  // Restarted on its data dir (kept ports), the member is removed by repeating the call.
  await start(drained);
  let removal: ApiResponse | undefined;
  for (let i = 0; i < 8 && removal?.status !== 200; i++) {
    removal = await node(asker).api('DELETE', `/v1/cluster/members/${drained}?timeout=10`);
    if (removal.status !== 200) assert.equal(removal.status, 503, JSON.stringify(removal.body));
  }
  assert.equal(removal?.status, 200, JSON.stringify(removal?.body));
  removed = true;
  await pusher;
  const inAfter = await Promise.all(remaining.map((id) => handedIn(node(id))));
  const tookIn = inAfter.reduce((a, b) => a + b, 0) - inBefore.reduce((a, b) => a + b, 0);
  assert.ok(tookIn > 0, 'the new owners took inboxes by the drain');
  t.diagnostic(`inboxes taken by ${remaining.join('+')}: ${inBefore.join('+')} before, ${inAtKill.join('+')} at the kill, ${inAfter.join('+')} after; ${pushes} pushes during the removal (${unanswered} unanswered), ${pushes < 3000 ? 'going on until it was done' : 'stopped at its bound before it was done'}; repeated call answered ${JSON.stringify(removal?.body)}`);
  const after2 = await voters(node(remaining[0] ?? ''), 2);
  assert.deepEqual(after2.members.map((m) => m.id).sort(), [...remaining].sort());
  const kv = await node(asker).api('GET', '/v1/kv/sys/draining/?prefix=true');
  assert.deepEqual(obj(kv.body).kvs, [], 'the drain record is gone');
  await node(drained).stop({ keepData: true });
  nodes.delete(drained);

  for (const u of users) {
    // New pushes after the removal: seqs continue past every answered one.
    const before = Math.max(...(answered.get(u)?.keys() ?? []));
    await pushOne(u);
    const seqs = [...(answered.get(u)?.keys() ?? [])].sort((a, b) => a - b);
    const last = seqs[seqs.length - 1] ?? 0;
    assert.ok(last > before && last > (oldMax.get(u) ?? 0), `${u}: a push after the removal gets a seq past the old ones (${before} -> ${last})`);
    const acked = partly.includes(u) ? 3 : 0;
    for (const [device, from, via] of [
      ['dev-a', acked + 1, remaining[0]],
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
});
