// Operability against a real node: the OpenAPI document at /docs, the admin
// JSON routes behind the admin page (/v1/stats, /v1/broadcasts), the page
// itself, and the day-one metrics on /metrics after real traffic.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NodeProcess } from './support/node-process.js';
import { TestSocket, createApp, type TestApp } from './support/ws-client.js';
import { assertApiError, eventually, obj, openBound } from './support/contract.js';

let node: NodeProcess;
let app: TestApp;

before(async () => {
  node = await NodeProcess.start();
  app = await createApp(node, 'ops');
});
after(async () => {
  await node.stop();
});

test('GET /docs/json is an OpenAPI document listing the push, apps and kv routes with their body schemas', async () => {
  const r = await node.api('GET', '/docs/json', { token: null });
  assert.equal(r.status, 200);
  const doc = obj(r.body);
  assert.match(String(doc.openapi), /^3\./);
  const paths = obj(doc.paths, 'paths');
  const bodyOf = (path: string, method: string): Record<string, unknown> => {
    const op = obj(obj(paths[path], path)[method], `${method} ${path}`);
    const content = obj(obj(op.requestBody, 'requestBody').content, 'content');
    return obj(obj(content['application/json'], 'application/json').schema, 'schema');
  };
  const push = bodyOf('/v1/apps/{app}/push', 'post');
  assert.deepEqual(push.required, ['users', 'data']);
  assert.ok('qos' in obj(push.properties));
  const putApp = bodyOf('/v1/apps/{app}', 'put');
  assert.deepEqual(putApp.required, ['apiKey', 'tokenSecret']);
  const kvPath = Object.keys(paths).find((p) => p.startsWith('/v1/kv/'));
  assert.ok(kvPath !== undefined, `no kv route in ${Object.keys(paths).join(', ')}`);
  assert.deepEqual(bodyOf(kvPath, 'put').required, ['value']);
  assert.ok(obj(paths['/v1/stats']).get !== undefined);
  assert.ok(obj(paths['/v1/broadcasts']).get !== undefined);
  assert.deepEqual(obj(obj(paths['/v1/apps/{app}/push']).post).tags, ['push']);
  // Admin and service routes take the bearer token; the probes and /metrics are open.
  assert.deepEqual(doc.security, [{ bearer: [] }]);
  assert.deepEqual(obj(obj(paths['/metrics']).get).security, []);

  const ui = await fetch(`${node.apiUrl}/docs`);
  assert.equal(ui.status, 200);
  assert.match(ui.headers.get('content-type') ?? '', /text\/html/);
});

test('GET /v1/stats and /v1/broadcasts need the admin token', async () => {
  assertApiError(await node.api('GET', '/v1/stats', { token: null }), 401, 'unauthorized');
  assertApiError(await node.api('GET', '/v1/broadcasts', { token: app.apiKey }), 401, 'unauthorized');
  const page = await fetch(`${node.apiUrl}/ui`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>longwire admin<\/title>/);
  assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
});

