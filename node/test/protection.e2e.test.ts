// Rate control, access policies, flash reconnect, kick targets and live
// settings, against a real node. Per-address limits use distinct loopback
// addresses (127.0.0.x) so one "client machine" can be told from another.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NodeProcess } from './support/node-process.js';
import { TestSocket, createApp, token, type TestApp } from './support/ws-client.js';
import { HttpReceiver } from './support/http-receiver.js';

let node: NodeProcess;
let app: TestApp;
let status: HttpReceiver;

before(async () => {
  node = await NodeProcess.start();
  status = await HttpReceiver.start();
  app = await createApp(node, 'prot', { statusCallback: status.url });
});
after(async () => {
  await node.stop();
  await status.close();
});

async function settings(body: Record<string, unknown>): Promise<void> {
  const r = await node.api('PUT', '/v1/settings/node', { body });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function connect(a: TestApp, user: string, device = 'd', localAddress?: string): Promise<TestSocket> {
  const s = await TestSocket.open(node.wsUrl, 'json', localAddress === undefined ? {} : { localAddress });
  await s.hello(device);
  assert.equal((await s.bind(a.app, await token(a.app, a.tokenSecret, user))).t, 'bound');
  return s;
}

async function stillWorks(s: TestSocket, user: string): Promise<void> {
  const r = await node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: [user], data: 'still-here', qos: 0 } });
  assert.equal(r.status, 200);
  assert.equal((await s.next((f) => f.t === 'msg' && f.data === 'still-here')).qos, 0);
}

test('connections per address are capped live, with close 4029, without affecting other addresses', async () => {
  await settings({ connectionsPerAddressMax: 3 });
  const bystander = await connect(app, 'bystander', 'b', '127.0.0.9');
  const held: TestSocket[] = [];
  for (let i = 0; i < 3; i++) held.push(await TestSocket.open(node.wsUrl, 'json', { localAddress: '127.0.0.2' }));
  const fourth = await TestSocket.open(node.wsUrl, 'json', { localAddress: '127.0.0.2' });
  assert.equal((await fourth.closed).code, 4029);
  const other = await TestSocket.open(node.wsUrl, 'json', { localAddress: '127.0.0.3' });
  await other.hello('o');
  await stillWorks(bystander, 'bystander');
  for (const s of [...held, other, bystander]) s.close();
  await settings({});
});

test('a connection-rate flood from one address is refused with 4029 while others connect', async () => {
  await settings({ connectionsPerAddressPerSecond: 5 });
  const results = await Promise.all(
    Array.from({ length: 30 }, async () => {
      const s = await TestSocket.open(node.wsUrl, 'json', { localAddress: '127.0.0.4' });
      const winner = await Promise.race([s.closed.then((c) => c.code), s.hello('f').then(() => 0)]);
      s.close();
      return winner;
    }),
  );
  assert.ok(results.filter((c) => c === 4029).length >= 20, `refused: ${results.join(',')}`);
  const other = await connect(app, 'calm', 'c', '127.0.0.5');
  await stillWorks(other, 'calm');
  other.close();
  await settings({});
});

test('global and per-app IP deny lists apply live', async () => {
  await settings({ ipDeny: ['127.0.0.6/32'] });
  await assert.rejects(TestSocket.open(node.wsUrl, 'json', { localAddress: '127.0.0.6' }), /403/);
  await settings({});
  const denied = await createApp(node, 'denyapp', { ipDeny: ['127.0.0.7/32'] });
  const s = await TestSocket.open(node.wsUrl, 'json', { localAddress: '127.0.0.7' });
  await s.hello('d');
  s.send({ t: 'bind', app: denied.app, token: await token(denied.app, denied.tokenSecret, 'u') });
  assert.equal((await s.nextOfType('error')).code, 'forbidden');
  assert.equal((await s.closed).code, 4001);
  const ok = await connect(denied, 'u', 'd', '127.0.0.8');
  ok.close();
  const bad = await node.api('PUT', '/v1/apps/badcidr', { body: { apiKey: 'k'.repeat(16), tokenSecret: 's'.repeat(16), ipAllow: ['300.1.2.3/8'] } });
  assert.equal(bad.status, 400);
  const badSettings = await node.api('PUT', '/v1/settings/node', { body: { ipDeny: ['nope'] } });
  assert.equal(badSettings.status, 400);
  const unknownSetting = await node.api('PUT', '/v1/settings/node', { body: { noSuchLimit: 1 } });
  assert.equal(unknownSetting.status, 400);
});

