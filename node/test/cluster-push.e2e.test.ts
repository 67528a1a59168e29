// Pushes across a three-node cluster of real processes: every node agrees on
// each user's owner, a push through any node is stored by the owner and
// reaches the user bound there in seq order, a multicast spanning owners
// answers one seq per user in request order (idempotent through any node), a
// device bound on a non-owner is served from the owner's inbox (reads, live
// notices and acks over peer RPC), and an owner killed with -9 and restarted
// still delivers every answered message; a node that joins gets the
// connections of the users it now owns by redirect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NodeProcess } from './support/node-process.js';
import { TestSocket, createApp, token, type Frame, type TestApp } from './support/ws-client.js';
import { eventually, obj, roundTrip } from './support/contract.js';
import { ownerOf } from '../src/ring.js';
import type { Member } from '../../keeper/src/keeper.js';

const IDS = ['n1', 'n2', 'n3'] as const;
const nodes = new Map<string, NodeProcess>();
const kept = new Map<string, { dataDir: string; apiPort: number; gatewayPort: number; peerPort: number }>();
let app: TestApp;
/** Users u0…u59 by owner id, as the dispatcher of n1 answers. */
const usersOf = new Map<string, string[]>();
const ownerOfUser = new Map<string, string>();

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

async function voters(n: NodeProcess, count: number): Promise<void> {
  await eventually(async () => {
    const r = await n.api('GET', '/v1/cluster').catch(() => undefined);
    if (r?.status !== 200) return undefined;
    const v = obj(r.body) as { leader: string | null; members: { role: string }[] };
    return v.leader !== null && v.members.filter((m) => m.role === 'voter').length === count ? true : undefined;
  }, `${count} voters seen by ${n.apiUrl}`, 200, 100);
}

async function dispatchOwner(n: NodeProcess, user: string): Promise<{ id: string; url: string }> {
  const res = await fetch(`${n.gatewayUrl}/v1/dispatch?app=${app.app}&user=${user}`);
  assert.equal(res.status, 200);
  const first = ((await res.json()) as { nodes: { id: string; url: string }[] }).nodes[0];
  assert.ok(first !== undefined);
  return first;
}

async function push(via: string, users: string[], data: unknown, extra: Record<string, unknown> = {}) {
  return node(via).api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users, data, ...extra } });
}

function seqsOf(body: unknown): { user: string; seq: number }[] {
  return obj(body).results as { user: string; seq: number }[];
}

async function bindOn(id: string, device: string, user: string): Promise<{ s: TestSocket; bound: Frame }> {
  const s = await TestSocket.open(node(id).wsUrl);
  await s.hello(device);
  const bound = await s.bind(app.app, await token(app.app, app.tokenSecret, user));
  return { s, bound };
}

/** The next `n` qos 1 msg frames, acking each (so the window never stalls delivery); broadcasts are left. */
async function receive(s: TestSocket, n: number): Promise<Frame[]> {
  const got: Frame[] = [];
  while (got.length < n) {
    const m = await s.next((f) => f.t === 'msg' && f.qos === 1);
    got.push(m);
    s.send({ t: 'ack', app: app.app, seq: m.seq });
  }
  return got;
}

function pick(owner: string, i = 0): string {
  const u = usersOf.get(owner)?.[i];
  assert.ok(u !== undefined, `no user ${i} owned by ${owner}`);
  return u;
}

before(async () => {
  const n1 = await start('n1');
  await start('n2', n1.apiUrl);
  await voters(n1, 2);
  await start('n3', n1.apiUrl);
  for (const id of IDS) await voters(node(id), 3);
  app = await createApp(n1, 'cpush', { limits: { maxInbox: 1000 } });
  // Every node applies the app from the keeper: wait until each accepts a push for it.
  for (const id of IDS) {
    await eventually(async () => ((await push(id, ['warmup'], 0)).status === 200 ? true : undefined), `app known on ${id}`);
  }
  for (let i = 0; i < 60; i++) {
    const u = `u${i}`;
    const owner = (await dispatchOwner(n1, u)).id;
    ownerOfUser.set(u, owner);
    usersOf.set(owner, [...(usersOf.get(owner) ?? []), u]);
  }
});

after(async () => {
  for (const n of nodes.values()) await n.stop({ keepData: true });
  const { rm } = await import('node:fs/promises');
  for (const k of kept.values()) await rm(k.dataDir, { recursive: true, force: true });
});

