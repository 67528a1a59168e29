// Every HTTP route of docs/PROTOCOL.md against a real node process: apps,
// push (unicast and multicast), broadcast jobs, topics, user status, kick,
// health/readiness/metrics, the cluster view, and the keeper's kv, leases and
// watch stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { NodeProcess } from './support/node-process.js';
import { TestSocket, createApp, token, type Frame, type TestApp } from './support/ws-client.js';
import { assertApiError, assertErrorFrame, eventually, isRecord, obj, openBound, roundTrip } from './support/contract.js';

let node: NodeProcess;
let app: TestApp;

before(async () => {
  node = await NodeProcess.start();
  app = await createApp(node, 'routes');
});
after(async () => {
  await node.stop();
});

function results(body: unknown): unknown[] {
  const r = obj(body).results;
  assert.ok(Array.isArray(r), JSON.stringify(body));
  return r;
}

async function userStatus(a: TestApp, user: string): Promise<Record<string, unknown>> {
  const r = await node.api('GET', `/v1/apps/${a.app}/users/${user}`, { token: a.apiKey });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return obj(r.body);
}

test('apps: PUT stores, GET redacts the secrets, DELETE removes', async () => {
  const cfg = {
    apiKey: 'route-app-key-0123456789',
    tokenSecret: 'route-app-secret-0123456789',
    webhook: 'http://127.0.0.1:9/hook',
    limits: { pushPerSecond: 0, upstreamPerSecond: 5, maxInbox: 10, defaultTtl: 60, maxRedeliveries: 2 },
  };
  const put = await node.api('PUT', '/v1/apps/crud.app-1', { body: cfg });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.ok(!JSON.stringify(put.body).includes(cfg.apiKey) && !JSON.stringify(put.body).includes(cfg.tokenSecret), 'PUT answer echoes a secret');

  const get = await node.api('GET', '/v1/apps/crud.app-1');
  assert.equal(get.status, 200);
  const g = obj(get.body);
  assert.equal(g.app, 'crud.app-1');
  assert.equal(g.webhook, cfg.webhook);
  assert.deepEqual(g.limits, cfg.limits);
  assert.ok(!JSON.stringify(g).includes(cfg.apiKey), 'GET shows the apiKey');
  assert.ok(!JSON.stringify(g).includes(cfg.tokenSecret), 'GET shows the tokenSecret');

  // The stored app works at once: its key pushes, its secret signs tokens.
  const crud = { app: 'crud.app-1', apiKey: cfg.apiKey, tokenSecret: cfg.tokenSecret };
  const { s } = await openBound(node, crud, 'd', 'u');
  const p = await node.api('POST', '/v1/apps/crud.app-1/push', { token: cfg.apiKey, body: { users: ['u'], data: 'hi' } });
  assert.equal(p.status, 200);
  assert.equal((await s.nextOfType('msg')).data, 'hi');
  s.close();

  // PUT again replaces it (new key, new token secret), without a restart.
  const put2 = await node.api('PUT', '/v1/apps/crud.app-1', { body: { ...cfg, apiKey: 'route-app-key-rotated-0000', tokenSecret: 'route-app-secret-rotated-0000' } });
  assert.equal(put2.status, 200);
  assertApiError(await node.api('POST', '/v1/apps/crud.app-1/push', { token: cfg.apiKey, body: { users: ['u'], data: 1 } }), 401, 'unauthorized');
  assert.equal((await node.api('POST', '/v1/apps/crud.app-1/push', { token: 'route-app-key-rotated-0000', body: { users: ['u'], data: 2 } })).status, 200);
  const stale = await TestSocket.open(node.wsUrl);
  await stale.hello('d');
  stale.send({ t: 'bind', app: 'crud.app-1', token: await token('crud.app-1', cfg.tokenSecret, 'u') });
  assert.equal((await stale.closed).code, 4001, 'a token signed with the old secret still binds');
  const fresh = await openBound(node, { ...crud, tokenSecret: 'route-app-secret-rotated-0000' }, 'd', 'u');
  fresh.s.close();

  const del = await node.api('DELETE', '/v1/apps/crud.app-1');
  assert.equal(del.status, 200, JSON.stringify(del.body));
  assertApiError(await node.api('GET', '/v1/apps/crud.app-1'), 404);
  assertApiError(await node.api('DELETE', '/v1/apps/crud.app-1'), 404);
  // A deleted app's key no longer pushes.
  assertApiError(await node.api('POST', '/v1/apps/crud.app-1/push', { token: 'route-app-key-rotated-0000', body: { users: ['u'], data: 1 } }), 401);
});

test('push unicast → {id, results:[{user, seq}]} and the message arrives', async () => {
  const { s } = await openBound(node, app, 'd', 'uni');
  const r = await node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: ['uni'], data: { hello: 'world' } } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const b = obj(r.body);
  assert.equal(typeof b.id, 'string');
  assert.deepEqual(b.results, [{ user: 'uni', seq: 1 }]);
  const m = await s.nextOfType('msg');
  assert.deepEqual({ seq: m.seq, id: m.id, data: m.data, qos: m.qos }, { seq: 1, id: b.id, data: { hello: 'world' }, qos: 1 });
  s.close();
});

