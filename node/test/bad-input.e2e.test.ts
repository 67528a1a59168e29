// Bad input against a real node process, each case with the answer
// docs/PROTOCOL.md documents, and after each one a push to another connected
// client still arrives: a bad client or request never takes the node down.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { NodeProcess } from './support/node-process.js';
import { KeeperClient } from '../../keeper/src/keeper-client.js';
import { KeeperError } from '../../keeper/src/errors.js';
import { TestSocket, createApp, token, type Frame, type Proto, type TestApp } from './support/ws-client.js';
import { Witness, assertApiError, assertErrorFrame, eventually, headOnly, obj, rawUpgrade, roundTrip } from './support/contract.js';
import { connect, type Socket } from 'node:net';

let node: NodeProcess;
let app: TestApp;
let other: TestApp;
let witness: Witness;

before(async () => {
  node = await NodeProcess.start();
  app = await createApp(node, 'bad');
  other = await createApp(node, 'bad-other');
  witness = await Witness.open(node, app);
});
after(async () => {
  witness.s.close();
  await node.stop();
});

/** Waits for the close and returns its code, checking the error frame sent before it (when `errCode` is given). */
async function closedWith(s: TestSocket, code: number, errCode?: string): Promise<Frame | undefined> {
  const c = await s.closed;
  assert.equal(c.code, code, `closed with ${c.code} (${c.reason}); frames ${JSON.stringify(s.frames).slice(0, 400)}`);
  if (errCode === undefined) return undefined;
  const e = s.frames.find((f) => f.t === 'error');
  assert.ok(e !== undefined, `no error frame before close ${code}`);
  assertErrorFrame(e, errCode);
  assert.ok((e.message as string).length > 0);
  return e;
}

async function helloed(proto: Proto = 'json'): Promise<TestSocket> {
  const s = await TestSocket.open(node.wsUrl, proto);
  await s.hello('bad-device');
  return s;
}

const push = (users: unknown, data: unknown = 'x', extra: Record<string, unknown> = {}) =>
  node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users, data, ...extra } });

test('the witness client receives pushes', async () => {
  await witness.check();
});

test('malformed JSON text frame → error protocol-error, close 4000', async () => {
  const s = await helloed();
  s.sendRaw('{"t":"ping",');
  await closedWith(s, 4000, 'protocol-error');
  await witness.check();
});

test('malformed MessagePack binary frame → error protocol-error, close 4000', async () => {
  const s = await helloed('msgpack');
  // A map header announcing two entries, then one key and nothing more.
  s.sendRaw(Buffer.from([0x82, 0xa1, 0x74]));
  await closedWith(s, 4000, 'protocol-error');
  const t = await helloed('msgpack');
  t.sendRaw(Buffer.from([0xc1]));
  await closedWith(t, 4000, 'protocol-error');
  await witness.check();
});

test('binary frame on the JSON subprotocol → error protocol-error, close 4000', async () => {
  const s = await helloed();
  s.sendRaw(Buffer.from(JSON.stringify({ t: 'ping' })));
  await closedWith(s, 4000, 'protocol-error');
  await witness.check();
});

test('text frame on the MessagePack subprotocol → error protocol-error, close 4000', async () => {
  const s = await helloed('msgpack');
  s.sendRaw(JSON.stringify({ t: 'ping' }));
  await closedWith(s, 4000, 'protocol-error');
  await witness.check();
});

test('unknown frame type → error protocol-error naming it, close 4000', async () => {
  for (const proto of ['json', 'msgpack'] as const) {
    const s = await helloed(proto);
    s.send({ t: 'teleport', app: app.app });
    const e = await closedWith(s, 4000, 'protocol-error');
    assert.match(String(e?.message), /teleport/);
  }
  const noType = await helloed();
  noType.sendRaw('[1,2,3]');
  await closedWith(noType, 4000, 'protocol-error');
  await witness.check();
});

test('a frame whose values nest deeply (≈20,000 levels in 40 KB) → error protocol-error, close 4000; the node stays up', async () => {
  const depth = 20_000;
  const nested = '['.repeat(depth) + ']'.repeat(depth);
  // As the frame type, before hello: validated before anything else.
  const a = await TestSocket.open(node.wsUrl);
  a.sendRaw(`{"t":${nested}}`);
  await closedWith(a, 4000, 'protocol-error');
  // As a field of a known frame, after hello.
  const b = await helloed();
  b.sendRaw(`{"t":"sub","app":"${app.app}","topic":${nested}}`);
  await closedWith(b, 4000, 'protocol-error');
  // MessagePack: fixarray-of-one headers, nested as deep as fits.
  const c = await helloed('msgpack');
  c.sendRaw(Buffer.concat([Buffer.from([0x81, 0xa1, 0x74]), Buffer.alloc(3000, 0x91), Buffer.from([0xc0])]));
  await closedWith(c, 4000, 'protocol-error');
  assert.equal((await node.api('GET', '/healthz', { token: null })).status, 200);
  await witness.check();
});

