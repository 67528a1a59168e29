// Every WebSocket frame of docs/PROTOCOL.md, on both subprotocols, against a
// real node process: hello/welcome, hello with apps, bind/bound, unbind, ack,
// ping/pong, up/reply (with and without a webhook), sub/unsub/pub and
// `sub … after`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NodeProcess } from './support/node-process.js';
import { TestSocket, createApp, token, type Proto, type TestApp } from './support/ws-client.js';
import { WebhookServer, eventually, isRecord, obj, openBound, roundTrip, validSignature } from './support/contract.js';

let node: NodeProcess;
let plain: TestApp;
let hooked: TestApp;
let hook: WebhookServer;

before(async () => {
  hook = await WebhookServer.start((call) => {
    const b: unknown = JSON.parse(call.body);
    const asked = isRecord(b) && isRecord(b.data) ? b.data.answer : undefined;
    if (asked === 'forbidden') return { status: 403, body: '{"nope":true}' };
    if (asked === 'garbage') return { status: 200, body: '<html>not json</html>' };
    const data = isRecord(b) ? { echo: b.data, user: b.user } : null;
    return { status: 200, body: JSON.stringify({ data }) };
  });
  node = await NodeProcess.start();
  plain = await createApp(node, 'frames');
  hooked = await createApp(node, 'hooked', { webhook: hook.url });
});
after(async () => {
  await node.stop();
  await hook.stop();
});

async function push(app: TestApp, user: string, data: unknown): Promise<number> {
  const r = await node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: [user], data } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const results = obj(r.body).results;
  assert.ok(Array.isArray(results));
  const first: unknown = results[0];
  return obj(first, 'result').seq as number;
}

