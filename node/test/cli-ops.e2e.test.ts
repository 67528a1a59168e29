// The operator commands as real `longwire` processes against a real node:
// status (text and --json), broadcast with its progress bar until the job is
// done, and text versus --json output of push and apps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CLI, NodeProcess } from './support/node-process.js';
import { createApp, type TestApp } from './support/ws-client.js';
import { obj, openBound, roundTrip } from './support/contract.js';

const run = promisify(execFile);

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let node: NodeProcess;
let app: TestApp;
before(async () => {
  node = await NodeProcess.start();
  app = await createApp(node, 'cliops');
});
after(async () => {
  await node.stop();
});

test('status summarizes the cluster and the node; --json gives both documents', async () => {
  const { s } = await openBound(node, app, 'st-device', 'st-user');
  const text = await cli(['status', '--api', node.apiUrl], { LONGWIRE_ADMIN_TOKEN: node.adminToken });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^cluster {2}leader n1, term \d+, 1 member$/m);
  assert.match(text.stdout, /^ {2}n1 \(leader\) {2}voter {2}zone default .* healthy {2}connections 1$/m);
  assert.match(text.stdout, /^ {2}connections {3}1 {2}\(cliops 1\)$/m);
  assert.match(text.stdout, /^ {2}keeper {8}0\.0 MiB of 256 MiB \(0 %\)$/m);

  const json = await cli(['status', '--api', node.apiUrl, '--admin-token', node.adminToken, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const doc = obj(JSON.parse(json.stdout));
  assert.equal(obj(doc.cluster).leader, 'n1');
  assert.equal(obj(doc.stats).connections, 1);
  assert.deepEqual(obj(doc.stats).byApp, { cliops: 1 });
  const space = obj(obj(doc.stats).keeper);
  assert.equal(space.quotaBytes, 256 * 1024 * 1024);
  assert.ok(typeof space.bytes === 'number' && space.bytes > 0, 'the node\'s own records (its app, its lease key) are counted');
  assert.deepEqual(doc.members, {}, 'a one-node cluster has no other member');

  const denied = await cli(['status', '--api', node.apiUrl, '--admin-token', 'wrong']);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /401 unauthorized/);
  const deniedJson = await cli(['status', '--api', node.apiUrl, '--admin-token', 'wrong', '--json']);
  assert.equal(deniedJson.code, 1);
  assert.equal(obj(obj(JSON.parse(deniedJson.stdout)).error).code, 'unauthorized');
  s.close();
  await s.closed;
});

test('broadcast shows progress until the job is done; every connection of the app gets the message', async () => {
  const sockets = await Promise.all([0, 1, 2, 3, 4].map((i) => openBound(node, app, `bc-device-${i}`, `bc-user-${i}`)));
  // Frames are handled in order: each pong means that bind has finished starting delivery.
  await Promise.all(sockets.map(({ s }) => roundTrip(s)));
  const r = await cli(['broadcast', '--app', app.app, '--key', app.apiKey, '--data', '{"hello":"all"}', '--rate', '20', '--api', node.apiUrl]);
  assert.equal(r.code, 0, r.stderr);
  // Not a terminal: each change of the bar is its own line on stderr, the last one full.
  const bars = r.stderr.trim().split('\n');
  assert.match(bars[bars.length - 1] ?? '', /^\[#{30}\] 100% {2}5\/5 {2}done$/);
  assert.match(r.stdout, /^broadcast [0-9a-f-]{36} done: delivered to 5 of 5 connection\(s\) in \d+\.\d s$/m);
  for (const { s } of sockets) {
    const m = await s.nextOfType('msg');
    assert.deepEqual(m.data, { hello: 'all' });
  }

  const json = await cli(['broadcast', '--app', app.app, '--key', app.apiKey, '--data', '{"n":2}', '--api', node.apiUrl, '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.equal(json.stderr, '', 'no progress bar with --json');
  const job = obj(JSON.parse(json.stdout));
  assert.equal(job.state, 'done');
  assert.equal(job.delivered, 5);
  for (const { s } of sockets) s.close();

  const bad = await cli(['broadcast', '--app', app.app, '--key', app.apiKey, '--data', 'not json', '--api', node.apiUrl]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--data must be JSON/);
});

test('push and apps print text for people and the API JSON with --json', async () => {
  const push = await cli(['push', '--app', app.app, '--key', app.apiKey, '--user', 'pu1', '--user', 'pu2', '--data', '{"x":1}', '--api', node.apiUrl]);
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stdout, /^push \S+\n {2}pu1 {2}stored as seq 1\n {2}pu2 {2}stored as seq 1$/m);
  const push0 = await cli(['push', '--app', app.app, '--key', app.apiKey, '--user', 'pu1', '--data', '1', '--qos', '0', '--api', node.apiUrl, '--json']);
  assert.equal(push0.code, 0, push0.stderr);
  assert.deepEqual(obj(JSON.parse(push0.stdout)).results, [{ user: 'pu1', delivered: 0 }]);

  const get = await cli(['apps', 'get', app.app, '--admin-token', node.adminToken, '--api', node.apiUrl]);
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stdout, /^app {14}cliops$/m);
  assert.match(get.stdout, /^ {2}maxInbox {9}\d+$/m);
  const listed = await cli(['apps', 'list', '--admin-token', node.adminToken, '--api', node.apiUrl, '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  const apps = obj(JSON.parse(listed.stdout)).apps as unknown[];
  assert.ok(apps.some((a) => obj(a).app === app.app));
  const missing = await cli(['apps', 'get', 'no-such-app', '--admin-token', node.adminToken, '--api', node.apiUrl]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /404 app-not-found/);
  const down = await cli(['status', '--api', 'http://127.0.0.1:1', '--admin-token', 'x']);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach the API at http:\/\/127\.0\.0\.1:1/);
});
