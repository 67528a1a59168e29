// RaftKeeper as a one-member cluster on a real LevelDB in a temp dir, with a
// fake clock: it must behave as the one-member keeper it replaced (durable
// writes, the log tail watchable across restarts, leases expiring through the
// log, sessions hanging on the node lease, batched register writes).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, test } from 'node:test';
import { restoreBackup } from '../src/restore-backup.js';
import { KeeperError } from '../src/errors.js';
import type { Session, WatchMessage } from '../src/keeper.js';
import { nodeLeaseKey, RaftKeeper } from '../src/raft-keeper.js';
import type { RaftKeeperOptions } from '../src/raft-keeper.js';

const dirs: string[] = [];
const opened: RaftKeeper[] = [];
// Every keeper a test opened is closed after it (close is idempotent), pass or fail: one left open
// by a failed assertion would keep its listener and timers and hang the file to its timeout.
afterEach(async () => {
  for (const k of opened.splice(0)) await k.close();
});
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function openKeeper(o: RaftKeeperOptions): Promise<RaftKeeper> {
  const k = await RaftKeeper.open(o);
  opened.push(k);
  return k;
}

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'keeper-raft-'));
  dirs.push(d);
  return d;
}

class FakeClock {
  ms = 1_764_000_000_000;
  readonly now = (): number => this.ms;
}

function options(dataDir: string, clock: FakeClock, extra: Partial<RaftKeeperOptions> = {}): RaftKeeperOptions {
  return {
    dataDir,
    member: { id: 'n1', peer: '127.0.0.1:7802', api: '127.0.0.1:7801', gateway: '127.0.0.1:7800', zone: 'default' },
    listen: { host: '127.0.0.1', port: 0 },
    now: clock.now,
    leaseCheckIntervalMs: 0,
    ...extra,
  };
}

function session(user: string, id: string, since: number): Session {
  return { app: 'app1', user, device: `dev-${id}`, session: id, node: 'n1', since };
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof KeeperError && e.code === code);
}

test('raft keeper (one member): write, close, reopen; state and revision intact', async () => {
  const dir = await tempDir();
  const clock = new FakeClock();
  const k1 = await openKeeper(options(dir, clock, { snapshotEntries: 7 }));
  const c = k1.cluster();
  assert.equal(c.leader, 'n1');
  assert.ok(c.term >= 1);
  assert.deepEqual(c.members, [{ id: 'n1', role: 'voter', peer: '127.0.0.1:7802', api: '127.0.0.1:7801', gateway: '127.0.0.1:7800', zone: 'default', healthy: true }]);
  assert.equal(k1.ready(), true);
  // Enough writes to cross a snapshot, so reopening reads a snapshot plus a log tail.
  for (let i = 0; i < 20; i++) await k1.put(`cfg/${i % 5}`, `v${i}`);
  const lease = await k1.leaseGrant(60);
  await k1.put('cfg/leased', 'x', { lease: lease.id });
  await k1.delete('cfg/0');
  const before = await k1.range('cfg/', { prefix: true });
  await k1.close();
  assert.equal(k1.ready(), false);
  await rejectsWith(k1.put('a', 'b'), 'closed');

  const k2 = await openKeeper(options(dir, clock));
  const afterReopen = await k2.range('cfg/', { prefix: true });
  assert.deepEqual(afterReopen.kvs, before.kvs);
  // Two revisions: the previous incarnation's node-lease record is revoked, the new one written.
  assert.equal(afterReopen.revision, before.revision + 2);
  assert.equal(k2.cluster().members.length, 1);
  const { revision } = await k2.put('cfg/1', 'next');
  assert.equal(revision, before.revision + 3);
  await k2.close();
});

