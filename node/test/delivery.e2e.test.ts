// The delivery guarantees of docs/PROTOCOL.md against a real node process:
// offline → online in order, redelivery until acked, per-device cursors,
// idempotency, qos 0, gaps, and no loss across kill -9.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NodeProcess } from './support/node-process.js';
import { TestSocket, createApp, token, type TestApp } from './support/ws-client.js';

let node: NodeProcess;
let app: TestApp;

before(async () => {
  node = await NodeProcess.start();
  app = await createApp(node, 'deliv', { limits: { maxInbox: 5, maxRedeliveries: 3 } });
});
after(async () => {
  await node.stop();
});

async function push(users: string[], data: unknown, extra: Record<string, unknown> = {}) {
  const r = await node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users, data, ...extra } });
  return r;
}

async function connect(device: string, user: string, after?: number): Promise<TestSocket> {
  const s = await TestSocket.open(node.wsUrl);
  await s.hello(device);
  const b = await s.bind(app.app, await token(app.app, app.tokenSecret, user), after);
  assert.equal(b.t, 'bound', JSON.stringify(b));
  return s;
}

test('offline messages arrive in seq order once the device binds', async () => {
  const seqs: number[] = [];
  for (let i = 1; i <= 3; i++) {
    const r = await push(['off1'], { n: i });
    assert.equal(r.status, 200);
    const body = r.body as { results: { user: string; seq: number }[] };
    seqs.push(body.results[0]?.seq ?? -1);
  }
  assert.deepEqual(seqs, [1, 2, 3]);
  const s = await connect('dev-a', 'off1');
  for (let i = 1; i <= 3; i++) {
    const m = await s.nextOfType('msg');
    assert.equal(m.seq, i);
    assert.deepEqual(m.data, { n: i });
    assert.equal(m.qos, 1);
  }
  s.close();
});

test('an unacked message is redelivered on reconnect; an acked one is not', async () => {
  await push(['re1'], 'a');
  await push(['re1'], 'b');
  const s1 = await connect('dev-r', 're1');
  assert.equal((await s1.nextOfType('msg')).seq, 1);
  assert.equal((await s1.nextOfType('msg')).seq, 2);
  s1.send({ t: 'ack', app: app.app, seq: 1 });
  // A ping round trip orders the ack before the close on this connection.
  s1.send({ t: 'ping' });
  await s1.nextOfType('pong');
  s1.close();
  await s1.closed;
  const s2 = await connect('dev-r', 're1');
  const m = await s2.nextOfType('msg');
  assert.equal(m.seq, 2);
  assert.equal(m.data, 'b');
  s2.close();
});

test('a second device gets every message from its own cursor', async () => {
  await push(['multi'], 'x');
  const a = await connect('phone', 'multi');
  assert.equal((await a.nextOfType('msg')).seq, 1);
  a.send({ t: 'ack', app: app.app, seq: 1 });
  const b = await connect('tablet', 'multi');
  assert.equal((await b.nextOfType('msg')).seq, 1);
  await push(['multi'], 'y');
  assert.equal((await a.nextOfType('msg')).seq, 2);
  assert.equal((await b.nextOfType('msg')).seq, 2);
  a.close();
  b.close();
});

test('repeating a push with the same id returns the first answer and stores nothing new', async () => {
  const r1 = await push(['idem'], 'once', { id: 'req-1' });
  const r2 = await push(['idem'], 'twice', { id: 'req-1' });
  assert.equal(r1.status, 200);
  assert.deepEqual(r2.body, r1.body);
  const s = await connect('d', 'idem');
  const m = await s.nextOfType('msg');
  assert.equal(m.data, 'once');
  s.send({ t: 'ping' });
  await s.nextOfType('pong');
  assert.equal(s.frames.filter((f) => f.t === 'msg').length, 0);
  s.close();
});

test('concurrent repeats of one idempotency key store the message once', async () => {
  const answers = await Promise.all(Array.from({ length: 8 }, () => push(['idem2'], 'same', { id: 'req-2' })));
  for (const a of answers) assert.deepEqual(a.body, answers[0]?.body);
  const s = await connect('d', 'idem2');
  assert.equal((await s.nextOfType('msg')).seq, 1);
  s.send({ t: 'ping' });
  await s.nextOfType('pong');
  assert.equal(s.frames.filter((f) => f.t === 'msg').length, 0);
  s.close();
});

test('qos 0 reaches online connections only and is not stored', async () => {
  const r0 = await push(['vol'], 'nobody-home', { qos: 0 });
  assert.equal(r0.status, 200);
  const s = await connect('d', 'vol');
  const r1 = await push(['vol'], 'live', { qos: 0 });
  assert.equal(r1.status, 200);
  const m = await s.nextOfType('msg');
  assert.equal(m.data, 'live');
  assert.equal(m.qos, 0);
  assert.equal(m.seq, undefined);
  s.close();
});

test('inbox overflow is announced with a gap', async () => {
  for (let i = 1; i <= 8; i++) await push(['over'], i);
  const s = await connect('d', 'over');
  const g = await s.nextOfType('gap');
  assert.deepEqual({ from: g.from, to: g.to, reason: g.reason }, { from: 1, to: 3, reason: 'overflow' });
  const m = await s.nextOfType('msg');
  assert.equal(m.seq, 4);
  s.close();
});

test('an expired message is announced with a gap', async () => {
  await push(['exp'], 'short', { ttl: 1 });
  await push(['exp'], 'long');
  await new Promise((r) => setTimeout(r, 1200));
  const s = await connect('d', 'exp');
  const g = await s.nextOfType('gap');
  assert.deepEqual({ from: g.from, to: g.to, reason: g.reason }, { from: 1, to: 1, reason: 'expired' });
  assert.equal((await s.nextOfType('msg')).seq, 2);
  s.close();
});

test('a message never acked is skipped with a redelivery-limit gap after maxRedeliveries sends', async () => {
  await push(['poison'], 'p');
  await push(['poison'], 'q');
  for (let i = 0; i < 3; i++) {
    const s = await connect('stubborn', 'poison');
    assert.equal((await s.nextOfType('msg')).seq, 1);
    s.close();
    await s.closed;
  }
  const s = await connect('stubborn', 'poison');
  const g = await s.nextOfType('gap');
  assert.deepEqual({ from: g.from, to: g.to, reason: g.reason }, { from: 1, to: 1, reason: 'redelivery-limit' });
  assert.equal((await s.nextOfType('msg')).seq, 2);
  s.close();
});

test('after kill -9 and restart every answered qos 1 push is still delivered', async () => {
  const own = await NodeProcess.start();
  try {
    const a = await createApp(own, 'crash');
    const answered: number[] = [];
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const r = await own.api('POST', '/v1/apps/crash/push', { token: a.apiKey, body: { users: ['survivor'], data: i } });
        if (r.status === 200) answered.push((r.body as { results: { seq: number }[] }).results[0]?.seq ?? -1);
      }),
    );
    assert.equal(answered.length, 50);
    await own.kill9();
    const again = await NodeProcess.start({ dataDir: own.dataDir, gatewayPort: own.gatewayPort, apiPort: own.apiPort });
    try {
      const s = await TestSocket.open(again.wsUrl);
      await s.hello('d');
      await s.bind('crash', await token('crash', a.tokenSecret, 'survivor'));
      const got: number[] = [];
      while (got.length < 50) got.push((await s.nextOfType('msg')).seq as number);
      assert.deepEqual(got, answered.slice().sort((x, y) => x - y));
      assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i + 1));
      s.close();
    } finally {
      await again.stop();
    }
  } finally {
    await own.stop();
  }
});
