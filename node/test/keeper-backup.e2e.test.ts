// Disaster recovery of the keeper on real processes: `longwire keeper backup`
// from a running node, `longwire keeper restore` into an empty data dir, and
// a new one-member cluster started on it that holds the apps, keys and admin
// tokens of the old one, serves clients, and takes new members.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, NodeProcess, tempDir } from './support/node-process.js';
import { createApp } from './support/ws-client.js';
import { eventually, obj, openBound } from './support/contract.js';

const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test('a keeper backup restored into an empty data dir starts a new cluster with the old one\'s apps and keys; others join it', async () => {
  const work = await tempDir();
  const dataDir = join(work, 'restored');
  const file = join(work, 'keeper.backup');
  const started: NodeProcess[] = [];
  try {
    const old = await NodeProcess.start({ args: ['--id', 'n1'] });
    started.push(old);
    const app = await createApp(old, 'drapp');
    assert.equal((await old.api('PUT', '/v1/kv/dr/x', { body: { value: 'kept' } })).status, 200);
    const saved = await cli(['keeper', 'backup', file, '--api', old.apiUrl, '--admin-token', old.adminToken]);
    assert.equal(saved.code, 0, saved.stderr);
    assert.match(saved.stdout, /^keeper backup at revision \d+: \d+ bytes in /);
    assert.equal((await stat(file)).mode & 0o777, 0o600, 'the backup holds secrets: owner-only');
    await old.stop();

    const restored = await cli(['keeper', 'restore', file, '--data-dir', dataDir, '--id', 'dr1']);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /^restored \d+ keys at revision \d+ for member dr1/);
    const dr1 = await NodeProcess.start({ dataDir, args: ['--id', 'dr1'] });
    started.push(dr1);
    const cluster = obj((await dr1.api('GET', '/v1/cluster')).body);
    assert.deepEqual([cluster.leader, (cluster.members as { id: string }[]).map((m) => m.id)], ['dr1', ['dr1']]);
    assert.equal(obj((obj((await dr1.api('GET', '/v1/kv/dr/x')).body).kvs as unknown[])[0]).value, 'kept');
    // The app came along, secrets and all: a client binds with a token it signs, and gets a push.
    const { s } = await openBound(dr1, app, 'dr-device', 'dr-user');
    const pushed = await dr1.api('POST', `/v1/apps/${app.app}/push`, { token: app.apiKey, body: { users: ['dr-user'], data: 'after the disaster' } });
    assert.equal(pushed.status, 200, JSON.stringify(pushed.body));
    assert.equal((await s.nextOfType('msg')).data, 'after the disaster');
    s.close();
    // A new member joins the restored cluster.
    const dr2 = await NodeProcess.start({ args: ['--id', 'dr2', '--join', dr1.apiUrl] });
    started.push(dr2);
    await eventually(async () => {
      const members = obj((await dr1.api('GET', '/v1/cluster')).body).members as { id: string; role: string }[];
      return members.filter((m) => m.role === 'voter').length === 2 ? true : undefined;
    }, 'dr2 a voter', 200, 100);

    // Never over a data dir in use, or that holds a keeper, nor from a file that is not a backup.
    const inUse = await cli(['keeper', 'restore', file, '--data-dir', dataDir, '--id', 'dr1']);
    assert.equal(inUse.code, 1);
    assert.match(inUse.stderr, /cannot open raft log/);
    for (const n of started.splice(1).reverse()) await n.stop();
    const twice = await cli(['keeper', 'restore', file, '--data-dir', dataDir, '--id', 'dr1']);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /holds a Raft log already/);
    const junk = await cli(['keeper', 'restore', join(work, 'nope'), '--data-dir', join(work, 'other'), '--id', 'x']);
    assert.equal(junk.code, 2);
    assert.match(junk.stderr, /cannot read/);
  } finally {
    for (const n of started.reverse()) await n.stop();
    await rm(work, { recursive: true, force: true });
  }
});
