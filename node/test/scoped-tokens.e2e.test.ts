// Scoped tokens on a real node: a token made to read /config/ and write
// /svc/a/ reaches those keys through the kv, transaction, watch and lease
// routes and nothing else; a keeper client runs on it; bad scopes are 400s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { KeeperClient } from '../../keeper/src/keeper-client.js';
import { NodeProcess } from './support/node-process.js';
import { createApp } from './support/ws-client.js';
import { assertApiError, eventually, obj } from './support/contract.js';

let node: NodeProcess;
let scoped: string;
let scopedId: string;

before(async () => {
  node = await NodeProcess.start();
  const made = await node.api('POST', '/v1/admin/tokens', { body: { label: 'svc-a', scope: { read: ['/config/'], write: ['/svc/a/'] } } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const m = obj(made.body);
  assert.deepEqual(m.scope, { read: ['/config/'], write: ['/svc/a/'] });
  scoped = String(m.token);
  scopedId = String(m.id);
  assert.equal((await node.api('PUT', '/v1/kv/config/db', { body: { value: 'postgres://db' } })).status, 200);
  assert.equal((await node.api('PUT', '/v1/kv/other/x', { body: { value: 'not yours' } })).status, 200);
});

after(async () => {
  await node.stop();
});

const as = (method: string, path: string, body?: unknown) => node.api(method, path, { token: scoped, ...(body === undefined ? {} : { body }) });

test('a scoped token reads and writes its keys, and a 403 names what it may not touch', async () => {
  const got = await as('GET', '/v1/kv/config/db');
  assert.equal(got.status, 200);
  assert.equal((obj(got.body).kvs as { value: string }[])[0]?.value, 'postgres://db');
  assert.equal((await as('GET', '/v1/kv/config/?prefix=true')).status, 200);
  assert.equal((await as('GET', '/v1/kv/svc/a/?prefix=true&countOnly=true')).status, 200, 'write implies read');
  for (const path of ['/v1/kv/other/x', '/v1/kv/?prefix=true', '/v1/kv/config?prefix=true', '/v1/kv/svc/?prefix=true']) {
    const r = await as('GET', path);
    assertApiError(r, 403, 'forbidden');
    assert.match(String(obj(obj(r.body).error).message), /scope does not let it read/, path);
  }
  assert.equal((await as('PUT', '/v1/kv/svc/a/k', { value: '1' })).status, 200);
  assertApiError(await as('PUT', '/v1/kv/config/db', { value: 'mine' }), 403, 'forbidden');
  assertApiError(await as('PUT', '/v1/kv/other/y', { value: '1' }), 403, 'forbidden');
  assertApiError(await as('DELETE', '/v1/kv/svc/?prefix=true'), 403, 'forbidden');
  assert.equal(obj((await as('DELETE', '/v1/kv/svc/a/?prefix=true')).body).deleted, 1);
  assert.equal(obj((await node.api('GET', '/v1/kv/other/x')).body).kvs instanceof Array, true);
  assert.equal((obj((await node.api('GET', '/v1/kv/other/x')).body).kvs as unknown[]).length, 1, 'untouched');
});

test('the transaction of a scoped token is checked op by op; one that reaches out of scope writes nothing', async () => {
  const ok = await as('POST', '/v1/txn', {
    compare: [{ key: '/config/db', target: 'version', op: '>', value: 0 }],
    success: [{ get: { key: '/config/', prefix: true } }, { put: { key: '/svc/a/seen', value: '1' } }],
  });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const refusals: [unknown, RegExp][] = [
    [{ compare: [{ key: '/other/x', target: 'version', op: '>', value: 0 }], success: [{ put: { key: '/svc/a/t', value: '1' } }] }, /compare\[0\]/],
    [{ success: [{ put: { key: '/svc/a/t', value: '1' } }, { get: { key: '/other/', prefix: true } }] }, /success\[1\]/],
    [{ failure: [{ put: { key: '/config/db', value: 'x' } }] }, /failure\[0\].*write/],
    [{ success: [{ put: { key: '/svc/a/t', value: '1' } }, { delete: { key: '/svc/', prefix: true } }] }, /success\[1\]/],
  ];
  for (const [body, why] of refusals) {
    const r = await as('POST', '/v1/txn', body);
    assertApiError(r, 403, 'forbidden');
    assert.match(String(obj(obj(r.body).error).message), why);
  }
  assert.deepEqual(obj((await node.api('GET', '/v1/kv/svc/a/t')).body).kvs, [], 'nothing written');
});

test('a scoped token watches within its scope only', async () => {
  const ac = new AbortController();
  try {
    const res = await fetch(`${node.apiUrl}/v1/watch?key=/config/&prefix=true`, { headers: { authorization: `Bearer ${scoped}` }, signal: ac.signal });
    assert.equal(res.status, 200);
  } finally {
    ac.abort();
  }
  assertApiError(await as('GET', '/v1/watch?key=/other/&prefix=true'), 403, 'forbidden');
  assertApiError(await as('GET', '/v1/watch?key=/&prefix=true'), 403, 'forbidden');
});

test('a scoped token reaches a lease only through keys all in its write scope; a node lease never', async () => {
  const lease = String(obj((await as('POST', '/v1/leases', { ttl: 30 })).body).id);
  assertApiError(await as('POST', `/v1/leases/${lease}/keepalive`), 403, 'forbidden');
  assert.equal((await as('PUT', '/v1/kv/svc/a/instance', { value: 'up', lease })).status, 200);
  assert.equal((await as('POST', `/v1/leases/${lease}/keepalive`)).status, 200);
  assert.deepEqual(obj((await as('GET', `/v1/leases/${lease}`)).body).keys, ['/svc/a/instance']);
  // A key outside the scope on the same lease takes the lease out of reach.
  assert.equal((await node.api('PUT', '/v1/kv/other/leased', { body: { value: '1', lease } })).status, 200);
  assertApiError(await as('DELETE', `/v1/leases/${lease}`), 403, 'forbidden');
  assert.equal((await node.api('DELETE', '/v1/kv/other/leased')).status, 200);
  assert.equal((await as('DELETE', `/v1/leases/${lease}`)).status, 200);
  assert.deepEqual(obj((await node.api('GET', '/v1/kv/svc/a/instance')).body).kvs, [], 'the revoke deleted its key');
  // The node's own lease (its sessions hang on it).
  assertApiError(await as('GET', '/v1/leases'), 403, 'forbidden');
  const own = (obj((await node.api('GET', '/v1/leases')).body).leases as { id: string }[])[0]?.id;
  assert.ok(own !== undefined);
  for (const [method, path] of [['POST', `/v1/leases/${own}/keepalive`], ['DELETE', `/v1/leases/${own}`], ['GET', `/v1/leases/${own}`]] as const) {
    assertApiError(await as(method, path), 403, 'forbidden');
  }
});

test('a scoped token is refused by every route outside the keeper keys', async () => {
  const app = await createApp(node, 'scoped');
  assertApiError(await as('GET', '/v1/apps'), 403, 'forbidden');
  assertApiError(await as('GET', '/v1/admin/tokens'), 403, 'forbidden');
  assertApiError(await as('POST', '/v1/admin/tokens', { label: 'escalate' }), 403, 'forbidden');
  assertApiError(await as('GET', '/v1/keeper/backup'), 403, 'forbidden');
  assertApiError(await as('GET', '/v1/keeper/hash'), 403, 'forbidden');
  assertApiError(await as('GET', '/v1/settings/node'), 403, 'forbidden');
  assertApiError(await as('DELETE', '/v1/cluster/members/n9'), 403, 'forbidden');
  // A service route takes an app's apiKey or an unscoped admin token.
  assertApiError(await as('POST', `/v1/apps/${app.app}/push`, { users: ['u'], data: 'x' }), 401, 'unauthorized');
  // The member list, for a keeper client's failover.
  assert.equal((await as('GET', '/v1/cluster')).status, 200);
  // Refusals are counted by code, for alerts.
  const metrics = await (await fetch(`${node.apiUrl}/metrics`)).text();
  assert.match(metrics, /^longwire_api_errors_total\{code="forbidden"\} ([1-9]\d*)$/m);
  assert.match(metrics, /^longwire_api_errors_total\{code="unauthorized"\} ([1-9]\d*)$/m);
});

test('a keeper client on a scoped token reads and follows its config', async () => {
  const client = new KeeperClient({ endpoints: [node.apiUrl], adminToken: scoped });
  const r = await client.get('/config/', { prefix: true });
  assert.deepEqual(r.kvs.map((kv) => kv.key), ['/config/db']);
  const seen: string[] = [];
  const w = client.watch('/config/', { prefix: true, fromRevision: r.revision + 1 }, { onEvents: (events) => seen.push(...events.map((e) => `${e.type} ${e.key}`)) });
  try {
    assert.equal((await node.api('PUT', '/v1/kv/config/cache', { body: { value: 'redis://c' } })).status, 200);
    await eventually(async () => (seen.includes('put /config/cache') ? true : undefined), 'the watch saw the change');
  } finally {
    w.cancel();
  }
});

test('scopes are checked when a token is made; the list shows them; a revoked scoped token stops at once', async () => {
  const bad: [unknown, RegExp][] = [
    [{ read: ['/sys/apps/'] }, /\/sys\//],
    [{ write: ['/'] }, /\/sys\//],
    [{ read: ['config/'] }, /start with \//],
    [{ read: [], write: [] }, /at least one/],
    [{ read: Array.from({ length: 33 }, (_, i) => `/p${i}/`) }, /32|more than/],
    [{ read: '/config/' }, /array/],
    [{ admin: true }, /additional|admin/],
  ];
  for (const [scope, why] of bad) {
    const r = await node.api('POST', '/v1/admin/tokens', { body: { label: 'bad', scope } });
    assertApiError(r, 400, 'invalid');
    assert.match(String(obj(obj(r.body).error).message), why, JSON.stringify(scope));
  }
  const list = obj((await node.api('GET', '/v1/admin/tokens')).body).tokens as { id: string; scope?: unknown }[];
  assert.deepEqual(list.find((t) => t.id === scopedId)?.scope, { read: ['/config/'], write: ['/svc/a/'] });
  assert.equal(list.find((t) => t.id === 'initial')?.scope, undefined);
  // The scoped token does not count as the admin token that must remain.
  assertApiError(await node.api('DELETE', '/v1/admin/tokens/initial'), 409, 'conflict');
  assert.equal((await node.api('DELETE', `/v1/admin/tokens/${scopedId}`)).status, 200);
  assertApiError(await as('GET', '/v1/kv/config/db'), 401, 'unauthorized');
});