test('raft keeper: a backup restored into an empty data dir starts a new one-member cluster; not into a used one', async () => {
  const clock = new FakeClock();
  const old = await openKeeper(options(await tempDir(), clock, { snapshotEntries: 7 }));
  for (let i = 0; i < 12; i++) await old.put(`cfg/${i % 4}`, `v${i}`);
  const lease = await old.leaseGrant(600);
  await old.put('cfg/leased', 'x', { lease: lease.id });
  await old.put('moves/n9', 'a record of the old cluster');
  const { revision, bytes } = await old.backup();
  const before = await old.range('cfg/', { prefix: true });
  await old.close();

  // Another member id, another machine: the old cluster's members do not come along, nor the dropped prefix.
  const dir = await tempDir();
  const member = { id: 'r1', peer: '127.0.0.1:7812', api: '127.0.0.1:7811', gateway: '127.0.0.1:7810', zone: 'dr' };
  // Five cfg/ keys and the old member's node-lease record (its lease expires in the new cluster).
  assert.deepEqual(await restoreBackup(dir, 'r1', bytes, ['moves/']), { revision, keys: 6 });
  const k = await openKeeper({ ...options(dir, clock), member });
  assert.deepEqual((await k.range('cfg/', { prefix: true })).kvs, before.kvs, 'the keys as they were, revisions and lease included');
  assert.deepEqual((await k.range('moves/', { prefix: true })).kvs, []);
  assert.deepEqual(k.cluster().members.map((m) => [m.id, m.role]), [['r1', 'voter']]);
  assert.deepEqual((await k.leaseInfo(lease.id)).keys, ['cfg/leased']);
  const next = await k.put('cfg/new', 'after');
  assert.ok(next.revision > revision, `revisions go on from the backup's (${revision}), got ${next.revision}`);
  await k.close();

  // Not into a data dir that holds a log, nor from bytes that are not a keeper snapshot (nothing written then).
  await rejectsWith(restoreBackup(dir, 'r1', bytes), 'conflict');
  const again = await openKeeper({ ...options(dir, clock), member });
  assert.equal((await again.range('cfg/new')).kvs[0]?.value, 'after');
  await again.close();
  const empty = await tempDir();
  await rejectsWith(restoreBackup(empty, 'r1', new Uint8Array([1, 2, 3])), 'corrupt');
  const fresh = await openKeeper({ ...options(empty, clock), member });
  assert.equal((await fresh.range('cfg/', { prefix: true })).kvs.length, 0, 'the data dir was left empty');
});

test('raft keeper (one member): the log tail stays watchable across a restart; older revisions answer compacted', async () => {
  const dir = await tempDir();
  const clock = new FakeClock();
  const k1 = await openKeeper(options(dir, clock, { snapshotEntries: 1000 }));
  const first = await k1.put('w/a', '1');
  await k1.put('w/b', '2');
  await k1.close();
  const k2 = await openKeeper(options(dir, clock));
  const got: string[] = [];
  k2.watch({ key: 'w/', prefix: true, fromRevision: first.revision }, (m) => {
    if (m.kind === 'events') got.push(...m.events.map((e) => `${e.key}@${e.revision}`));
  });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, [`w/a@${first.revision}`, `w/b@${first.revision + 1}`]);
  await k2.close();

  const k3 = await openKeeper(options(dir, clock, { snapshotEntries: 1 }));
  await k3.put('w/c', '3'); // snapshots, so the tail is empty on the next open
  await k3.close();
  const k4 = await openKeeper(options(dir, clock));
  const answers: WatchMessage[] = [];
  k4.watch({ key: 'w/', prefix: true, fromRevision: first.revision }, (m) => {
    answers.push(m);
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(answers[0]?.kind, 'compacted');
  await k4.close();
});

test('raft keeper (one member): CAS conflict gives compare-failed', async () => {
  const k = await openKeeper(options(await tempDir(), new FakeClock()));
  const { revision } = await k.put('a', '1', { ifModRevision: 0 });
  await rejectsWith(k.put('a', '2', { ifModRevision: 0 }), 'compare-failed');
  await rejectsWith(k.put('a', '2', { ifModRevision: revision + 5 }), 'compare-failed');
  await k.put('a', '2', { ifModRevision: revision });
  const r = await k.range('a');
  assert.equal(r.kvs[0]?.value, '2');
  await rejectsWith(k.leaseKeepAlive('nope'), 'lease-not-found');
  await rejectsWith(k.put('b', '1', { lease: 'nope' }), 'lease-not-found');
  await rejectsWith(k.leaseGrant(0), 'invalid');
  await k.close();
});

test('raft keeper (one member): with no group-commit wait and with a long one, waves of concurrent puts all land, each at its own revision', async () => {
  for (const groupCommitMs of [0, 20]) {
    const k = await openKeeper(options(await tempDir(), new FakeClock(), { groupCommitMs }));
    const revisions: number[] = [];
    for (let wave = 0; wave < 4; wave++) {
      const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => k.put(`w/${wave}/${i}`, 'v')));
      revisions.push(...rs.map((r) => r.revision));
    }
    assert.equal((await k.count('w/', { prefix: true })).count, 200, `groupCommitMs ${groupCommitMs}`);
    assert.equal(new Set(revisions).size, 200, `groupCommitMs ${groupCommitMs}: one revision per put`);
    await k.close();
  }
});