test('upstream beyond the app rate gets rate-limited replies, then close 4008; others are unaffected', async () => {
  const limited = await createApp(node, 'uplimit', { webhook: 'http://127.0.0.1:1/x', limits: { upstreamPerSecond: 5 } });
  const other = await connect(app, 'up-bystander');
  const s = await connect(limited, 'flooder');
  for (let i = 0; i < 80; i++) s.send({ t: 'up', app: limited.app, id: `x${i}`, data: i });
  const r = await s.next((f) => f.t === 'reply' && f.error === 'rate-limited');
  assert.equal(r.ok, false);
  assert.equal((await s.closed).code, 4008);
  await stillWorks(other, 'up-bystander');
  other.close();
});

test('the push rate of an app is limited with 429 and Retry-After, and changes live', async () => {
  const a = await createApp(node, 'pushrate', { limits: { pushPerSecond: 2 } });
  const codes: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 6; i++) {
    const r = await node.api('POST', `/v1/apps/${a.app}/push`, { token: a.apiKey, body: { users: ['u'], data: i } });
    codes.push(r.status);
    if (r.status === 429) {
      retryAfter = r.headers.get('retry-after');
      assert.equal((r.body as { error: { code: string } }).error.code, 'rate-limited');
    }
  }
  assert.ok(codes.includes(429), codes.join(','));
  assert.ok(retryAfter !== null && Number(retryAfter) >= 1);
  await createApp(node, 'pushrate', { limits: { pushPerSecond: 0 } });
  for (let i = 0; i < 6; i++) {
    const r = await node.api('POST', `/v1/apps/${a.app}/push`, { token: a.apiKey, body: { users: ['u'], data: i } });
    assert.equal(r.status, 200);
  }
});

test('a flash reconnect continues the session: same session id, no offline/online callbacks, nothing acked replayed', async () => {
  await settings({ lingerMs: 3000 });
  const start = status.received.length;
  const push = (data: string) => node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: ['flash'], data } });
  await push('one');
  const s1 = await TestSocket.open(node.wsUrl);
  const w1 = await s1.hello('flashdev');
  await s1.bind(app.app, await token(app.app, app.tokenSecret, 'flash'));
  assert.equal((await s1.nextOfType('msg')).seq, 1);
  s1.send({ t: 'ack', app: app.app, seq: 1 });
  s1.send({ t: 'ping' });
  await s1.nextOfType('pong');
  await push('two');
  assert.equal((await s1.nextOfType('msg')).seq, 2);
  s1.ws.terminate();
  await s1.closed;
  const s2 = await TestSocket.open(node.wsUrl);
  const w2 = await s2.hello('flashdev');
  assert.equal(w2.session, w1.session);
  await s2.bind(app.app, await token(app.app, app.tokenSecret, 'flash'));
  const m = await s2.nextOfType('msg');
  assert.equal(m.seq, 2, 'the acked message is not replayed; the unacked one is');
  const user = await node.api('GET', `/v1/apps/${app.app}/users/flash`, { token: app.apiKey });
  assert.deepEqual((user.body as { sessions: { session: string }[] }).sessions.map((x) => x.session), [w1.session]);
  // Wait past the window: the continued session must not be reported offline.
  await new Promise((r) => setTimeout(r, 4000));
  type Ev = { user: string; online: boolean };
  const evs = status.received.slice(start).flatMap((r) => (r.json as { events: Ev[] }).events).filter((e) => e.user === 'flash');
  assert.deepEqual(evs.map((e) => e.online), [true]);
  s2.close();
  await settings({});
});

