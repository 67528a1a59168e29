// Upstream webhooks and status callbacks against real HTTP servers playing the
// app's backend: signatures, retries, slow/down/failing/garbage backends, and
// isolation between apps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NodeProcess } from './support/node-process.js';
import { TestSocket, createApp, token, type TestApp } from './support/ws-client.js';
import { HttpReceiver, expectedSignature } from './support/http-receiver.js';

let node: NodeProcess;
let hook: HttpReceiver;
let slowHook: HttpReceiver;
let status: HttpReceiver;
let app: TestApp;
let slowApp: TestApp;

before(async () => {
  node = await NodeProcess.start();
  hook = await HttpReceiver.start();
  slowHook = await HttpReceiver.start();
  status = await HttpReceiver.start();
  app = await createApp(node, 'coord', { webhook: hook.url, statusCallback: status.url, limits: { upstreamPerSecond: 1000 } });
  slowApp = await createApp(node, 'slowcoord', { webhook: slowHook.url, limits: { upstreamPerSecond: 1000 } });
});
after(async () => {
  await node.stop();
  await Promise.all([hook.close(), slowHook.close(), status.close()]);
});

async function connect(a: TestApp, user: string, device = 'd'): Promise<TestSocket> {
  const s = await TestSocket.open(node.wsUrl);
  await s.hello(device);
  assert.equal((await s.bind(a.app, await token(a.app, a.tokenSecret, user))).t, 'bound');
  return s;
}

function reply(s: TestSocket, id: string) {
  return s.next((f) => f.t === 'reply' && f.id === id, 20_000);
}

test('an up frame reaches the webhook signed, and its answer comes back as reply', async () => {
  hook.behaviour = (r, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ data: { echo: (r.json as { data: unknown }).data } }));
  };
  const s = await connect(app, 'up-user', 'phone');
  s.send({ t: 'up', app: app.app, id: 'u-1', data: { q: 42 } });
  const r = await reply(s, 'u-1');
  assert.equal(r.ok, true);
  assert.deepEqual(r.data, { echo: { q: 42 } });
  const got = hook.received.at(-1);
  assert.ok(got !== undefined);
  assert.deepEqual(got.json, { app: app.app, user: 'up-user', device: 'phone', session: (got.json as { session: string }).session, id: 'u-1', data: { q: 42 } });
  assert.equal(got.signature, expectedSignature(app.apiKey, got.timestamp, got.body));
  assert.notEqual(got.signature, expectedSignature('another-key-0123456789', got.timestamp, got.body));
  assert.ok(Math.abs(Number(got.timestamp) - Date.now()) < 60_000, 'timestamp is unix ms, usable for a replay window');
  s.close();
});

test('5xx is retried and then answered ok:false; 4xx and garbage are not retried', async () => {
  const s = await connect(app, 'retry-user');
  const before500 = hook.received.length;
  hook.behaviour = (_r, res) => {
    res.writeHead(500);
    res.end('boom');
  };
  s.send({ t: 'up', app: app.app, id: 'u-500', data: 1 });
  const r500 = await reply(s, 'u-500');
  assert.deepEqual([r500.ok, r500.error], [false, 'webhook-status-500']);
  assert.equal(hook.received.length - before500, 3, 'three attempts for a 5xx');
  assert.ok(hook.received.slice(before500).every((x) => (x.json as { id: string }).id === 'u-500'), 'every attempt carries the frame id');

  const before400 = hook.received.length;
  hook.behaviour = (_r, res) => {
    res.writeHead(403);
    res.end();
  };
  s.send({ t: 'up', app: app.app, id: 'u-403', data: 1 });
  assert.equal((await reply(s, 'u-403')).error, 'webhook-status-403');
  assert.equal(hook.received.length - before400, 1);

  hook.behaviour = (_r, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('<html>not json');
  };
  s.send({ t: 'up', app: app.app, id: 'u-garbage', data: 1 });
  assert.equal((await reply(s, 'u-garbage')).error, 'bad-response');
  s.close();
});

test('a chunked webhook answer past 64 KiB is cut off unread and answered bad-response', async () => {
  hook.behaviour = (_r, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    // No content-length: chunked, 8 MiB in 64 KiB pieces unless the node stops reading.
    const piece = 'x'.repeat(64 * 1024);
    let sent = 0;
    const more = (): void => {
      while (sent < 128) {
        sent++;
        if (!res.write(piece)) return void res.once('drain', more);
      }
      res.end();
    };
    res.on('error', () => undefined);
    more();
  };
  const s = await connect(app, 'chunky');
  s.send({ t: 'up', app: app.app, id: 'big', data: 1 });
  const r = await reply(s, 'big');
  assert.deepEqual([r.ok, r.error], [false, 'bad-response']);
  s.close();
});