test('raft keeper (one member): the space quota refuses puts that grow the store past it, and nothing else', async () => {
  const dir = await tempDir();
  const clock = new FakeClock();
  const quotaBytes = 4096;
  const k = await openKeeper(options(dir, clock, { quotaBytes }));
  const base = k.space.bytes; // the node's own records (its lease key)
  assert.ok(base > 0 && base < 500, `base ${base}`);
  const big = 'x'.repeat(1500);
  await k.put('/big/1', big);
  await k.put('/big/2', big);
  assert.equal(k.space.bytes, base + 2 * (6 + 1500));
  await assert.rejects(k.put('/big/3', big), (e: unknown) => e instanceof KeeperError && e.code === 'no-space' && e.message.includes(`quota of ${quotaBytes}`));
  assert.deepEqual((await k.range('/big/3')).kvs, [], 'a refused put writes nothing');
  await k.put('/big/2', 'y'.repeat(1500)); // no growth: allowed at the quota
  await k.put('/big/1', 'short'); // shrinks
  await k.put('/big/3', big); // room again
  await rejectsWith(k.put('/big/4', big), 'no-space');
  const { deleted } = await k.delete('/big/', { prefix: true }); // deletes always go
  assert.equal(deleted, 3);
  assert.equal(k.space.bytes, base);
  await k.put('/big/4', big);
  const held = k.space.bytes;
  await k.close();
  const again = await openKeeper(options(dir, clock, { quotaBytes }));
  assert.equal(again.space.bytes, held, 'recounted from the log on restart');
  assert.deepEqual(again.space, { bytes: held, quotaBytes });
});

test('raft keeper (one member): lease grants past leasesMax are refused with no-space; a revoke makes room', async () => {
  const k = await openKeeper(options(await tempDir(), new FakeClock(), { leasesMax: 3 }));
  // The node's own lease is one of the three.
  const a = await k.leaseGrant(30);
  await k.leaseGrant(30);
  await assert.rejects(k.leaseGrant(30), (e: unknown) => e instanceof KeeperError && e.code === 'no-space' && e.message.includes('(3)'));
  await k.leaseRevoke(a.id);
  await k.leaseGrant(30);
});

test('raft keeper (one member): lease expiry removes attached keys; the node lease is kept alive', async () => {
  const clock = new FakeClock();
  const k = await openKeeper(options(await tempDir(), clock, { nodeLeaseTtlSeconds: 10 }));
  const lease = await k.leaseGrant(5);
  await k.put('svc/a', '1', { lease: lease.id });
  await k.put('svc/b', '1');
  await k.register([{ op: 'add', session: session('u1', 's1', clock.ms) }]);
  const events: WatchMessage[] = [];
  k.watch({ key: 'svc/', prefix: true }, (m) => {
    events.push(m);
  });

  clock.ms += 4_000;
  await k.checkLeases();
  assert.equal((await k.range('svc/a')).kvs.length, 1, 'not expired before its deadline');
  await k.leaseKeepAlive(lease.id);
  clock.ms += 4_000;
  await k.checkLeases();
  assert.equal((await k.range('svc/a')).kvs.length, 1, 'the keepalive moved the deadline');
  clock.ms += 1_001;
  // A leader expires leases only once it applied all it committed (the lease
  // timer's own keepalive may be in flight), so a round may defer: a few rounds.
  const left = async (): Promise<string[]> => (await k.range('svc/', { prefix: true })).kvs.map((kv) => kv.key);
  for (let round = 0; round < 50 && (await left()).length > 1; round++) {
    await k.checkLeases();
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.deepEqual(await left(), ['svc/b']);
  await rejectsWith(k.leaseKeepAlive(lease.id), 'lease-not-found');
  // The node's own lease is kept alive by the timer, so its sessions stay.
  assert.equal(k.sessionsOf('app1', 'u1').length, 1);
  clock.ms += 60_000;
  await k.checkLeases();
  assert.equal(k.sessionsOf('app1', 'u1').length, 1);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    events.flatMap((m) => (m.kind === 'events' ? m.events.map((e) => `${e.type} ${e.key}`) : [])),
    ['delete svc/a'],
  );
  await k.close();
});