test('a session lost for good goes offline when its linger window ends', async () => {
  await settings({ lingerMs: 500 });
  const start = status.received.length;
  const s = await connect(app, 'gone', 'gonedev');
  s.ws.terminate();
  await s.closed;
  type Ev = { user: string; online: boolean };
  const deadline = Date.now() + 10_000;
  let evs: Ev[] = [];
  while (Date.now() < deadline) {
    evs = status.received.slice(start).flatMap((r) => (r.json as { events: Ev[] }).events).filter((e) => e.user === 'gone');
    if (evs.length >= 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(evs.map((e) => e.online), [true, false]);
  const user = await node.api('GET', `/v1/apps/${app.app}/users/gone`, { token: app.apiKey });
  assert.equal((user.body as { online: boolean }).online, false);
  await settings({});
});

test('kick by device or session closes only those connections with 4002', async () => {
  const phone = await connect(app, 'kicky', 'phone');
  const tablet = await connect(app, 'kicky', 'tablet');
  const r = await node.api('POST', `/v1/apps/${app.app}/users/kicky/kick`, { token: app.apiKey, body: { device: 'phone', reason: 'bye' } });
  assert.deepEqual(r.body, { kicked: 1 });
  assert.equal((await phone.closed).code, 4002);
  await stillWorks(tablet, 'kicky');
  const laptop = await TestSocket.open(node.wsUrl);
  const w = await laptop.hello('laptop');
  await laptop.bind(app.app, await token(app.app, app.tokenSecret, 'kicky'));
  const none = await node.api('POST', `/v1/apps/${app.app}/users/kicky/kick`, { token: app.apiKey, body: { session: 'no-such-session' } });
  assert.deepEqual(none.body, { kicked: 0 });
  const bySession = await node.api('POST', `/v1/apps/${app.app}/users/kicky/kick`, { token: app.apiKey, body: { session: w.session } });
  assert.deepEqual(bySession.body, { kicked: 1 });
  assert.equal((await laptop.closed).code, 4002);
  const all = await node.api('POST', `/v1/apps/${app.app}/users/kicky/kick`, { token: app.apiKey });
  assert.deepEqual(all.body, { kicked: 1 });
  assert.equal((await tablet.closed).code, 4002);
});

test('topic subscriptions per connection are capped', async () => {
  // The frame-rate limit (100/s, burst 200) would refuse this burst first.
  await settings({ clientFramesPerSecond: 10_000 });
  const s = await connect(app, 'topics-user');
  for (let i = 0; i < 256; i++) s.send({ t: 'sub', app: app.app, topic: `t${i}` });
  s.send({ t: 'sub', app: app.app, topic: 'one-too-many' });
  assert.equal((await s.nextOfType('error')).code, 'too-many-topics');
  s.send({ t: 'sub', app: app.app, topic: 't0' });
  s.send({ t: 'ping' });
  await s.nextOfType('pong');
  assert.equal(s.frames.filter((f) => f.t === 'error').length, 0, 'resubscribing to a held topic is not refused');
  s.close();
  await settings({});
});

test('a connection that stops reading is closed with 4010 once its send queue passes the byte bound; others are unaffected', async () => {
  await settings({ sendQueueBytesMax: 256 * 1024 });
  const bystander = await connect(app, 'slow-bystander');
  const slow = await connect(app, 'slow');
  // Stop reading: the kernel buffers fill, then ws's buffer (the send queue) grows.
  slow.ws.pause();
  const data = 'x'.repeat(30_000);
  const slowClosed = async (): Promise<boolean> => /^longwire_gateway_slow_consumers_total 1$/m.test(String((await node.api('GET', '/metrics')).body));
  let closed = false;
  // Bounded: at most 2,000 qos 0 pushes of 30 kB (60 MB) before giving up.
  for (let i = 0; i < 2000 && !closed; i++) {
    const r = await node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: ['slow'], data, qos: 0 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    if (i % 20 === 19) closed = await slowClosed();
  }
  assert.ok(closed, 'the slow consumer was never closed');
  slow.ws.resume();
  assert.equal((await slow.closed).code, 4010);
  // Everything written before the close arrives whole and in order.
  const got = slow.frames.filter((f) => f.t === 'msg');
  assert.ok(got.length > 0 && got.every((f) => f.data === data), 'a message arrived damaged');
  await stillWorks(bystander, 'slow-bystander');
  bystander.close();
  await settings({});
});