test('push multicast → one result per user, each in its own inbox', async () => {
  await node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: ['mc-b'], data: 'earlier' } });
  const r = await node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: ['mc-a', 'mc-b', 'mc-c'], data: 'all', ttl: 60, qos: 1 } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(results(r.body), [
    { user: 'mc-a', seq: 1 },
    { user: 'mc-b', seq: 2 },
    { user: 'mc-c', seq: 1 },
  ]);
  const { s, bound } = await openBound(node, app, 'd', 'mc-b');
  assert.equal(bound.seq, 2);
  assert.equal((await s.nextOfType('msg')).data, 'earlier');
  const m = await s.nextOfType('msg');
  assert.deepEqual([m.seq, m.data], [2, 'all']);
  s.close();
});

test('broadcast → 202 job; the job reaches done with delivered = bound connections; a later device still gets it', async () => {
  const bc = await createApp(node, 'bcast');
  const a = await openBound(node, bc, 'phone', 'bc-1');
  const b = await openBound(node, bc, 'phone', 'bc-2', 'msgpack');
  // Connected but not bound to this app: not a target.
  const other = await openBound(node, app, 'phone', 'bc-other');
  const unbound = await TestSocket.open(node.wsUrl);
  await unbound.hello('idle');

  const r = await node.api('POST', `/v1/apps/${bc.app}/broadcast`, { token: bc.apiKey, body: { data: { promo: 1 }, ttl: 300 } });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const job = obj(r.body).job;
  assert.equal(typeof job, 'string');

  for (const s of [a.s, b.s]) {
    const m = await s.nextOfType('msg');
    assert.deepEqual(m.data, { promo: 1 });
    assert.equal(m.app, bc.app);
    assert.equal(m.qos, 0);
  }
  const done = await eventually(async () => {
    const g = await node.api('GET', `/v1/apps/${bc.app}/broadcasts/${String(job)}`, { token: bc.apiKey });
    assert.equal(g.status, 200, JSON.stringify(g.body));
    const body = obj(g.body);
    assert.ok(body.state === 'running' || body.state === 'done', JSON.stringify(body));
    return body.state === 'done' ? body : undefined;
  }, 'the broadcast job to finish');
  assert.equal(done.job, job);
  assert.equal(done.delivered, 2);
  assert.ok(done.startedAt !== undefined && done.finishedAt !== undefined, JSON.stringify(done));

  await roundTrip(other.s);
  await roundTrip(unbound);
  assert.equal(other.s.frames.filter((f) => f.t === 'msg').length, 0, 'another app got the broadcast');
  assert.equal(unbound.frames.filter((f) => f.t === 'msg').length, 0);

  // A device binding after the job still gets it from the broadcast log, once.
  const late = await openBound(node, bc, 'tablet', 'bc-3');
  const m = await late.s.nextOfType('msg');
  assert.deepEqual(m.data, { promo: 1 });
  await roundTrip(late.s);
  assert.equal(late.s.frames.filter((f) => f.t === 'msg').length, 0);

  assertApiError(await node.api('GET', `/v1/apps/${bc.app}/broadcasts/no-such-job`, { token: bc.apiKey }), 404);
  for (const s of [a.s, b.s, other.s, unbound, late.s]) s.close();
});

test('a broadcast is replayed once per device within its TTL, and not after it', async () => {
  const bt = await createApp(node, 'bcast-ttl');
  assert.equal((await node.api('POST', `/v1/apps/${bt.app}/broadcast`, { token: bt.apiKey, body: { data: 'short', ttl: 1 } })).status, 202);
  assert.equal((await node.api('POST', `/v1/apps/${bt.app}/broadcast`, { token: bt.apiKey, body: { data: 'long', ttl: 600 } })).status, 202);
  await new Promise((r) => setTimeout(r, 1500));
  const first = await openBound(node, bt, 'dev-1', 'late');
  await roundTrip(first.s);
  assert.deepEqual(
    first.s.frames.filter((f) => f.t === 'msg').map((f) => f.data),
    ['long'],
  );
  first.s.close();
  await first.s.closed;
  await eventually(async () => {
    const r = await node.api('GET', `/v1/apps/${bt.app}/users/late`, { token: bt.apiKey });
    return obj(r.body).online === false ? true : undefined;
  }, 'the first connection to be released');
  const again = await openBound(node, bt, 'dev-1', 'late');
  await roundTrip(again.s);
  assert.equal(again.s.frames.filter((f) => f.t === 'msg').length, 0, 'the same device got the broadcast twice');
  again.s.close();
});