test('bind before hello → error protocol-error, close 4000', async () => {
  const s = await TestSocket.open(node.wsUrl);
  s.send({ t: 'bind', app: app.app, token: await token(app.app, app.tokenSecret, 'early') });
  await closedWith(s, 4000, 'protocol-error');
  const status = obj((await node.api('GET', `/v1/apps/${app.app}/users/early`, { token: app.apiKey })).body);
  assert.equal(status.online, false);
  await witness.check();
});

test('hello sent twice → error protocol-error, close 4000', async () => {
  const s = await helloed();
  s.send({ t: 'hello', device: 'again' });
  await closedWith(s, 4000, 'protocol-error');
  await witness.check();
});

test('no hello within 10 s → error no-hello, close 4003', { timeout: 30_000 }, async () => {
  const s = await TestSocket.open(node.wsUrl);
  // The witness keeps being served while this connection waits.
  await witness.check();
  await closedWith(s, 4003, 'no-hello');
  await witness.check();
});

test('a frame over 64 KiB → close 1009', async () => {
  const s = await helloed();
  s.send({ t: 'ping', pad: 'x'.repeat(70 * 1024) });
  await closedWith(s, 1009);
  const m = await helloed('msgpack');
  m.send({ t: 'up', app: app.app, id: 'big', data: 'y'.repeat(70 * 1024) });
  await closedWith(m, 1009);
  // A frame just under the limit is fine.
  const ok = await helloed();
  ok.send({ t: 'ping', pad: 'z'.repeat(60 * 1024) });
  await ok.nextOfType('pong');
  ok.close();
  await witness.check();
});