test('raft keeper (one member): sessions vanish with the node lease, and a new node lease follows', async () => {
  const clock = new FakeClock();
  const k = await openKeeper(options(await tempDir(), clock));
  await k.register([{ op: 'add', session: session('u1', 's1', clock.ms) }]);
  await k.put('nodes/n1', 'alive', { lease: k.nodeLeaseId });
  const old = k.nodeLeaseId;
  await k.leaseRevoke(old);
  assert.deepEqual(k.sessionsOf('app1', 'u1'), []);
  assert.deepEqual((await k.range('nodes/n1')).kvs, []);
  await rejectsWith(k.register([{ op: 'add', session: session('u1', 's2', clock.ms) }]), 'lease-not-found');
  await k.checkLeases();
  assert.notEqual(k.nodeLeaseId, old);
  await k.register([{ op: 'add', session: session('u1', 's2', clock.ms) }]);
  assert.deepEqual(k.sessionsOf('app1', 'u1').map((s) => s.session), ['s2']);
  await k.close();
});

test('raft keeper (one member): sessions vanish when the node restarts (its old lease is revoked)', async () => {
  const dir = await tempDir();
  const clock = new FakeClock();
  const k1 = await openKeeper(options(dir, clock));
  await k1.register([{ op: 'add', session: session('u1', 's1', clock.ms) }]);
  assert.equal(k1.sessionsOf('app1', 'u1').length, 1);
  await k1.close();
  const k2 = await openKeeper(options(dir, clock));
  assert.deepEqual(k2.sessionsOf('app1', 'u1'), []);
  const record = (await k2.range(nodeLeaseKey('n1'))).kvs;
  assert.deepEqual(record.map((kv) => [kv.value, kv.lease]), [[k2.nodeLeaseId, k2.nodeLeaseId]], 'only the new node lease is recorded');
  await k2.register([{ op: 'add', session: session('u1', 's2', clock.ms) }]);
  assert.deepEqual(k2.sessionsOf('app1', 'u1').map((s) => s.session), ['s2']);
  await k2.close();
});

test('raft keeper (one member): concurrent register calls share one write', async () => {
  const k = await openKeeper(options(await tempDir(), new FakeClock()));
  const before = k.revision;
  await Promise.all([
    k.register([{ op: 'add', session: session('u1', 's1', 1) }]),
    k.register([{ op: 'add', session: session('u1', 's2', 2) }]),
    k.register([{ op: 'add', session: session('u2', 's3', 3) }, { op: 'remove', app: 'app1', user: 'u1', session: 's1' }]),
  ]);
  assert.equal(k.revision, before + 1, 'one registerBatch command, one revision');
  // A bad call is rejected on its own and does not fail the calls batched with it.
  const [bad, good] = await Promise.allSettled([
    k.register([{ op: 'add', session: session('', 'bad', 4) }]),
    k.register([{ op: 'add', session: session('u4', 's5', 5) }]),
  ]);
  assert.ok(bad.status === 'rejected' && bad.reason instanceof KeeperError && bad.reason.code === 'invalid');
  assert.equal(good.status, 'fulfilled');
  assert.deepEqual(k.sessionsOf('app1', 'u1').map((s) => s.session), ['s2']);
  assert.deepEqual(k.sessionsOf('app1', 'u2').map((s) => s.session), ['s3']);
  await k.close();
});

test('raft keeper (one member): a session registered here holds the values every member decodes', async () => {
  const clock = new FakeClock();
  const k1 = await openKeeper(options(await tempDir(), clock));
  // A lone surrogate does not survive UTF-8: every member stores U+FFFD, so this one must too.
  const odd: Session = { ...session('u1', 's1', clock.ms), device: 'dev-\ud800' };
  const plain = session('u2', 's2', clock.ms + 1);
  await k1.register([{ op: 'add', session: odd }]);
  await k1.register([{ op: 'add', session: plain }]);
  const fields = (s: Session): Session => ({ app: s.app, user: s.user, device: s.device, session: s.session, node: s.node, since: s.since });
  assert.deepEqual(k1.sessionsOf('app1', 'u1').map(fields), [{ ...odd, device: 'dev-\ufffd' }]);
  assert.deepEqual(k1.sessionsOf('app1', 'u2').map(fields), [plain]);
  await k1.close();
});