test('topic publish → {offset}, increasing per topic', async () => {
  const offs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await node.api('POST', `/v1/apps/${app.app}/topics/scores`, { token: app.apiKey, body: { data: { i } } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const o = obj(r.body).offset;
    assert.ok(typeof o === 'number' && Number.isInteger(o), JSON.stringify(r.body));
    offs.push(o);
  }
  assert.ok(offs[0] !== undefined && offs[1] !== undefined && offs[2] !== undefined);
  assert.ok(offs[0] < offs[1] && offs[1] < offs[2], JSON.stringify(offs));
  const otherTopic = await node.api('POST', `/v1/apps/${app.app}/topics/weather`, { token: app.apiKey, body: { data: 'rain' } });
  assert.equal(obj(otherTopic.body).offset, 1);
});

test('user status: online with its sessions, then offline', async () => {
  assert.deepEqual(await userStatus(app, 'status-u'), { user: 'status-u', online: false, sessions: [] });
  const one = await openBound(node, app, 'laptop', 'status-u');
  const two = await openBound(node, app, 'phone', 'status-u', 'msgpack');
  const st = await userStatus(app, 'status-u');
  assert.equal(st.user, 'status-u');
  assert.equal(st.online, true);
  assert.ok(Array.isArray(st.sessions));
  const sessions = (st.sessions as unknown[]).map((x) => obj(x, 'session'));
  assert.equal(sessions.length, 2);
  const byDevice = new Map(sessions.map((x) => [x.device, x]));
  for (const [device, c] of [
    ['laptop', one],
    ['phone', two],
  ] as const) {
    const x = byDevice.get(device);
    assert.ok(x !== undefined, `no session for ${device}: ${JSON.stringify(sessions)}`);
    assert.equal(x.session, c.welcome.session);
    assert.equal(x.node, c.welcome.node);
    assert.ok(x.since !== undefined && x.since !== null, JSON.stringify(x));
  }
  one.s.close();
  two.s.close();
  await eventually(async () => ((await userStatus(app, 'status-u')).online === false ? true : undefined), 'the user to go offline');
  assert.deepEqual((await userStatus(app, 'status-u')).sessions, []);
});

test('kick → {kicked:n}; each connection gets error kicked and close 4002; others stay', async () => {
  const a = await openBound(node, app, 'd1', 'kick-me');
  const b = await openBound(node, app, 'd2', 'kick-me', 'msgpack');
  const bystander = await openBound(node, app, 'd1', 'not-me');
  const r = await node.api('POST', `/v1/apps/${app.app}/users/kick-me/kick`, { token: app.apiKey, body: { reason: 'policy' } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { kicked: 2 });
  for (const c of [a, b]) {
    const closed = await c.s.closed;
    assert.equal(closed.code, 4002);
    const e = c.s.frames.find((f: Frame) => f.t === 'error');
    assert.ok(e !== undefined, 'no error frame before the kick close');
    assertErrorFrame(e, 'kicked');
  }
  await roundTrip(bystander.s);
  const none = await node.api('POST', `/v1/apps/${app.app}/users/nobody/kick`, { token: app.apiKey });
  assert.equal(none.status, 200, JSON.stringify(none.body));
  assert.deepEqual(none.body, { kicked: 0 });
  bystander.s.close();
});

test('healthz, readyz and Prometheus metrics', async () => {
  const h = await node.api('GET', '/healthz', { token: null });
  assert.equal(h.status, 200);
  const r = await node.api('GET', '/readyz', { token: null });
  assert.equal(r.status, 200);
  const res = await fetch(`${node.apiUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await res.text();
  for (const name of ['longwire_gateway_connections', 'longwire_gateway_connects_total', 'longwire_push_requests_total', 'longwire_push_store_duration_seconds']) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `no ${name}`);
  }
  // Every sample line is `name{labels} value` with a longwire_ name.
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    assert.match(line, /^longwire_[a-z0-9_]+(\{[^}]*\})? [-+0-9.eEaInNf]+$/, line);
  }
  assert.match(text, /^longwire_push_requests_total\{qos="1"\} [1-9]/m);
});

test('GET /v1/cluster → this node, the leader, a voter', async () => {
  const r = await node.api('GET', '/v1/cluster');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const c = obj(r.body);
  assert.equal(c.leader, 'n1');
  assert.ok(typeof c.term === 'number' && c.term >= 1);
  assert.ok(Array.isArray(c.members), JSON.stringify(c));
  // The contract's fields of each member (a build may add more).
  const fields = ['id', 'role', 'peer', 'api', 'gateway', 'zone', 'healthy'] as const;
  const members = c.members.map((m: unknown) => Object.fromEntries(fields.map((f) => [f, obj(m, 'member')[f]])));
  assert.deepEqual(members, [
    {
      id: 'n1',
      role: 'voter',
      peer: `127.0.0.1:${node.peerPort}`,
      api: `127.0.0.1:${node.apiPort}`,
      gateway: `127.0.0.1:${node.gatewayPort}`,
      zone: 'default',
      healthy: true,
    },
  ]);
  assertApiError(await node.api('GET', '/v1/cluster', { token: null }), 401, 'unauthorized');
});

test('kv: put, get, prefix get, CAS with ifModRevision (409), delete', async () => {
  const p1 = await node.api('PUT', '/v1/kv/cfg/a', { body: { value: 'one' } });
  assert.equal(p1.status, 200, JSON.stringify(p1.body));
  const rev1 = obj(p1.body).revision as number;
  assert.ok(Number.isInteger(rev1));

  const g1 = await node.api('GET', '/v1/kv/cfg/a');
  assert.equal(g1.status, 200);
  const body1 = obj(g1.body);
  assert.ok((body1.revision as number) >= rev1);
  assert.deepEqual(body1.kvs, [{ key: '/cfg/a', value: 'one', createRevision: rev1, modRevision: rev1, version: 1 }]);

  // CAS: the current modRevision wins, a stale one is a 409 conflict.
  const p2 = await node.api('PUT', '/v1/kv/cfg/a', { body: { value: 'two', ifModRevision: rev1 } });
  assert.equal(p2.status, 200, JSON.stringify(p2.body));
  const rev2 = obj(p2.body).revision as number;
  assert.ok(rev2 > rev1);
  assertApiError(await node.api('PUT', '/v1/kv/cfg/a', { body: { value: 'three', ifModRevision: rev1 } }), 409, 'conflict');
  // ifModRevision 0: only if absent.
  assertApiError(await node.api('PUT', '/v1/kv/cfg/a', { body: { value: 'x', ifModRevision: 0 } }), 409, 'conflict');
  const p3 = await node.api('PUT', '/v1/kv/cfg/b', { body: { value: 'bee', ifModRevision: 0 } });
  assert.equal(p3.status, 200, JSON.stringify(p3.body));

  const g2 = await node.api('GET', '/v1/kv/cfg/a?consistency=serializable');
  const kv = obj((obj(g2.body).kvs as unknown[])[0], 'kv');
  assert.deepEqual([kv.value, kv.version, kv.modRevision, kv.createRevision], ['two', 2, rev2, rev1]);

  const pre = await node.api('GET', '/v1/kv/cfg/?prefix=true');
  assert.equal(pre.status, 200);
  assert.deepEqual(
    (obj(pre.body).kvs as unknown[]).map((x) => [obj(x).key, obj(x).value]),
    [
      ['/cfg/a', 'two'],
      ['/cfg/b', 'bee'],
    ],
  );

  const d1 = await node.api('DELETE', '/v1/kv/cfg/a');
  assert.equal(d1.status, 200);
  assert.equal(obj(d1.body).deleted, 1);
  assert.ok((obj(d1.body).revision as number) > rev2);
  assert.deepEqual(obj((await node.api('GET', '/v1/kv/cfg/a')).body).kvs, []);
  const d2 = await node.api('DELETE', '/v1/kv/cfg/?prefix=true');
  assert.equal(obj(d2.body).deleted, 1);
  assert.deepEqual(obj((await node.api('GET', '/v1/kv/cfg/?prefix=true')).body).kvs, []);
});

test('kv: a prefix read a page at a time (limit, after, more), keys only, and a count', async () => {
  // Keys beside the prefix on both sides: never answered.
  for (const k of ['pagd', 'page', 'pages/e', 'pages/a', 'pages/c', 'pages/b', 'pages/d', 'pagf']) {
    assert.equal((await node.api('PUT', `/v1/kv/${k}`, { body: { value: `v-${k}` } })).status, 200);
  }
  const keys = (b: unknown): unknown[] => (obj(b).kvs as unknown[]).map((x) => obj(x).key);
  const p1 = obj((await node.api('GET', '/v1/kv/pages/?prefix=true&limit=2')).body);
  assert.deepEqual([keys(p1), p1.more], [['/pages/a', '/pages/b'], true]);
  // `after` takes either key form.
  const p2 = obj((await node.api('GET', '/v1/kv/pages/?prefix=true&limit=2&after=pages/b')).body);
  assert.deepEqual([keys(p2), p2.more], [['/pages/c', '/pages/d'], true]);
  const p3 = obj((await node.api('GET', '/v1/kv/pages/?prefix=true&limit=2&after=/pages/d')).body);
  assert.deepEqual([keys(p3), p3.more], [['/pages/e'], false]);
  // A full read says there is no more; a single key read too.
  const all = obj((await node.api('GET', '/v1/kv/pages/?prefix=true')).body);
  assert.deepEqual([keys(all).length, all.more], [5, false]);
  assert.equal(obj((await node.api('GET', '/v1/kv/page')).body).more, false);

  const ko = obj((await node.api('GET', '/v1/kv/pages/?prefix=true&keysOnly=true&limit=1&consistency=serializable')).body);
  const first = obj((ko.kvs as unknown[])[0]);
  assert.deepEqual(Object.keys(first).sort(), ['createRevision', 'key', 'modRevision', 'version']);
  assert.equal(ko.more, true);

  const count = obj((await node.api('GET', '/v1/kv/pages/?prefix=true&countOnly=true')).body);
  assert.deepEqual(Object.keys(count).sort(), ['count', 'revision']);
  assert.equal(count.count, 5);
  assert.equal(obj((await node.api('GET', '/v1/kv/pages/?prefix=true&countOnly=true&after=pages/c')).body).count, 2);
  assert.equal(obj((await node.api('GET', '/v1/kv/page?countOnly=true')).body).count, 1);
  assert.equal(obj((await node.api('GET', '/v1/kv/pages/?prefix=true&countOnly=true&limit=1')).body).count, 5, 'a count ignores limit');
  assert.equal(obj((await node.api('DELETE', '/v1/kv/pages/?prefix=true')).body).deleted, 5);
  assert.equal(obj((await node.api('GET', '/v1/kv/pag?prefix=true&countOnly=true')).body).count, 3);
});

test('txn: compares choose the branch; its writes land at one revision, seen by a watch as one revision', async () => {
  const base = obj((await node.api('PUT', '/v1/kv/tx/config', { body: { value: 'v1' } })).body).revision as number;
  assert.equal((await node.api('PUT', '/v1/kv/tx/old/1', { body: { value: 'x' } })).status, 200);
  assert.equal((await node.api('PUT', '/v1/kv/tx/old/2', { body: { value: 'y' } })).status, 200);
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 20_000);
  const watch = await fetch(`${node.apiUrl}/v1/watch?key=/tx/&prefix=true`, { headers: { authorization: `Bearer ${node.adminToken}` }, signal: ac.signal });
  assert.equal(watch.status, 200);
  try {
    // Every compare holds: the success branch, two puts and a prefix delete at one revision.
    const ok = await node.api('POST', '/v1/txn', {
      body: {
        compare: [
          { key: '/tx/config', target: 'value', op: '=', value: 'v1' },
          { key: 'tx/config', target: 'modRevision', op: '=', value: base },
          { key: '/tx/absent', target: 'createRevision', op: '=', value: 0 },
          { key: '/tx/config', target: 'version', op: '<', value: 2 },
        ],
        success: [{ put: { key: '/tx/config', value: 'v2' } }, { put: { key: 'tx/absent', value: 'now here' } }, { delete: { key: '/tx/old/', prefix: true } }],
        failure: [{ put: { key: '/tx/failed', value: 'no' } }],
      },
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const r = obj(ok.body);
    assert.deepEqual([r.succeeded, r.deleted], [true, 2]);
    const rev = r.revision as number;
    const lines = (await readLines(watch, 4)).map((l) => obj(l));
    assert.deepEqual(
      lines.map((l) => [l.revision, l.type, l.key]),
      [
        [rev, 'put', '/tx/absent'],
        [rev, 'put', '/tx/config'],
        [rev, 'delete', '/tx/old/1'],
        [rev, 'delete', '/tx/old/2'],
      ],
      'one revision, its events in key order',
    );
    // A compare that fails: the failure branch.
    const no = obj((await node.api('POST', '/v1/txn', { body: { compare: [{ key: '/tx/config', target: 'value', op: '=', value: 'v1' }], success: [{ put: { key: '/tx/s', value: '1' } }], failure: [{ put: { key: '/tx/f', value: '1' } }] } })).body);
    assert.deepEqual([no.succeeded, no.revision], [false, rev + 1]);
    assert.deepEqual(obj((await node.api('GET', '/v1/kv/tx/s')).body).kvs, []);
    assert.equal((obj((await node.api('GET', '/v1/kv/tx/f')).body).kvs as unknown[]).length, 1);
    // Nothing to write: no new revision.
    const none = obj((await node.api('POST', '/v1/txn', { body: { compare: [{ key: '/tx/config', target: 'version', op: '>', value: 5 }], success: [{ put: { key: '/tx/s', value: '1' } }] } })).body);
    assert.deepEqual([none.succeeded, none.revision, none.deleted], [false, rev + 1, 0]);
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
});

test('txn: refused while a member has not announced it can apply transactions (a rolling upgrade), taken once it has', async () => {
  const member = 'n1'; // started without --id: the default
  const key = `/v1/kv/sys/features/${member}`;
  const announced = obj((obj((await node.api('GET', key)).body).kvs as unknown[])[0]);
  assert.deepEqual(JSON.parse(String(announced.value)), { features: ['txn', 'txn-get', 'topic-floor'] }, 'the node announced what it applies at start');
  const body = { success: [{ put: { key: '/tx3/a', value: '1' } }] };
  const readWrite = { success: [{ put: { key: '/tx3/b', value: '1' } }, { get: { key: '/tx3/', prefix: true } }] };
  const readOnly = { success: [{ get: { key: '/tx3/', prefix: true } }] };
  // As an older member would look: no announcement.
  assert.equal((await node.api('DELETE', key)).status, 200);
  const refused = await node.api('POST', '/v1/txn', { body });
  assertApiError(refused, 409, 'conflict');
  assert.match(String(obj(obj(refused.body).error).message), new RegExp(`not every member can apply transactions yet \\(${member}`));
  assert.deepEqual(obj((await node.api('GET', '/v1/kv/tx3/a')).body).kvs, [], 'nothing proposed');
  assert.equal((await node.api('POST', '/v1/txn', { body: readOnly })).status, 200, 'a transaction that only reads is no log entry: taken');
  // A member of the build before reads inside transactions: writes alone go, writes with reads wait.
  assert.equal((await node.api('PUT', key, { body: { value: JSON.stringify({ features: ['txn'] }) } })).status, 200);
  assert.equal((await node.api('POST', '/v1/txn', { body })).status, 200);
  const refusedRead = await node.api('POST', '/v1/txn', { body: readWrite });
  assertApiError(refusedRead, 409, 'conflict');
  assert.match(String(obj(obj(refusedRead.body).error).message), /transactions that read and write/);
  assert.deepEqual(obj((await node.api('GET', '/v1/kv/tx3/b')).body).kvs, [], 'nothing proposed');
  assert.equal((await node.api('PUT', key, { body: { value: String(announced.value) } })).status, 200);
  assert.equal((await node.api('POST', '/v1/txn', { body: readWrite })).status, 200);
});

test('txn: gets see the writes before them, at the revision of the transaction; one that only reads takes no revision', async () => {
  assert.equal((await node.api('PUT', '/v1/kv/tr/a', { body: { value: '1' } })).status, 200);
  const b = obj((await node.api('PUT', '/v1/kv/tr/b', { body: { value: '2' } })).body).revision as number;
  const rw = await node.api('POST', '/v1/txn', {
    body: {
      compare: [{ key: '/tr/b', target: 'modRevision', op: '=', value: b }],
      success: [{ get: { key: '/tr/', prefix: true } }, { put: { key: '/tr/b', value: '3' } }, { get: { key: 'tr/b' } }, { delete: { key: '/tr/a' } }, { get: { key: '/tr/', prefix: true, keysOnly: true } }],
    },
  });
  assert.equal(rw.status, 200, JSON.stringify(rw.body));
  const r = obj(rw.body);
  assert.deepEqual([r.succeeded, r.revision, r.deleted], [true, b + 1, 1]);
  const shown = (r.responses as unknown[]).map((x) => {
    const o = obj(x);
    const kvLine = (kv: Record<string, unknown>): string => (kv.value === undefined ? `${String(kv.key)} mod ${String(kv.modRevision)}` : `${String(kv.key)}=${String(kv.value)}`);
    return o.type === 'get' ? { get: (o.kvs as unknown[]).map((kv) => kvLine(obj(kv))), more: o.more } : o;
  });
  assert.deepEqual(shown, [
    { get: ['/tr/a=1', '/tr/b=2'], more: false },
    { type: 'put' },
    { get: ['/tr/b=3'], more: false },
    { type: 'delete', deleted: 1 },
    { get: [`/tr/b mod ${b + 1}`], more: false },
  ], 'in order; the keys-only read without values');
  const ro = obj((await node.api('POST', '/v1/txn', {
    body: { compare: [{ key: '/tr/b', target: 'value', op: '=', value: '2' }], success: [{ put: { key: '/tr/x', value: '1' } }], failure: [{ get: { key: '/tr/', prefix: true, limit: 1 } }, { get: { key: '/tr/a' } }] },
  })).body);
  // A failed compare with writes only in the other branch: this one still goes through the log (it could have written), at no new revision.
  assert.deepEqual([ro.succeeded, ro.revision], [false, b + 1]);
  assert.deepEqual((ro.responses as unknown[]).map((y) => [(obj(y).kvs as unknown[]).map((kv) => obj(kv).key), obj(y).more]), [[['/tr/b'], false], [[], false]]);
  // Only reads: answered at the current revision, through the read barrier and not the log.
  const readOnly = { compare: [{ key: '/tr/b', target: 'value', op: '=', value: '3' }], success: [{ get: { key: '/tr/', prefix: true, limit: 1 } }], failure: [] };
  for (const q of ['', '?consistency=serializable', '?consistency=linearizable']) {
    const x = obj((await node.api('POST', `/v1/txn${q}`, { body: readOnly })).body);
    assert.deepEqual([x.succeeded, x.revision, x.deleted], [true, b + 1, 0], q);
    assert.deepEqual((x.responses as unknown[]).map((y) => [(obj(y).kvs as unknown[]).map((kv) => obj(kv).key), obj(y).more]), [[['/tr/b'], false]], q);
  }
  assert.equal(obj((await node.api('GET', '/v1/kv/tr/?prefix=true&countOnly=true')).body).revision, b + 1, 'no revision taken');
  // serializable is for reads only.
  const ser = await node.api('POST', '/v1/txn?consistency=serializable', { body: { success: [{ put: { key: '/tr/x', value: '1' } }] } });
  assertApiError(ser, 400, 'invalid');
  assert.match(String(obj(obj(ser.body).error).message), /only read/);
  // Values the kv API does not show stay hidden inside a transaction.
  const secrets = obj((await node.api('POST', '/v1/txn', { body: { success: [{ get: { key: '/sys/secrets/', prefix: true } }] } })).body);
  const kvs = (obj((secrets.responses as unknown[])[0]).kvs as unknown[]).map((kv) => obj(kv));
  assert.ok(kvs.length > 0, 'the node keeps secrets');
  assert.deepEqual(new Set(kvs.map((kv) => kv.value)), new Set(['<redacted>']));
});

test('txn: a branch that cannot be made as a whole changes nothing', async () => {
  const before = obj((await node.api('GET', '/v1/kv/tx2/?prefix=true&countOnly=true')).body);
  assertApiError(await node.api('POST', '/v1/txn', { body: { success: [{ put: { key: '/tx2/a', value: '1' } }, { put: { key: 'tx2/a', value: '2' } }] } }), 400, 'invalid');
  assertApiError(await node.api('POST', '/v1/txn', { body: { success: [{ put: { key: '/tx2/a/b', value: '1' } }, { delete: { key: '/tx2/a/', prefix: true } }] } }), 400, 'invalid');
  assertApiError(await node.api('POST', '/v1/txn', { body: { success: [{ put: { key: '/tx2/a', value: '1' } }, { put: { key: '/tx2/b', value: '1', lease: 'no-such-lease' } }] } }), 404, 'lease-not-found');
  const after = obj((await node.api('GET', '/v1/kv/tx2/?prefix=true&countOnly=true')).body);
  assert.deepEqual([after.count, after.revision], [before.count, before.revision], 'no write, no revision');
});

test('leases: grant, keepalive, a leased key, revoke removes it; an expired lease removes its key', async () => {
  const g = await node.api('POST', '/v1/leases', { body: { ttl: 30 } });
  assert.equal(g.status, 200, JSON.stringify(g.body));
  const lease = obj(g.body);
  assert.equal(typeof lease.id, 'string');
  assert.equal(lease.ttl, 30);
  const id = lease.id as string;

  assert.equal((await node.api('PUT', '/v1/kv/leased/k', { body: { value: 'v', lease: id } })).status, 200);
  const got = obj((obj((await node.api('GET', '/v1/kv/leased/k')).body).kvs as unknown[])[0], 'kv');
  assert.equal(got.lease, id);

  const ka = await node.api('POST', `/v1/leases/${id}/keepalive`);
  assert.equal(ka.status, 200, JSON.stringify(ka.body));
  assert.equal(obj(ka.body).ttl, 30);

  const rv = await node.api('DELETE', `/v1/leases/${id}`);
  assert.equal(rv.status, 200, JSON.stringify(rv.body));
  assert.deepEqual(obj((await node.api('GET', '/v1/kv/leased/k')).body).kvs, []);
  assertApiError(await node.api('POST', `/v1/leases/${id}/keepalive`), 404);

  const short = obj((await node.api('POST', '/v1/leases', { body: { ttl: 1 } })).body);
  assert.equal((await node.api('PUT', '/v1/kv/leased/short', { body: { value: 'v', lease: short.id } })).status, 200);
  await eventually(
    async () => {
      const kvs = obj((await node.api('GET', '/v1/kv/leased/short')).body).kvs;
      return Array.isArray(kvs) && kvs.length === 0 ? true : undefined;
    },
    'the leased key to vanish when its lease expires',
    60,
    100,
  );
});

/** Reads NDJSON lines from a watch response until `want` event lines have arrived; progress lines are skipped. */
async function readLines(res: Response, want: number): Promise<unknown[]> {
  const body = res.body;
  assert.ok(body !== null);
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  const lines: unknown[] = [];
  for (let chunks = 0; chunks < 1000 && lines.length < want; chunks++) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line: unknown = JSON.parse(buf.slice(0, i));
      if (!(isRecord(line) && 'progress' in line)) lines.push(line);
      buf = buf.slice(i + 1);
    }
  }
  reader.releaseLock();
  return lines;
}

test('leases inspected: one with its time left and keys; the list in id order, a page at a time, with the node\'s own', async () => {
  const granted = obj((await node.api('POST', '/v1/leases', { body: { ttl: 30 } })).body);
  const id = String(granted.id);
  for (const k of ['lz/b', 'lz/a']) assert.equal((await node.api('PUT', `/v1/kv/${k}`, { body: { value: 'v', lease: id } })).status, 200);
  const info = obj((await node.api('GET', `/v1/leases/${id}`)).body);
  assert.deepEqual([info.id, info.ttl, info.keys, info.sessions], [id, 30, ['/lz/a', '/lz/b'], 0]);
  assert.ok(typeof info.remainingMs === 'number' && info.remainingMs > 20_000 && info.remainingMs <= 30_000, `remainingMs ${String(info.remainingMs)}`);
  assert.equal(obj((await node.api('GET', `/v1/leases/${id}?consistency=serializable`)).body).id, id);
  assertApiError(await node.api('GET', '/v1/leases/no-such-lease'), 404, 'lease-not-found');

  const all = obj((await node.api('GET', '/v1/leases')).body);
  const ids = (all.leases as unknown[]).map((l) => String(obj(l).id));
  assert.deepEqual(ids, [...ids].sort(), 'in id order');
  assert.ok(ids.includes(id));
  assert.ok((all.leases as unknown[]).some((l) => (obj(l).sessions as number) >= 0 && obj(l).id !== id), "the node's own lease is listed too");
  assert.equal(all.more, false);
  const first = obj((await node.api('GET', '/v1/leases?limit=1')).body);
  assert.deepEqual([(first.leases as unknown[]).length, first.more], [1, true]);
  const rest = obj((await node.api('GET', `/v1/leases?after=${encodeURIComponent(String(obj((first.leases as unknown[])[0]).id))}`)).body);
  assert.deepEqual([String(obj((first.leases as unknown[])[0]).id), ...(rest.leases as unknown[]).map((l) => String(obj(l).id))], ids);
  for (const bad of ['limit=0', 'limit=10001', 'limit=x', 'consistency=eventual']) assertApiError(await node.api('GET', `/v1/leases?${bad}`), 400, 'invalid');
  assert.equal((await node.api('DELETE', `/v1/leases/${id}`)).status, 200);
  assertApiError(await node.api('GET', `/v1/leases/${id}`), 404, 'lease-not-found');
});

test('watch: an NDJSON stream with a line per put and delete, in revision order, and replay from fromRevision', async () => {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 20_000);
  try {
    const res = await fetch(`${node.apiUrl}/v1/watch?key=/w/&prefix=true`, { headers: { authorization: `Bearer ${node.adminToken}` }, signal: ac.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /ndjson/);
    const r1 = obj((await node.api('PUT', '/v1/kv/w/x', { body: { value: 'ex' } })).body).revision as number;
    await node.api('PUT', '/v1/kv/elsewhere', { body: { value: 'not watched' } });
    const r2 = obj((await node.api('DELETE', '/v1/kv/w/x')).body).revision as number;
    const lines = await readLines(res, 2);
    assert.deepEqual(lines, [
      { revision: r1, type: 'put', key: '/w/x', value: 'ex' },
      { revision: r2, type: 'delete', key: '/w/x' },
    ]);
    ac.abort();

    const ac2 = new AbortController();
    const res2 = await fetch(`${node.apiUrl}/v1/watch?key=/w/x&fromRevision=${r1}`, { headers: { authorization: `Bearer ${node.adminToken}` }, signal: ac2.signal });
    assert.equal(res2.status, 200);
    const replay = await readLines(res2, 2);
    ac2.abort();
    assert.deepEqual(replay, [
      { revision: r1, type: 'put', key: '/w/x', value: 'ex' },
      { revision: r2, type: 'delete', key: '/w/x' },
    ]);
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  assertApiError(await node.api('GET', '/v1/watch?key=/w/', { token: null }), 401);
});

test('watch names keys as /v1/kv/<key> does: key=a/b watches the key a put to /v1/kv/a/b reports as /a/b', async () => {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 20_000);
  try {
    const res = await fetch(`${node.apiUrl}/v1/watch?key=plain/&prefix=true`, { headers: { authorization: `Bearer ${node.adminToken}` }, signal: ac.signal });
    assert.equal(res.status, 200);
    const rev = obj((await node.api('PUT', '/v1/kv/plain/k', { body: { value: 'v' } })).body).revision;
    assert.deepEqual(await readLines(res, 1), [{ revision: rev, type: 'put', key: '/plain/k', value: 'v' }]);
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
});

test('dispatcher → this node first with a ws URL', async () => {
  const res = await fetch(`${node.gatewayUrl}/v1/dispatch?app=${app.app}&user=someone`);
  assert.equal(res.status, 200);
  const body = obj(await res.json());
  assert.deepEqual(body.nodes, [{ id: 'n1', url: node.wsUrl, zone: 'default' }]);
  assert.ok(typeof body.ttl === 'number' && body.ttl > 0);
});

test('a graceful stop is not held by an open watch stream or a connection that sends nothing', async () => {
  const own = await NodeProcess.start();
  let silent: Socket | undefined;
  try {
    const res = await fetch(`${own.apiUrl}/v1/watch?key=/x`, { headers: { authorization: `Bearer ${own.adminToken}` } });
    assert.equal(res.status, 200);
    silent = connect(own.apiPort, '127.0.0.1');
    const s = silent;
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('error', reject);
    });
    s.on('error', () => {
      // closed by the node at shutdown
    });
    const reading = readLines(res, 1);
    await own.stop();
    // The CLI exits 1 when a stop overruns its bound; the harness kills it (SIGKILL) later still.
    assert.equal(own.child.signalCode, null, 'the node had to be killed');
    assert.equal(own.child.exitCode, 0);
    const lines = await reading;
    assert.equal(lines.length, 1);
    assert.equal(obj(obj(lines[0]).error).code, 'watch-closed');
  } finally {
    silent?.destroy();
    await own.stop();
  }
});