const badTokens: [string, () => Promise<{ app: string; token: string }>][] = [
  ['a token that is not a JWT', async () => ({ app: app.app, token: 'not.a.jwt' })],
  ['an expired token', async () => ({ app: app.app, token: await token(app.app, app.tokenSecret, 'u', { expSeconds: -60 }) })],
  ['a token for another app (claim app)', async () => ({ app: app.app, token: await token(app.app, app.tokenSecret, 'u', { claimApp: other.app }) })],
  ["another app's valid token", async () => ({ app: app.app, token: await token(other.app, other.tokenSecret, 'u') })],
  ['a token signed with the wrong secret', async () => ({ app: app.app, token: await token(app.app, 'the-wrong-secret-0123456789', 'u') })],
  [
    'an unsigned token (alg none)',
    async () => {
      const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
      return { app: app.app, token: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'u', app: app.app, exp: Math.floor(Date.now() / 1000) + 3600 })}.` };
    },
  ],
  ['a token for an app that does not exist', async () => ({ app: 'no-such-app', token: await token('no-such-app', app.tokenSecret, 'u') })],
];

for (const [name, make] of badTokens) {
  test(`bind with ${name} → error unauthorized, close 4001`, async () => {
    const { app: a, token: t } = await make();
    const s = await helloed();
    s.send({ t: 'bind', app: a, token: t });
    await closedWith(s, 4001, 'unauthorized');
    // The same in hello's apps.
    const h = await TestSocket.open(node.wsUrl, 'msgpack');
    h.send({ t: 'hello', device: 'd', apps: [{ app: a, token: t }] });
    await closedWith(h, 4001, 'unauthorized');
    await witness.check();
  });
}

test('a token without exp is refused with 4001', async () => {
  const t = await new SignJWT({ app: app.app }).setProtectedHeader({ alg: 'HS256' }).setSubject('u').sign(new TextEncoder().encode(app.tokenSecret));
  const s = await helloed();
  s.send({ t: 'bind', app: app.app, token: t });
  await closedWith(s, 4001, 'unauthorized');
  await witness.check();
});

test('ack of a seq never sent → error invalid-ack, the connection stays open', async () => {
  await push(['acker'], 'one');
  const s = await helloed();
  const b = await s.bind(app.app, await token(app.app, app.tokenSecret, 'acker'));
  assert.equal(b.t, 'bound');
  assert.equal((await s.nextOfType('msg')).seq, 1);
  s.send({ t: 'ack', app: app.app, seq: 99 });
  assertErrorFrame(await s.nextOfType('error'), 'invalid-ack');
  await roundTrip(s);
  // Still bound and delivering.
  await push(['acker'], 'two');
  assert.equal((await s.nextOfType('msg')).seq, 2);
  s.send({ t: 'ack', app: app.app, seq: 2 });
  await roundTrip(s);
  assert.equal(s.frames.filter((f) => f.t === 'error').length, 0, JSON.stringify(s.frames));
  s.close();
  await witness.check();
});

test('a flood of 2,000 pings → error rate-limited, then close 4008; another client is unaffected', async () => {
  const s = await helloed();
  // The first pings are answered before the flood: a loaded machine could otherwise read all 2,000 in one chunk.
  for (let i = 0; i < 10; i++) s.send({ t: 'ping' });
  await s.nextOfType('pong');
  for (let i = 0; i < 1990; i++) s.send({ t: 'ping' });
  await witness.check();
  await closedWith(s, 4008);
  const first = s.frames.find((f) => f.t === 'error');
  assert.ok(first !== undefined, 'no error frame before close 4008');
  assertErrorFrame(first, 'rate-limited');
  const pongs = s.frames.filter((f) => f.t === 'pong').length + 1;
  assert.ok(pongs < 2000, `pongs: ${pongs}`);
  await witness.check();
});

test('a push naming 10,001 users → 400 too-many-users', async () => {
  const users = Array.from({ length: 10_001 }, (_, i) => `many-${i}`);
  assertApiError(await push(users), 400, 'too-many-users');
  await witness.check();
});

test('invalid app names in routes → 400', async () => {
  const cfg = { apiKey: 'some-api-key-0123456789', tokenSecret: 'some-token-secret-0123456789' };
  const long = 'a'.repeat(65);
  for (const name of ['-starts-with-dash', 'has%20space', long, 'bad%2Fslash', '.dot']) {
    assertApiError(await node.api('PUT', `/v1/apps/${name}`, { body: cfg }), 400);
    assertApiError(await node.api('GET', `/v1/apps/${name}`), 400);
    assertApiError(await node.api('POST', `/v1/apps/${name}/push`, { token: app.apiKey, body: { users: ['u'], data: 1 } }), 400);
    assertApiError(await node.api('POST', `/v1/apps/${name}/broadcast`, { token: app.apiKey, body: { data: 1 } }), 400);
    assertApiError(await node.api('POST', `/v1/apps/${name}/topics/t`, { token: app.apiKey, body: { data: 1 } }), 400);
    assertApiError(await node.api('GET', `/v1/apps/${name}/users/u`, { token: app.apiKey }), 400);
    assertApiError(await node.api('POST', `/v1/apps/${name}/users/u/kick`, { token: app.apiKey, body: {} }), 400);
  }
  // And in frames: an invalid app name in bind is a protocol error.
  const s = await helloed();
  s.send({ t: 'bind', app: '-nope', token: 'x' });
  await closedWith(s, 4000, 'protocol-error');
  await witness.check();
});

test('data over 32 KiB → 413 too-large', async () => {
  const big = 'd'.repeat(33 * 1024);
  assertApiError(await push(['u'], big), 413, 'too-large');
  assertApiError(await node.api('POST', `/v1/apps/${app.app}/broadcast`, { token: app.apiKey, body: { data: big } }), 413, 'too-large');
  assertApiError(await node.api('POST', `/v1/apps/${app.app}/topics/t`, { token: app.apiKey, body: { data: big } }), 413, 'too-large');
  // Just under the limit is accepted.
  const r = await push(['u'], 'd'.repeat(31 * 1024));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await witness.check();
});

test('deeply nested data is refused with 400, or else delivered to JSON and MessagePack devices alike', async () => {
  for (const depth of [2000, 12_000]) {
    const user = `deep-${depth}`;
    const nested = '['.repeat(depth) + ']'.repeat(depth);
    const raw = `{"users":["${user}"],"data":${nested}}`;
    const r = await node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, rawBody: raw });
    if (r.status !== 200) {
      // Refused as invalid input: nothing stored.
      assertApiError(r, 400);
    }
    // Either way the user's inbox keeps working on both subprotocols: a later message arrives.
    const after = await push([user], 'after-deep');
    assert.equal(after.status, 200);
    for (const proto of ['json', 'msgpack'] as const) {
      const s = await helloed(proto);
      const b = await s.bind(app.app, await token(app.app, app.tokenSecret, user));
      assert.equal(b.t, 'bound');
      if (r.status === 200) assert.ok(Array.isArray((await s.nextOfType('msg')).data), `${proto}: the accepted deep message`);
      assert.equal((await s.nextOfType('msg')).data, 'after-deep', `${proto}: the message after it`);
      s.close();
    }
  }
  const bc = await node.api('POST', `/v1/apps/${app.app}/broadcast`, { token: app.apiKey, rawBody: `{"data":${'['.repeat(2000) + ']'.repeat(2000)}}` });
  if (bc.status !== 202) assertApiError(bc, 400);
  const tp = await node.api('POST', `/v1/apps/${app.app}/topics/deep`, { token: app.apiKey, rawBody: `{"data":${'['.repeat(2000) + ']'.repeat(2000)}}` });
  if (tp.status !== 200) assertApiError(tp, 400);
  assert.equal((await node.api('GET', '/healthz', { token: null })).status, 200);
  await witness.check();
});

test('data nested 100 levels is delivered; 101 levels → 400 naming the limit (docs/PROTOCOL.md, Limits)', async () => {
  const nest = (levels: number): string => '['.repeat(levels) + '"core"' + ']'.repeat(levels);
  const ok = await node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, rawBody: `{"users":["nest100"],"data":${nest(100)}}` });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const refused = assertApiError(await node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, rawBody: `{"users":["nest100"],"data":${nest(101)}}` }), 400, 'invalid');
  assert.match(refused.message, /100/);
  const s = await helloed('msgpack');
  await s.bind(app.app, await token(app.app, app.tokenSecret, 'nest100'));
  let v: unknown = (await s.nextOfType('msg')).data;
  let levels = 0;
  for (; Array.isArray(v) && levels < 1000; levels++) v = v[0];
  assert.deepEqual([levels, v], [100, 'core']);
  s.close();
  await witness.check();
});

test('a request body over 4 MiB → 413 too-large', async () => {
  const json = { 'content-type': 'application/json' };
  const over = 4 * 1024 * 1024 + 1;
  const r1 = await headOnly(`${node.apiUrl}/v1/apps/${app.app}/push`, 'POST', { ...json, authorization: `Bearer ${app.apiKey}` }, over);
  assertApiError(r1, 413, 'too-large');
  const r2 = await headOnly(`${node.apiUrl}/v1/kv/huge`, 'PUT', { ...json, authorization: `Bearer ${node.adminToken}` }, over);
  assertApiError(r2, 413, 'too-large');
  const r3 = await headOnly(`${node.apiUrl}/v1/apps/${app.app}/broadcast`, 'POST', { ...json, authorization: `Bearer ${app.apiKey}` }, 64 * 1024 * 1024);
  assertApiError(r3, 413, 'too-large');
  await witness.check();
});

test('a service route without an API key → 401', async () => {
  assertApiError(await node.api('POST', `/v1/apps/${app.app}/push`, { token: null, body: { users: ['u'], data: 1 } }), 401, 'unauthorized');
  assertApiError(await node.api('GET', `/v1/apps/${app.app}/users/u`, { token: null }), 401, 'unauthorized');
  assertApiError(await node.api('POST', `/v1/apps/${app.app}/broadcast`, { token: null, body: { data: 1 } }), 401, 'unauthorized');
  await witness.check();
});

test('a service route with a wrong API key → 401', async () => {
  assertApiError(await node.api('POST', `/v1/apps/${app.app}/push`, { token: 'wrong-key-0123456789', body: { users: ['u'], data: 1 } }), 401, 'unauthorized');
  // Another app's key does not open this app.
  assertApiError(await node.api('POST', `/v1/apps/${app.app}/push`, { token: other.apiKey, body: { users: ['u'], data: 1 } }), 401, 'unauthorized');
  // An app that does not exist answers like a wrong key, not revealing which apps exist.
  assertApiError(await node.api('POST', '/v1/apps/nonexistent/push', { token: app.apiKey, body: { users: ['u'], data: 1 } }), 401, 'unauthorized');
  await witness.check();
});

test('an admin route with an app key → 401', async () => {
  assertApiError(await node.api('GET', `/v1/apps/${app.app}`, { token: app.apiKey }), 401, 'unauthorized');
  assertApiError(await node.api('PUT', `/v1/apps/${app.app}`, { token: app.apiKey, body: { apiKey: 'x'.repeat(20), tokenSecret: 'y'.repeat(20) } }), 401, 'unauthorized');
  assertApiError(await node.api('GET', '/v1/cluster', { token: app.apiKey }), 401, 'unauthorized');
  assertApiError(await node.api('GET', '/v1/kv/sys/apps/bad', { token: app.apiKey }), 401, 'unauthorized');
  assertApiError(await node.api('POST', '/v1/leases', { token: app.apiKey, body: { ttl: 5 } }), 401, 'unauthorized');
  assertApiError(await node.api('GET', '/v1/kv/x', { token: 'not-the-admin-token' }), 401, 'unauthorized');
  // The app's secrets were not changed by the refused PUT.
  await witness.check();
});

test('invalid push bodies → 400 with a message naming the field', async () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['missing users', { data: 1 }, /users/],
    ['missing data', { users: ['u'] }, /data/],
    ['users not an array', { users: 'u', data: 1 }, /users/],
    ['an empty user id', { users: [''], data: 1 }, /users/],
    ['qos 2', { users: ['u'], data: 1, qos: 2 }, /qos/],
    ['ttl "x"', { users: ['u'], data: 1, ttl: 'x' }, /ttl/],
    ['ttl 0', { users: ['u'], data: 1, ttl: 0 }, /ttl/],
    ['an extra property', { users: ['u'], data: 1, colour: 'red' }, /colour/],
  ];
  for (const [what, body, field] of cases) {
    const r = await node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body });
    const e = assertApiError(r, 400);
    assert.match(e.message, field, `${what}: ${e.message}`);
  }
  assertApiError(await node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, rawBody: '{"users":["u"],' }), 400);
  const bc = assertApiError(await node.api('POST', `/v1/apps/${app.app}/broadcast`, { token: app.apiKey, body: { data: 1, rate: 'fast' } }), 400);
  assert.match(bc.message, /rate/);
  const ap = assertApiError(await node.api('PUT', '/v1/apps/newapp', { body: { apiKey: 'short', tokenSecret: 'long-enough-secret-0123' } }), 400);
  assert.match(ap.message, /apiKey/);
  await witness.check();
});

test('invalid range read parameters → 400 naming them; the node goes on', async () => {
  for (const q of ['limit=0', 'limit=-1', 'limit=1.5', 'limit=lots', 'limit=1000001', 'keysOnly=yes', 'countOnly=1', `after=${'k'.repeat(1025)}`]) {
    const r = await node.api('GET', `/v1/kv/x/?prefix=true&${q}`);
    assertApiError(r, 400, 'invalid');
    const name = q.split('=')[0] ?? '';
    assert.match(String(obj(obj(r.body).error).message), new RegExp(name), `${q}: the message names ${name}`);
  }
  const single = await node.api('GET', '/v1/kv/x?after=a');
  assertApiError(single, 400, 'invalid');
  assert.match(String(obj(obj(single.body).error).message), /prefix=true/);
  assert.equal((await node.api('GET', '/v1/kv/x/?prefix=true&limit=1000000')).status, 200, 'the largest limit is taken');
  await witness.check();
});

test('invalid transactions → 400 naming the fault, secrets → 403; nothing is written', async () => {
  const before = obj((await node.api('GET', '/v1/kv/?prefix=true&countOnly=true')).body).count;
  const cases: [unknown, RegExp][] = [
    [{ compare: [{ key: '/a', target: 'colour', op: '=', value: 1 }] }, /target/],
    [{ compare: [{ key: '/a', target: 'version', op: '~', value: 1 }] }, /op/],
    [{ compare: [{ key: '/a', target: 'version', op: '=', value: 'one' }] }, /integer/],
    [{ compare: [{ key: '/a', target: 'modRevision', op: '=', value: -1 }] }, /integer of 0 or more/],
    [{ compare: [{ key: '/a', target: 'value', op: '=', value: 7 }] }, /string value/],
    [{ compare: [{ key: '/a', target: 'value', op: '=' }] }, /value/],
    [{ success: [{ put: { key: '/a' } }] }, /value/],
    [{ success: [{ get: { key: '/a', limit: 0 } }] }, /limit/],
    [{ success: [{ get: { key: '/a', consistency: 'serializable' } }] }, /consistency|additional/],
    [{ success: [{ scan: { key: '/a' } }] }, /scan|additional/],
    [{ success: [{ put: { key: '/a', value: '1' }, delete: { key: '/b' } }] }, /more than 1|maxProperties|properties/],
    [{ success: [{}] }, /fewer than 1|minProperties|properties/],
    [{ success: Array.from({ length: 129 }, (_, i) => ({ put: { key: `/many/${i}`, value: '1' } })) }, /128/],
    [{ success: [{ put: { key: '', value: '1' } }] }, /key|fewer than 1/],
    [{ extra: true }, /extra/],
  ];
  for (const [body, why] of cases) {
    const r = await node.api('POST', '/v1/txn', { body });
    assertApiError(r, 400, 'invalid');
    assert.match(String(obj(obj(r.body).error).message), why, JSON.stringify(body).slice(0, 120));
  }
  // A value compare on an app record or a secret would answer whether a guess was right.
  for (const key of [`/sys/apps/${app.app}`, '/sys/secrets/peer']) {
    assertApiError(await node.api('POST', '/v1/txn', { body: { compare: [{ key, target: 'value', op: '=', value: 'guess' }] } }), 403, 'forbidden');
  }
  assertApiError(await node.api('POST', '/v1/txn', { body: { success: [{ put: { key: '/sys/secrets/x', value: '1' } }] } }), 403, 'forbidden');
  assertApiError(await node.api('POST', '/v1/txn', { body: { failure: [{ delete: { key: '/sys/', prefix: true } }] } }), 403, 'forbidden');
  assert.equal(obj((await node.api('GET', '/v1/kv/?prefix=true&countOnly=true')).body).count, before, 'nothing was written');
  await witness.check();
});

test('a WebSocket upgrade with no or an unknown subprotocol is closed', async () => {
  const none = await rawUpgrade(node.wsUrl, []);
  assert.equal(none.code, 4000);
  const unknown = await rawUpgrade(node.wsUrl, ['longwire.v2.json']);
  assert.equal(unknown.opened, false, 'an unknown subprotocol was accepted');
  const path = await rawUpgrade(node.wsUrl.replace('/ws', '/other'), ['longwire.v1.json']);
  assert.equal(path.opened, false);
  await witness.check();
});

test('a value under /sys/apps/ that is not an app config (written through /v1/kv) does not take the node down, nor its restart', async () => {
  for (const [key, value] of [
    ['junk', 'not json'],
    ['half', '{"app":"half"}'],
    ['list', '[1,2]'],
  ] as const) {
    const r = await node.api('PUT', `/v1/kv/sys/apps/${key}`, { body: { value } });
    assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), `${r.status} ${JSON.stringify(r.body)}`);
    if (r.status !== 200) assertApiError(r, r.status);
    const s = await helloed();
    // No secret to check a token against: the app does not exist for clients.
    s.send({ t: 'bind', app: key, token: await token(key, 'undefined', 'u') });
    await closedWith(s, 4001, 'unauthorized');
  }
  assert.equal((await node.api('GET', '/healthz', { token: null })).status, 200);
  const list = await node.api('GET', '/v1/apps');
  assert.equal(list.status, 200, JSON.stringify(list.body));
  await witness.check();
  for (const key of ['junk', 'half', 'list']) assert.equal((await node.api('DELETE', `/v1/kv/sys/apps/${key}`)).status, 200);

  // A node restarted over such a value starts.
  const own = await NodeProcess.start();
  try {
    const a = await createApp(own, 'kept');
    assert.equal((await own.api('PUT', '/v1/kv/sys/apps/junk', { body: { value: '{{{' } })).status, 200);
    await own.stop({ keepData: true });
    const again = await NodeProcess.start({ dataDir: own.dataDir, peerPort: own.peerPort, gatewayPort: own.gatewayPort, apiPort: own.apiPort });
    try {
      const r = await again.api('POST', '/v1/apps/kept/push', { token: a.apiKey, body: { users: ['u'], data: 1 } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    } finally {
      await again.stop();
    }
  } finally {
    await own.stop();
  }
});

test('a badly encoded or overlong URL parameter → 400 in the error shape; a 256-character user id works in every route', async () => {
  assertApiError(await node.api('GET', `/v1/apps/${app.app}/users/%E0%A4%A`, { token: app.apiKey }), 400);
  assertApiError(await node.api('GET', `/v1/apps/${app.app}/users/${'u'.repeat(5000)}`, { token: app.apiKey }), 400);
  assertApiError(await node.api('GET', `/v1/apps/${app.app}/users/${'u'.repeat(257)}`, { token: app.apiKey }), 400);
  assertApiError(await node.api('GET', `/v1/apps/${app.app}/broadcasts/${'j'.repeat(300)}`, { token: app.apiKey }), 400);
  // Push accepts user ids up to 256 characters, so status and kick must reach them too.
  const long = 'L'.repeat(256);
  assert.equal((await push([long], 'to-long')).status, 200);
  const s = await helloed();
  assert.equal((await s.bind(app.app, await token(app.app, app.tokenSecret, long))).t, 'bound');
  assert.equal((await s.nextOfType('msg')).data, 'to-long');
  const st = await node.api('GET', `/v1/apps/${app.app}/users/${long}`, { token: app.apiKey });
  assert.equal(st.status, 200, JSON.stringify(st.body).slice(0, 300));
  assert.equal(obj(st.body).online, true);
  const emoji = '\u{1F600}'.repeat(128);
  const est = await node.api('GET', `/v1/apps/${app.app}/users/${encodeURIComponent(emoji)}`, { token: app.apiKey });
  assert.equal(est.status, 200, JSON.stringify(est.body).slice(0, 300));
  assert.equal(obj(est.body).user, emoji);
  const k = await node.api('POST', `/v1/apps/${app.app}/users/${long}/kick`, { token: app.apiKey });
  assert.deepEqual(k.body, { kicked: 1 });
  assert.equal((await s.closed).code, 4002);
  const topic = await node.api('POST', `/v1/apps/${app.app}/topics/${'T'.repeat(256)}`, { token: app.apiKey, body: { data: 1 } });
  assert.equal(topic.status, 200, JSON.stringify(topic.body).slice(0, 300));
  await witness.check();
});

test('an unknown route → 404 in the error shape; the node is still healthy', async () => {
  const h = await node.api('GET', '/healthz', { token: null });
  assert.equal(h.status, 200);
  assertApiError(await node.api('GET', '/v1/no-such-route'), 404);
  await witness.check();
});

function kvBytesHeld(metrics: string): number {
  const held = /^longwire_keeper_kv_bytes (\d+)$/m.exec(metrics)?.[1];
  assert.ok(held !== undefined, 'longwire_keeper_kv_bytes in /metrics');
  return Number(held);
}

test('keeper writes past the space quota → 507 no-space; deletes go, and connections and pushes are untouched', async () => {
  const own = await NodeProcess.start({ args: ['--keeper-quota-mb', '1'] });
  try {
    const a = await createApp(own, 'quota');
    const s = await TestSocket.open(own.wsUrl, 'json');
    await s.hello('quota-device');
    await s.bind(a.app, await token(a.app, a.tokenSecret, 'u1'));
    const value = 'v'.repeat(256 * 1024 - 16); // under the 256 KiB value limit
    for (let i = 0; i < 3; i++) assert.equal((await own.api('PUT', `/v1/kv/fill/${i}`, { body: { value } })).status, 200);
    const refused = await own.api('PUT', '/v1/kv/fill/3', { body: { value } });
    assertApiError(refused, 507, 'no-space');
    assert.match(String(obj(obj(refused.body).error).message), /quota of 1048576/);
    const client = new KeeperClient({ endpoints: [own.apiUrl], adminToken: own.adminToken });
    await assert.rejects(client.put('/fill/3', value), (e: unknown) => e instanceof KeeperError && e.code === 'no-space');
    // A transaction is counted by the branch that would grow the store most, whichever runs.
    await assert.rejects(
      client.txn({ compare: [{ key: '/fill/0', target: 'version', op: '=', value: 99 }], success: [{ put: { key: '/fill/3', value } }], failure: [] }),
      (e: unknown) => e instanceof KeeperError && e.code === 'no-space',
    );
    assert.deepEqual(obj((await own.api('GET', '/v1/kv/fill/3')).body).kvs, [], 'the refused put wrote nothing');
    // Filled to within 10 bytes of the quota, then: the node's own records live in the same store, and a new app is refused the same way.
    const room = 1048576 - kvBytesHeld(String((await own.api('GET', '/metrics', { token: null })).body));
    assert.equal((await own.api('PUT', '/v1/kv/pad', { body: { value: 'p'.repeat(room - '/pad'.length - 10) } })).status, 200);
    assertApiError(await own.api('PUT', '/v1/apps/quota2', { body: { apiKey: 'key-quota2-0123456789abcdef', tokenSecret: 'secret-quota2-0123456789abcdef' } }), 507, 'no-space');
    // Connections (the register is not counted) and pushes go on.
    const pushed = await own.api('POST', `/v1/apps/${a.app}/push`, { token: a.apiKey, body: { users: ['u1'], data: 'still here' } });
    assert.equal(pushed.status, 200, JSON.stringify(pushed.body));
    assert.equal((await s.nextOfType('msg')).data, 'still here');
    const metrics = String((await own.api('GET', '/metrics', { token: null })).body);
    assert.match(metrics, /^longwire_keeper_quota_bytes 1048576$/m);
    assert.equal(kvBytesHeld(metrics), 1048576 - 10);
    // Deletes always go, and free the room.
    assert.equal((await own.api('DELETE', '/v1/kv/fill/0')).status, 200);
    assert.equal((await own.api('PUT', '/v1/kv/fill/3', { body: { value } })).status, 200);
    s.close();
  } finally {
    await own.stop();
  }
});

test('API connections past --api-connections-max are closed at once; the gateway goes on, and the API once they go', async () => {
  const own = await NodeProcess.start({ args: ['--api-connections-max', '8'] });
  const idle: Socket[] = [];
  try {
    const a = await createApp(own, 'conns');
    const s = await TestSocket.open(own.wsUrl, 'json');
    await s.hello('conns-device');
    await s.bind(a.app, await token(a.app, a.tokenSecret, 'u1'));
    // Twelve connections that never send a request; the test's own keep-alive connection may hold a slot too.
    const closed = new Set<Socket>();
    for (let i = 0; i < 12; i++) {
      const c = connect(own.apiPort, '127.0.0.1');
      c.on('error', () => undefined);
      c.on('close', () => closed.add(c));
      idle.push(c);
      await new Promise<void>((resolve) => {
        c.once('connect', resolve);
        c.once('close', resolve);
      });
    }
    await eventually(async () => (closed.size >= 4 ? true : undefined), 'at least the four past the cap closed by the node');
    assert.ok(idle.length - closed.size <= 8, `${idle.length - closed.size} idle connections held open past the cap of 8`);
    // The gateway's port is another listener: a new client connects and says hello.
    const other = await TestSocket.open(own.wsUrl, 'json');
    await other.hello('conns-other');
    other.close();
    for (const c of idle) c.destroy();
    const pushed = await eventually(async () => {
      const r = await own.api('POST', `/v1/apps/${a.app}/push`, { token: a.apiKey, body: { users: ['u1'], data: 'after the flood' } }).catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, 'a push once the idle connections are gone');
    assert.equal(pushed.status, 200);
    assert.equal((await s.nextOfType('msg')).data, 'after the flood');
    const metrics = String((await own.api('GET', '/metrics', { token: null })).body);
    const refused = Number(/^longwire_api_connections_refused_total (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(refused >= 4, `longwire_api_connections_refused_total ${refused}`);
    s.close();
  } finally {
    for (const c of idle) c.destroy();
    await own.stop();
  }
});

test('watch streams past --watches-max → 429 too-many-watches with Retry-After; writes go on, and a closed stream frees its place', async () => {
  const own = await NodeProcess.start({ args: ['--watches-max', '2'] });
  const streams: { close(): void }[] = [];
  try {
    const open = async (): Promise<{ status: number; close(): void; body(): Promise<string> }> => {
      const ac = new AbortController();
      const res = await fetch(`${own.apiUrl}/v1/watch?key=w/`, { headers: { authorization: `Bearer ${own.adminToken}` }, signal: ac.signal });
      return { status: res.status, close: () => ac.abort(), body: () => res.text() };
    };
    for (let i = 0; i < 2; i++) {
      const s = await open();
      assert.equal(s.status, 200);
      streams.push(s);
    }
    const refused = await fetch(`${own.apiUrl}/v1/watch?key=w/`, { headers: { authorization: `Bearer ${own.adminToken}` } });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '5');
    const body = obj(await refused.json());
    assert.equal(obj(body.error).code, 'too-many-watches');
    assert.match(String(obj(body.error).message), /--watches-max/);
    assert.equal((await own.api('PUT', '/v1/kv/w/x', { body: { value: 'still written' } })).status, 200);
    const metrics = String((await own.api('GET', '/metrics', { token: null })).body);
    assert.match(metrics, /^longwire_keeper_watch_streams_refused_total 1$/m);
    // The keeper client waits out the refusals (Retry-After) and, once a stream closes and frees
    // its place, streams from where its watch stood: a put made while it waited is not missed.
    const client = new KeeperClient({ endpoints: [own.apiUrl], adminToken: own.adminToken });
    const seen: string[] = [];
    const w = client.watch('/w/', { prefix: true }, { onEvents: (es) => seen.push(...es.map((e) => e.key)) });
    streams.push({ close: () => w.cancel() });
    await w.ready;
    // Refused, it waits the 5 s the node asked for rather than its 200 ms retry delay.
    await new Promise((r) => setTimeout(r, 1500));
    const refusals = Number(/^longwire_keeper_watch_streams_refused_total (\d+)$/m.exec(String((await own.api('GET', '/metrics', { token: null })).body))?.[1]);
    assert.ok(refusals >= 2 && refusals <= 3, `the client was refused ${refusals - 1} times in 1.5 s`);
    assert.equal((await own.api('PUT', '/v1/kv/w/late', { body: { value: 'written while the watch waited' } })).status, 200);
    streams.shift()?.close();
    await eventually(async () => (seen.includes('/w/late') ? true : undefined), 'the client watch streaming once a place freed', 200, 100);
  } finally {
    for (const s of streams) s.close();
    await own.stop();
  }
});