test('raft keeper (one member): watch from a past revision, cancelled/closed on close', async () => {
  const k = await openKeeper(options(await tempDir(), new FakeClock()));
  const r1 = await k.put('w/a', '1');
  await k.put('w/b', '2');
  const got: WatchMessage[] = [];
  k.watch({ key: 'w/', prefix: true, fromRevision: r1.revision }, (m) => {
    got.push(m);
  });
  await k.put('w/a', '3');
  await k.close();
  assert.deepEqual(
    got.map((m) => (m.kind === 'events' ? m.events.map((e) => `${e.type} ${e.key} ${e.revision}`).join(',') : m.kind)),
    [`put w/a ${r1.revision}`, `put w/b ${r1.revision + 1}`, `put w/a ${r1.revision + 2}`, 'cancelled'],
  );
});

test('raft keeper (one member): kill -9 loses no acknowledged write', async () => {
  const dir = await tempDir();
  const child = spawn(process.execPath, [new URL('./raft-crash-child.js', import.meta.url).pathname, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acked: string[] = [];
  let buffered = '';
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      acked.push(...lines);
      if (acked.length >= 300 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
    child.on('exit', () => resolve());
  });
  assert.ok(acked.length >= 300, `child acknowledged only ${acked.length} writes before exiting`);
  const k = await openKeeper(options(dir, new FakeClock()));
  const { kvs } = await k.range('k/', { prefix: true });
  const stored = new Map(kvs.map((kv) => [kv.key, kv.modRevision]));
  for (const line of acked) {
    const [key, revision] = line.split(' ');
    assert.equal(stored.get(`k/${key ?? ''}`), Number(revision), `acknowledged write k/${line} survived the crash at its revision`);
  }
  await k.close();
});

test('raft keeper (one member): the lease timer expires leases on the real clock', async () => {
  const k = await openKeeper({
    dataDir: await tempDir(),
    member: { id: 'n1', peer: '127.0.0.1:7802', api: 'a', gateway: 'g', zone: 'z' },
    listen: { host: '127.0.0.1', port: 0 },
    leaseCheckIntervalMs: 50,
  });
  const lease = await k.leaseGrant(1);
  await k.put('ttl/a', '1', { lease: lease.id });
  const deadline = Date.now() + 5_000;
  while ((await k.range('ttl/a')).kvs.length > 0) {
    assert.ok(Date.now() < deadline, 'the key outlived its 1 s lease by 4 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  await rejectsWith(k.leaseKeepAlive(lease.id), 'lease-not-found');
  await k.close();
});

test('raft keeper (one member): restarted with other addresses, its member record follows', async () => {
  const dir = await tempDir();
  const clock = new FakeClock();
  const k1 = await openKeeper(options(dir, clock));
  await k1.close();
  const moved = { id: 'n1', peer: '127.0.0.1:17802', api: '127.0.0.1:17801', gateway: '127.0.0.1:17800', zone: 'other' };
  const k2 = await openKeeper({ ...options(dir, clock), member: moved });
  assert.deepEqual(k2.cluster().members, [{ ...moved, role: 'voter', healthy: true }]);
  await k2.close();
});

test('raft keeper (one member): membership changes one at a time; the last voter stays; unknown members are not found', async () => {
  const k = await openKeeper(options(await tempDir(), new FakeClock()));
  const ghost = (id: string): { id: string; peer: string; api: string; gateway: string; zone: string } => ({ id, peer: '127.0.0.1:9', api: 'a', gateway: 'g', zone: 'z' });
  const [first, second] = await Promise.allSettled([k.addMember(ghost('g1')), k.addMember(ghost('g2'))]);
  assert.equal(first.status, 'fulfilled');
  assert.ok(second.status === 'rejected' && second.reason instanceof KeeperError && second.reason.code === 'conflict', 'a second change while one is pending is refused');
  assert.deepEqual(first.status === 'fulfilled' ? first.value.raft.learners.length : -1, 1);
  assert.deepEqual(k.cluster().members.map((m) => [m.id, m.role, m.healthy]), [['n1', 'voter', true], ['g1', 'learner', false]]);
  await rejectsWith(k.removeMember('n1'), 'conflict');
  await rejectsWith(k.removeMember('nobody'), 'member-not-found');
  await rejectsWith(k.transferLeader(), 'conflict');
  await k.removeMember('g1');
  assert.deepEqual(k.cluster().members.map((m) => m.id), ['n1']);
  await k.close();
});