test('every node names the same owner for each user, and every node owns some users', async () => {
  for (const [u, owner] of ownerOfUser) {
    for (const id of ['n2', 'n3']) assert.equal((await dispatchOwner(node(id), u)).id, owner, `owner of ${u} on ${id}`);
  }
  for (const id of IDS) assert.ok((usersOf.get(id)?.length ?? 0) > 0, `${id} owns no user of 60`);
});

test('a push through any node reaches the user bound on its owner, in seq order', async () => {
  const owner = 'n2';
  const user = pick(owner);
  const { s, bound } = await bindOn(owner, 'dev-order', user);
  assert.equal(bound.t, 'bound', JSON.stringify(bound));
  const answered: number[] = [];
  for (let i = 0; i < 9; i++) {
    const r = await push(IDS[i % 3] ?? 'n1', [user], { n: i });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    answered.push(seqsOf(r.body)[0]?.seq ?? -1);
  }
  assert.deepEqual(answered, answered.map((_, i) => (answered[0] ?? 0) + i), 'seqs increase by one per push, whichever node took it');
  const got = await receive(s, 9);
  assert.deepEqual(got.map((m) => m.seq), answered);
  assert.deepEqual(got.map((m) => m.data), answered.map((_, i) => ({ n: i })));
  s.close();
});