test('stats, broadcast list and metrics follow real traffic', async () => {
  const { s } = await openBound(node, app, 'ops-d1', 'ops-u1');
  const push = await node.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: ['ops-u1'], data: { n: 1 } } });
  assert.equal(push.status, 200);
  const m = await s.nextOfType('msg');
  s.send({ t: 'ack', app: app.app, seq: m.seq });
  const b = await node.api('POST', `/v1/apps/${app.app}/broadcast`, { token: app.apiKey, body: { data: { all: true } } });
  assert.equal(b.status, 202);
  const job = String(obj(b.body).job);

  const stats = await eventually(async () => {
    const r = await node.api('GET', '/v1/stats');
    const st = obj(r.body);
    return obj(st.deliveries).acks === 1 ? st : undefined;
  }, 'the ack to be counted');
  assert.equal(stats.node, 'n1');
  assert.equal(stats.connections, 1);
  assert.deepEqual(stats.byApp, { ops: 1 });
  assert.deepEqual(obj(stats.pushes).requests, { '1': 1 });
  // One qos 1 delivery, live or (when it raced the bind's replay) read back from the store.
  const qos1 = obj(obj(stats.deliveries).qos1);
  assert.equal((Number(qos1.live) || 0) + (Number(qos1.store) || 0), 1, JSON.stringify(qos1));

  const list = obj((await node.api('GET', '/v1/broadcasts')).body);
  const jobs = list.jobs as unknown[];
  assert.ok(Array.isArray(jobs));
  const j = obj(jobs.find((x) => obj(x).job === job), 'job');
  assert.equal(j.app, 'ops');
  assert.equal(j.targets, 1);
  const filtered = obj((await node.api('GET', '/v1/broadcasts?app=nope')).body);
  assert.deepEqual(filtered.jobs, []);
  assert.equal(obj((await node.api('GET', '/v1/stats?node=n1')).body).connections, 1);
  assertApiError(await node.api('GET', '/v1/stats?node=n9'), 404, 'not-found');

  const metrics = String((await node.api('GET', '/metrics', { token: null })).body);
  const has = (re: RegExp): void => assert.match(metrics, re);
  has(/^longwire_gateway_app_connections\{app="ops"\} 1$/m);
  has(/^longwire_gateway_connections 1$/m);
  has(/^longwire_gateway_connects_total 1$/m);
  has(/^longwire_push_requests_total\{qos="1"\} 1$/m);
  has(/^longwire_push_messages_total\{qos="1"\} 1$/m);
  has(/^longwire_delivery_latency_seconds_count\{path="(live|store)"\} 1$/m);
  has(/^longwire_delivery_ack_latency_seconds_count 1$/m);
  has(/^longwire_broadcast_jobs_total 1$/m);
  has(/^longwire_broadcast_targets_total 1$/m);
  has(/^longwire_broadcast_jobs_running \d+$/m);
  // Frames are tallied as plain numbers and added to the counters when collected: the stats read and the scrape both see them.
  assert.ok(Number(stats.framesIn) >= 2, `frames in (hello, ack): ${String(stats.framesIn)}`);
  assert.ok(Number(stats.framesOut) >= 4, `frames out (welcome, bound, msg, broadcast msg): ${String(stats.framesOut)}`);
  has(new RegExp(`^longwire_gateway_frames_in_total ${String(stats.framesIn)}$`, 'm'));
  has(new RegExp(`^longwire_gateway_frames_out_total ${String(stats.framesOut)}$`, 'm'));
  has(/^longwire_process_nodejs_eventloop_lag_p99_seconds /m);
  has(/^longwire_process_nodejs_gc_duration_seconds_count\{kind="\w+"\} /m);
  has(/^# TYPE longwire_delivery_gaps_total counter$/m);
  has(/^# TYPE longwire_ratelimit_rejections_total counter$/m);
  has(/^# TYPE longwire_webhook_duration_seconds histogram$/m);
  s.ws.close();
  await s.closed;
  await eventually(async () => {
    const text = String((await node.api('GET', '/metrics', { token: null })).body);
    return /^longwire_gateway_connections 0$/m.test(text) && !/longwire_gateway_app_connections\{/.test(text) ? true : undefined;
  }, 'the closed connection to leave the gauges');
});

test('disconnects are counted by close code, and codes a client makes up are counted as "other"', async () => {
  const s = await TestSocket.open(node.wsUrl);
  s.ws.close(4321, 'made up');
  await s.closed;
  await eventually(async () => {
    const text = String((await node.api('GET', '/metrics', { token: null })).body);
    return /^longwire_gateway_disconnects_total\{code="other"\} 1$/m.test(text) ? true : undefined;
  }, 'the made-up close code to be counted as other');
  const text = String((await node.api('GET', '/metrics', { token: null })).body);
  assert.doesNotMatch(text, /code="4321"/);
});

test('the Raft and keeper gauges are read at scrape time: term, commit/applied index and lag, revision, watchers; entries per Ready', async () => {
  const watch = await fetch(`${node.apiUrl}/v1/watch?key=/metrics-probe`, { headers: { authorization: `Bearer ${node.adminToken}` } });
  const text = String((await node.api('GET', '/metrics', { token: null })).body);
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  assert.ok(value('longwire_raft_term') >= 1);
  assert.ok(value('longwire_raft_commit_index') >= 1);
  assert.ok(value('longwire_raft_applied_index') >= 1);
  assert.ok(value('longwire_raft_apply_lag_entries') >= 0);
  assert.ok(value('longwire_keeper_revision') >= 1);
  assert.ok(value('longwire_keeper_watchers') >= 1, 'the open watch is counted');
  assert.ok(value('longwire_raft_ready_entries_count') >= 1, 'persisted Readys with entries are counted (proposal batch size)');
  await watch.body?.cancel();
});