test('every up frame gets a reply, even those dropped by the frame-rate limit', async () => {
  hook.behaviour = (_r, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"data":1}');
  };
  const s = await connect(app, 'burst');
  // Past the burst of 200 frames, but not so far past that the flood closes the connection.
  const n = 260;
  for (let i = 0; i < n; i++) s.send({ t: 'up', app: app.app, id: `b${i}`, data: i });
  const replies = await Promise.all(Array.from({ length: n }, (_, i) => reply(s, `b${i}`)));
  assert.equal(replies.length, n);
  assert.ok(replies.some((r) => r.error === 'rate-limited'), 'the burst passed the frame limit');
  assert.ok(replies.some((r) => r.ok === true));
  s.close();
});

test('an unreachable webhook answers ok:false webhook-unreachable', async () => {
  const down = await createApp(node, 'downhook', { webhook: 'http://127.0.0.1:1/hook' });
  const s = await connect(down, 'u');
  s.send({ t: 'up', app: down.app, id: 'x', data: null });
  const r = await reply(s, 'x');
  assert.deepEqual([r.ok, r.error], [false, 'webhook-unreachable']);
  s.close();
});

test("a slow webhook of one app delays neither another app's upstream nor heartbeats", async () => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  slowHook.behaviour = async (_r, res) => {
    await gate;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"data":"slow"}');
  };
  hook.behaviour = (_r, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"data":"fast"}');
  };
  const slow = await connect(slowApp, 'slow-user');
  const fast = await connect(app, 'fast-user');
  for (let i = 0; i < 40; i++) slow.send({ t: 'up', app: slowApp.app, id: `s-${i}`, data: i });
  await slowHook.waitFor(32);
  fast.send({ t: 'up', app: app.app, id: 'f-1', data: 1 });
  assert.equal((await reply(fast, 'f-1')).data, 'fast');
  slow.send({ t: 'ping' });
  await slow.nextOfType('pong');
  assert.equal(slow.frames.filter((f) => f.t === 'reply').length, 0, 'the slow app has no answers yet');
  release();
  const slowReply = await reply(slow, 's-0');
  assert.equal(slowReply.data, 'slow');
  slow.close();
  fast.close();
});

test('status callbacks report online and offline, batched, signed, with increasing versions per user', async () => {
  const start = status.received.length;
  const s1 = await connect(app, 'st-user', 'dev1');
  const s2 = await connect(app, 'st-user', 'dev2');
  s1.close();
  await s1.closed;
  s2.close();
  await s2.closed;
  type Ev = { user: string; device: string; session: string; online: boolean; version: number; ts: number };
  const events = async (): Promise<Ev[]> => status.received.slice(start).flatMap((r) => (r.json as { events: Ev[] }).events).filter((e) => e.user === 'st-user');
  const deadline = Date.now() + 10_000;
  while ((await events()).length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const evs = await events();
  assert.deepEqual(evs.map((e) => [e.device, e.online]), [['dev1', true], ['dev2', true], ['dev1', false], ['dev2', false]]);
  for (let i = 1; i < evs.length; i++) assert.ok((evs[i]?.version ?? 0) > (evs[i - 1]?.version ?? 0), 'versions increase per user');
  const r = status.received.at(-1);
  assert.ok(r !== undefined);
  assert.equal(r.signature, expectedSignature(app.apiKey, r.timestamp, r.body));
  assert.ok(status.received.length - start < 4, 'events were batched');
});

test('status events survive a callback outage: nothing is lost, order is kept', async () => {
  type Ev = { user: string; online: boolean };
  const accepted: Ev[] = [];
  let failing = true;
  const start = status.received.length;
  status.behaviour = (r, res) => {
    if (!failing) accepted.push(...(r.json as { events: Ev[] }).events);
    res.writeHead(failing ? 503 : 200);
    res.end();
  };
  const sockets: TestSocket[] = [];
  for (let i = 0; i < 5; i++) sockets.push(await connect(app, `outage-${i}`));
  // At least one batch and one retry were refused before the backend recovers.
  await status.waitFor(start + 2);
  failing = false;
  const deadline = Date.now() + 20_000;
  const mine = (): string[] => accepted.filter((e) => e.user.startsWith('outage-') && e.online).map((e) => e.user);
  while (mine().length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(mine(), ['outage-0', 'outage-1', 'outage-2', 'outage-3', 'outage-4']);
  for (const s of sockets) s.close();
});