test('a multicast across owners answers one seq per user in request order; a repeat with its id through another node stores nothing new', async () => {
  const users = [pick('n3', 1), pick('n1', 1), pick('n2', 1), pick('n1', 2)];
  const r = await push('n1', users, 'multi', { id: 'multi-1' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(obj(r.body).id, 'multi-1');
  const results = seqsOf(r.body);
  assert.deepEqual(results.map((x) => x.user), users);
  for (const x of results) assert.equal(x.seq, 1, `first message of ${x.user}`);
  const again = await push('n2', users, 'multi', { id: 'multi-1' });
  assert.equal(again.status, 200);
  assert.deepEqual(again.body, r.body);
  // Each user gets the message once, on its owner, with the request's id.
  for (const u of users) {
    const { s, bound } = await bindOn(ownerOfUser.get(u) ?? 'n1', `dev-${u}`, u);
    assert.equal(bound.seq, 1, `${u}: one message stored`);
    const [m] = await receive(s, 1);
    assert.equal(m?.id, 'multi-1');
    assert.equal(m.data, 'multi');
    s.close();
  }
  // qos 0 is routed too: each owner answers for its own users.
  const v = await push('n3', users, 'volatile', { qos: 0 });
  assert.equal(v.status, 200);
  assert.deepEqual((obj(v.body).results as { user: string }[]).map((x) => x.user), users);
});

test('a device bound on a node that does not own the user gets every message in order; its acks move the cursor kept by the owner', async () => {
  const user = pick('n1', 3);
  const { s, bound } = await bindOn('n3', 'dev-remote', user);
  assert.equal(bound.t, 'bound', JSON.stringify(bound));
  assert.equal(bound.seq, 0);
  // A second device of the user on the other non-owner, bound before the pushes.
  const other = await bindOn('n2', 'dev-remote-2', user);
  assert.equal(other.bound.t, 'bound', JSON.stringify(other.bound));
  const answered: number[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await push(IDS[i % 3] ?? 'n1', [user], { r: i });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    answered.push(seqsOf(r.body)[0]?.seq ?? -1);
  }
  assert.deepEqual(answered, [1, 2, 3, 4, 5, 6]);
  for (const sock of [s, other.s]) {
    const got = await receive(sock, 6);
    assert.deepEqual(got.map((m) => m.seq), answered);
    assert.deepEqual(got.map((m) => m.data), answered.map((_, i) => ({ r: i })));
  }
  // qos 0 through the owner reaches both devices on the other nodes, now, and counts them.
  const flash = await push('n1', [user], 'flash', { qos: 0 });
  assert.equal(flash.status, 200, JSON.stringify(flash.body));
  assert.deepEqual(obj(flash.body).results, [{ user, delivered: 2 }]);
  for (const sock of [s, other.s]) {
    const m = await sock.next((f) => f.t === 'msg' && f.qos === 0);
    assert.equal(m.data, 'flash');
  }
  other.s.close();
  s.close();
  await s.closed;
  const later = await push('n2', [user], 'later');
  assert.equal(seqsOf(later.body)[0]?.seq, 7);
  // The cursor is written on the owner as the binding ends: once it is, the device
  // binding again (on yet another node) resumes after its acks.
  await eventually(async () => {
    const again = await bindOn('n2', 'dev-remote', user);
    const first = await again.s.next((f) => f.t === 'msg' && f.qos === 1);
    again.s.close();
    await again.s.closed;
    if (first.seq !== 7) return undefined;
    assert.equal(first.data, 'later');
    return true;
  }, 'the device resumes after its acked messages', 50, 100);
});

test("a device bound on a non-owner gets the broadcasts in that node's log, whatever position its cursor has in the owner's", async () => {
  const user = pick('n1', 6);
  const first = await bindOn('n1', 'dev-bcast', user);
  assert.equal(first.bound.t, 'bound');
  const onOwner = await node('n1').api('POST', `/v1/apps/${app.app}/broadcast`, { token: app.apiKey, body: { data: 'on-n1' } });
  assert.equal(onOwner.status, 202);
  assert.equal((await first.s.next((f) => f.t === 'msg' && f.data === 'on-n1')).qos, 0);
  first.s.close();
  await first.s.closed;
  const onOther = await node('n2').api('POST', `/v1/apps/${app.app}/broadcast`, { token: app.apiKey, body: { data: 'on-n2' } });
  assert.equal(onOther.status, 202);
  const again = await bindOn('n2', 'dev-bcast', user);
  assert.equal(again.bound.t, 'bound');
  // Every member logged both broadcasts; n2 replays its whole log (a repeat of on-n1 is allowed, a miss is not).
  assert.equal((await again.s.next((f) => f.t === 'msg' && f.data === 'on-n1')).qos, 0);
  assert.equal((await again.s.next((f) => f.t === 'msg' && f.data === 'on-n2')).qos, 0);
  again.s.close();
  await again.s.closed;
});

test('a broadcast through one node reaches connections on every node; its progress on any node sums the members', async () => {
  const socks = await Promise.all(IDS.map((id, i) => bindOn(id, `dev-everywhere-${i}`, `everywhere-${i}`)));
  for (const x of socks) assert.equal(x.bound.t, 'bound');
  // A bind finishes its replay before the next frame is handled: after the pong, the job is the only sender.
  for (const x of socks) await roundTrip(x.s);
  const r = await node('n2').api('POST', `/v1/apps/${app.app}/broadcast`, { token: app.apiKey, body: { data: 'everywhere' } });
  assert.equal(r.status, 202);
  const job = obj(r.body).job;
  for (const x of socks) assert.equal((await x.s.next((f) => f.t === 'msg' && f.data === 'everywhere')).qos, 0);
  const done = await eventually(async () => {
    const g = await node('n3').api('GET', `/v1/apps/${app.app}/broadcasts/${String(job)}`, { token: app.apiKey });
    return obj(g.body).state === 'done' ? obj(g.body) : undefined;
  }, 'the job done on every member');
  assert.ok(typeof done.delivered === 'number' && done.delivered >= 3, JSON.stringify(done));
  assert.equal(done.missing, undefined);
  for (const x of socks) {
    x.s.close();
    await x.s.closed;
  }
});

test('a topic publish through any node reaches subscribers on every node, with one offset sequence; history comes from the owner', async () => {
  const socks = await Promise.all(IDS.map((id, i) => bindOn(id, `dev-topic-${i}`, `topic-user-${i}`)));
  for (const x of socks) {
    assert.equal(x.bound.t, 'bound');
    x.s.send({ t: 'sub', app: app.app, topic: 'news' });
    await roundTrip(x.s);
  }
  const offsets: number[] = [];
  for (const [i, via] of IDS.entries()) {
    const r = await node(via).api('POST', `/v1/apps/${app.app}/topics/news`, { token: app.apiKey, body: { data: { p: i } } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    offsets.push(Number(obj(r.body).offset));
  }
  assert.deepEqual(offsets, [offsets[0] ?? 0, (offsets[0] ?? 0) + 1, (offsets[0] ?? 0) + 2]);
  for (const x of socks) {
    const got = [await x.s.nextOfType('pub'), await x.s.nextOfType('pub'), await x.s.nextOfType('pub')];
    assert.deepEqual(got.map((f) => f.offset), offsets);
    assert.deepEqual(got.map((f) => f.data), [{ p: 0 }, { p: 1 }, { p: 2 }]);
  }
  // A late subscriber on any node recovers the history after an offset.
  const late = await bindOn('n3', 'dev-topic-late', 'topic-late');
  late.s.send({ t: 'sub', app: app.app, topic: 'news', after: offsets[0] });
  const rec = [await late.s.nextOfType('pub'), await late.s.nextOfType('pub')];
  assert.deepEqual(rec.map((f) => f.offset), offsets.slice(1));
  for (const x of [...socks, late]) {
    x.s.close();
    await x.s.closed;
  }
});

test("a kick through any node closes the user's connections on every node", async () => {
  const user = pick('n1', 5);
  const a = await bindOn('n2', 'dev-kick-a', user);
  const b = await bindOn('n3', 'dev-kick-b', user);
  assert.equal(a.bound.t, 'bound');
  assert.equal(b.bound.t, 'bound');
  // The register lists both sessions once their writes are applied on the node asked.
  await eventually(async () => {
    const r = await node('n1').api('GET', `/v1/apps/${app.app}/users/${user}`, { token: app.apiKey });
    return (obj(r.body).sessions as unknown[]).length === 2 ? true : undefined;
  }, 'both sessions in the register');
  const r = await node('n1').api('POST', `/v1/apps/${app.app}/users/${user}/kick`, { token: app.apiKey, body: { reason: 'test' } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { kicked: 2 });
  assert.equal((await a.s.closed).code, 4002);
  assert.equal((await b.s.closed).code, 4002);
});

test('kill -9 of an owner and restart: every message it answered (pushed through another node) is delivered in order', async () => {
  const owner = 'n3';
  const user = pick(owner, 4);
  // Another device of the user, bound on a node that survives.
  const held = await bindOn('n2', 'dev-held', user);
  assert.equal(held.bound.t, 'bound');
  const answered: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await push(i % 2 === 0 ? 'n1' : 'n2', [user], { k: i });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    answered.push(seqsOf(r.body)[0]?.seq ?? -1);
  }
  assert.deepEqual((await receive(held.s, 5)).map((m) => m.seq), answered);
  await node(owner).kill9();
  nodes.delete(owner);
  // A connection closed while its owner is down still leaves the register (its cursor write may be lost).
  held.s.close();
  await held.s.closed;
  await eventually(async () => {
    const r = await node('n1').api('GET', `/v1/apps/${app.app}/users/${user}`, { token: app.apiKey });
    return r.status === 200 && obj(r.body).online === false ? true : undefined;
  }, 'the held session gone from the register', 100, 100);
  // While the owner is down, a push for its users is refused, not stored elsewhere.
  const down = await push('n1', [user], 'while-down');
  assert.equal(down.status, 503);
  assert.equal((obj(down.body).error as { code: string }).code, 'peer-unavailable');
  // A bind on another node cannot reach the user's inbox either: a retryable close, not a protocol error.
  const early = await bindOn('n1', 'dev-early', user);
  assert.equal(early.bound.t, 'error');
  assert.equal(early.bound.code, 'owner-unavailable');
  assert.equal((await early.s.closed).code, 1013);
  await start(owner);
  await voters(node(owner), 3);
  const { s, bound } = await bindOn(owner, 'dev-crash', user);
  assert.equal(bound.t, 'bound', JSON.stringify(bound));
  const got = await receive(s, answered.length);
  assert.deepEqual(got.map((m) => m.seq), answered);
  assert.deepEqual(got.map((m) => m.data), answered.map((_, i) => ({ k: i })));
  s.close();
});

test('when a fourth node joins, a connection of a user it now owns is redirected to it (owner-moved, 4009); others stay', async () => {
  // The ring is a pure function of the voters, so the users n4 will own are known before it joins.
  const voter = (id: string): Member => ({ id, role: 'voter', peer: '', api: '', gateway: '', zone: '' });
  const before = IDS.map(voter);
  const after4 = [...before, voter('n4')];
  const users = Array.from({ length: 200 }, (_, i) => `mv${i}`);
  const key = (u: string): string => `${app.app}\u0000${u}`;
  const moved = users.find((u) => ownerOf(after4, key(u))?.id === 'n4');
  const stays = users.find((u) => ownerOf(after4, key(u))?.id === ownerOf(before, key(u))?.id);
  assert.ok(moved !== undefined && stays !== undefined);
  const a = await bindOn('n1', 'dev-moved', moved);
  const b = await bindOn('n2', 'dev-stays', stays);
  assert.equal(a.bound.t, 'bound');
  assert.equal(b.bound.t, 'bound');
  await start('n4', node('n1').apiUrl);
  await voters(node('n1'), 4);
  const redirect = await a.s.nextOfType('redirect', 30_000);
  assert.equal(redirect.reason, 'owner-moved');
  assert.equal((redirect.nodes as { id: string }[])[0]?.id, 'n4');
  assert.equal((await a.s.closed).code, 4009);
  // The other connection is still served (its redirect, had there been one, was sent in the same check).
  await roundTrip(b.s);
  assert.equal(b.s.frames.filter((f) => f.t === 'redirect').length, 0);
  b.s.close();
  await b.s.closed;
});