async function publish(topic: string, data: unknown): Promise<number> {
  const r = await node.api('POST', `/v1/apps/${plain.app}/topics/${topic}`, { token: plain.apiKey, body: { data } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return obj(r.body).offset as number;
}

for (const proto of ['json', 'msgpack'] as const satisfies readonly Proto[]) {
  const u = (name: string): string => `${proto}-${name}`;

  test(`${proto}: hello → welcome with session, node and heartbeat`, async () => {
    const a = await TestSocket.open(node.wsUrl, proto);
    const b = await TestSocket.open(node.wsUrl, proto);
    const wa = await a.hello('dev-a');
    const wb = await b.hello('dev-b');
    for (const w of [wa, wb]) {
      assert.equal(w.t, 'welcome');
      assert.equal(typeof w.session, 'string');
      assert.ok((w.session as string).length > 0);
      assert.equal(w.node, 'n1');
      assert.ok(Number.isInteger(w.heartbeat) && (w.heartbeat as number) > 0, JSON.stringify(w));
    }
    assert.notEqual(wa.session, wb.session);
    a.close();
    b.close();
  });

  test(`${proto}: hello with apps binds each app, honouring after`, async () => {
    for (let i = 1; i <= 3; i++) await push(plain, u('hello-apps'), { n: i });
    const s = await TestSocket.open(node.wsUrl, proto);
    const w = await s.hello('dev', [
      { app: plain.app, token: await token(plain.app, plain.tokenSecret, u('hello-apps')), after: 2 },
      { app: hooked.app, token: await token(hooked.app, hooked.tokenSecret, u('hello-apps-2')) },
    ]);
    assert.equal(w.t, 'welcome');
    const b1 = await s.next((f) => f.t === 'bound' && f.app === plain.app);
    assert.deepEqual(b1, { t: 'bound', app: plain.app, user: u('hello-apps'), seq: 3 });
    const b2 = await s.next((f) => f.t === 'bound' && f.app === hooked.app);
    assert.deepEqual(b2, { t: 'bound', app: hooked.app, user: u('hello-apps-2'), seq: 0 });
    const m = await s.nextOfType('msg');
    assert.equal(m.seq, 3);
    assert.deepEqual(m.data, { n: 3 });
    await roundTrip(s);
    assert.equal(s.frames.filter((f) => f.t === 'msg').length, 0, 'after: 2 must skip seqs 1 and 2');
    s.close();
  });

  test(`${proto}: bind → bound with the last inbox seq, then the stored messages`, async () => {
    const fresh = await openBound(node, plain, 'dev', u('bind-fresh'), proto);
    assert.deepEqual(fresh.bound, { t: 'bound', app: plain.app, user: u('bind-fresh'), seq: 0 });
    fresh.s.close();

    await push(plain, u('bind'), 'one');
    await push(plain, u('bind'), { two: [2, 2] });
    const { s, bound } = await openBound(node, plain, 'dev', u('bind'), proto);
    assert.deepEqual(bound, { t: 'bound', app: plain.app, user: u('bind'), seq: 2 });
    const m1 = await s.nextOfType('msg');
    const m2 = await s.nextOfType('msg');
    assert.equal(m1.app, plain.app);
    assert.equal(m1.seq, 1);
    assert.equal(m1.data, 'one');
    assert.equal(m1.qos, 1);
    assert.equal(typeof m1.id, 'string');
    assert.equal(typeof m1.ts, 'number');
    assert.equal(m2.seq, 2);
    assert.deepEqual(m2.data, { two: [2, 2] });
    s.close();
  });

  test(`${proto}: unbind stops delivery on that connection, topics of the app included`, async () => {
    const { s } = await openBound(node, plain, 'dev', u('unbind'), proto);
    // Subscribing needs the app bound, so unbinding ends its subscriptions too.
    s.send({ t: 'sub', app: plain.app, topic: u('unbind-topic') });
    await roundTrip(s);
    s.send({ t: 'unbind', app: plain.app });
    // docs/PROTOCOL.md (project section): {"t":"unbound","app"} answers unbind.
    assert.deepEqual(await s.nextOfType('unbound'), { t: 'unbound', app: plain.app });
    await push(plain, u('unbind'), 'after-unbind');
    await publish(u('unbind-topic'), 'after-unbind');
    await roundTrip(s);
    assert.equal(s.frames.filter((f) => f.t === 'msg' || f.t === 'pub').length, 0, JSON.stringify(s.frames));
    const status = await node.api('GET', `/v1/apps/${plain.app}/users/${u('unbind')}`, { token: plain.apiKey });
    assert.equal(obj(status.body).online, false, JSON.stringify(status.body));
    // The connection is still usable: binding again delivers the message.
    const b = await s.bind(plain.app, await token(plain.app, plain.tokenSecret, u('unbind')));
    assert.equal(b.t, 'bound');
    assert.equal((await s.nextOfType('msg')).data, 'after-unbind');
    s.close();
  });

  test(`${proto}: ack is cumulative and survives a reconnect`, async () => {
    for (let i = 1; i <= 3; i++) await push(plain, u('ack'), i);
    const first = await openBound(node, plain, 'dev', u('ack'), proto);
    for (let i = 1; i <= 3; i++) assert.equal((await first.s.nextOfType('msg')).seq, i);
    first.s.send({ t: 'ack', app: plain.app, seq: 3 });
    await roundTrip(first.s);
    assert.equal(first.s.frames.filter((f) => f.t === 'error').length, 0, JSON.stringify(first.s.frames));
    first.s.close();
    await first.s.closed;
    // The session leaves the register after the cursor is written: wait for that, not for a clock.
    await eventually(async () => {
      const r = await node.api('GET', `/v1/apps/${plain.app}/users/${u('ack')}`, { token: plain.apiKey });
      return obj(r.body).online === false ? true : undefined;
    }, 'the user to go offline');
    const again = await openBound(node, plain, 'dev', u('ack'), proto);
    assert.equal(again.bound.seq, 3);
    await roundTrip(again.s);
    assert.equal(again.s.frames.filter((f) => f.t === 'msg').length, 0, 'acked messages came again');
    await push(plain, u('ack'), 4);
    assert.equal((await again.s.nextOfType('msg')).seq, 4);
    again.s.close();
  });

  test(`${proto}: ping → pong`, async () => {
    const s = await TestSocket.open(node.wsUrl, proto);
    await s.hello('dev');
    for (let i = 0; i < 3; i++) {
      s.send({ t: 'ping' });
      assert.deepEqual(await s.nextOfType('pong'), { t: 'pong' });
    }
    s.close();
  });

  test(`${proto}: up on an app without a webhook → reply ok:false no-webhook`, async () => {
    const { s } = await openBound(node, plain, 'dev', u('up-none'), proto);
    s.send({ t: 'up', app: plain.app, id: 'up-1', data: { q: 1 } });
    assert.deepEqual(await s.nextOfType('reply'), { t: 'reply', id: 'up-1', ok: false, error: 'no-webhook' });
    s.close();
  });

  test(`${proto}: up → signed webhook call → reply ok:true with its data`, async () => {
    const { s, welcome } = await openBound(node, hooked, 'hook-dev', u('up-hook'), proto);
    const before = hook.calls.length;
    s.send({ t: 'up', app: hooked.app, id: 'up-2', data: { ask: [1, 'two'] } });
    const reply = await s.nextOfType('reply');
    assert.deepEqual(reply, { t: 'reply', id: 'up-2', ok: true, data: { echo: { ask: [1, 'two'] }, user: u('up-hook') } });
    assert.equal(hook.calls.length, before + 1);
    const call = hook.calls[before];
    assert.ok(call !== undefined);
    const ts = call.headers['x-longwire-timestamp'];
    const sig = call.headers['x-longwire-signature'];
    assert.equal(typeof ts, 'string');
    assert.equal(typeof sig, 'string');
    if (typeof ts !== 'string' || typeof sig !== 'string') return;
    assert.match(ts, /^\d+$/);
    // unix milliseconds, not seconds
    assert.ok(Math.abs(Number(ts) - Date.now()) < 10 * 60 * 1000, `timestamp ${ts} is not unix ms`);
    assert.match(sig, /^sha256=[0-9a-f]{64}$/);
    assert.ok(validSignature(hooked.apiKey, ts, call.body, sig), 'signature does not verify under the apiKey');
    assert.ok(!validSignature(hooked.tokenSecret, ts, call.body, sig));
    assert.deepEqual(JSON.parse(call.body), { app: hooked.app, user: u('up-hook'), device: 'hook-dev', session: welcome.session, id: 'up-2', data: { ask: [1, 'two'] } });
    s.close();
  });

  test(`${proto}: up → a webhook's 4xx or non-JSON answer → reply ok:false with an error code`, async () => {
    const { s } = await openBound(node, hooked, 'hook-dev', u('up-fail'), proto);
    for (const answer of ['forbidden', 'garbage']) {
      s.send({ t: 'up', app: hooked.app, id: `fail-${answer}`, data: { answer } });
      const r = await s.nextOfType('reply');
      assert.equal(r.id, `fail-${answer}`);
      assert.equal(r.ok, false, JSON.stringify(r));
      assert.equal(typeof r.error, 'string', JSON.stringify(r));
      assert.ok((r.error as string).length > 0);
      assert.equal(r.data, undefined);
    }
    // The connection keeps working.
    s.send({ t: 'up', app: hooked.app, id: 'fine', data: 1 });
    assert.deepEqual(await s.nextOfType('reply'), { t: 'reply', id: 'fine', ok: true, data: { echo: 1, user: u('up-fail') } });
    s.close();
  });

  test(`${proto}: sub → pub frames with increasing offsets; unsub stops them`, async () => {
    const topic = u('news');
    const { s } = await openBound(node, plain, 'dev', u('sub'), proto);
    s.send({ t: 'sub', app: plain.app, topic });
    await roundTrip(s);
    const offsets: number[] = [];
    for (let i = 1; i <= 3; i++) offsets.push(await publish(topic, { n: i }));
    let last = 0;
    for (let i = 1; i <= 3; i++) {
      const p = await s.nextOfType('pub');
      assert.equal(p.app, plain.app);
      assert.equal(p.topic, topic);
      assert.deepEqual(p.data, { n: i });
      assert.equal(typeof p.ts, 'number');
      assert.equal(p.offset, offsets[i - 1]);
      assert.ok((p.offset as number) > last, `offsets must increase: ${String(p.offset)} after ${last}`);
      last = p.offset as number;
    }
    s.send({ t: 'unsub', app: plain.app, topic });
    await roundTrip(s);
    await publish(topic, { n: 4 });
    await roundTrip(s);
    assert.equal(s.frames.filter((f) => f.t === 'pub').length, 0, JSON.stringify(s.frames));
    s.close();
  });

  test(`${proto}: sub with after recovers the topic history`, async () => {
    const topic = u('history');
    const offsets: number[] = [];
    for (let i = 1; i <= 4; i++) offsets.push(await publish(topic, `h${i}`));
    const { s } = await openBound(node, plain, 'dev', u('sub-after'), proto);
    const from = offsets[1];
    assert.ok(from !== undefined);
    s.send({ t: 'sub', app: plain.app, topic, after: from });
    const got: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const p = await s.nextOfType('pub');
      got.push([p.offset, p.data]);
    }
    assert.deepEqual(got, [
      [offsets[2], 'h3'],
      [offsets[3], 'h4'],
    ]);
    // and then live ones
    const live = await publish(topic, 'h5');
    const p = await s.nextOfType('pub');
    assert.deepEqual([p.offset, p.data], [live, 'h5']);
    s.close();
  });
}

test('heartbeat: a connection silent for 2× heartbeat plus grace is closed; one that pings stays', { timeout: 60_000 }, async () => {
  const own = await NodeProcess.start({ args: ['--heartbeat', '1'] });
  try {
    const silent = await TestSocket.open(own.wsUrl);
    const w = await silent.hello('quiet');
    assert.equal(w.heartbeat, 1);
    const lively = await TestSocket.open(own.wsUrl, 'msgpack');
    await lively.hello('chatty');
    let silentClosed: { code: number } | undefined;
    void silent.closed.then((c) => (silentClosed = c));
    // Ping once a second until the silent one is closed (2 s + 5 s grace by the docs), at most 20 times.
    for (let i = 0; i < 20 && silentClosed === undefined; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      lively.send({ t: 'ping' });
      await lively.nextOfType('pong');
    }
    assert.ok(silentClosed !== undefined, 'the silent connection was not closed');
    // 4011 idle (docs/PROTOCOL.md, close codes added).
    assert.equal(silentClosed.code, 4011);
    lively.send({ t: 'ping' });
    await lively.nextOfType('pong');
    lively.close();
  } finally {
    await own.stop();
  }
});
