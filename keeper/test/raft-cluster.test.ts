// RaftKeeper members in one process, talking over real TCP on loopback, with
// short ticks (20 ms) and a shared fake clock for lease deadlines: a joiner
// far behind installs a snapshot, writes on followers are forwarded, reads on
// followers are linearizable, a lease's remaining TTL survives a leader
// change, and a member without a quorum fails writes with 'timeout' or 'no-leader' in
// bounded time.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, test } from 'node:test';
import { KeeperError } from '../src/errors.js';
import type { RangeResult, WatchMessage } from '../src/keeper.js';
import { RaftKeeper } from '../src/raft-keeper.js';
import type { RaftKeeperOptions } from '../src/raft-keeper.js';

const dirs: string[] = [];
const open: RaftKeeper[] = [];
// After each test (close is idempotent): a failed one must not leave members ticking into the next.
afterEach(async () => {
  for (const k of open.splice(0)) await k.close();
});
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

class FakeClock {
  ms = 1_764_000_000_000;
  readonly now = (): number => this.ms;
}

/**
 * Opens a member on fresh ports; with `via`, it joins through that member (which must be the leader).
 * The election timeout (1-2 s) and the waits for a leader and for a commit (10 s) are long enough
 * that on a loaded machine (lagging timers, fsyncs of 100s of ms) no election starts unasked and no
 * write gives up while an election runs; `extra` overrides them.
 */
async function member(id: string, clock: FakeClock, extra: Partial<RaftKeeperOptions> = {}, via?: RaftKeeper): Promise<RaftKeeper> {
  const dir = await mkdtemp(join(tmpdir(), `keeper-cluster-${id}-`));
  dirs.push(dir);
  const self = { id, peer: `127.0.0.1:${await freePort()}`, api: `api-${id}`, gateway: `gw-${id}`, zone: 'z' };
  const k = await RaftKeeper.open({
    dataDir: dir,
    member: self,
    now: clock.now,
    tickMs: 20,
    electionTicks: 50,
    leaseCheckIntervalMs: 0,
    leaderWaitMs: 10_000,
    proposalTimeoutMs: 10_000,
    openTimeoutMs: 10_000,
    ...(via === undefined ? {} : { join: () => via.addMember(self) }),
    ...extra,
  });
  open.push(k);
  return k;
}

async function eventually<T>(probe: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    assert.ok(Date.now() < deadline, `gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function leaderOf(ks: readonly RaftKeeper[]): RaftKeeper | undefined {
  return ks.find((k) => k.raftStatus().lead === k.raftId);
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof KeeperError && e.code === code);
}

async function threeMembers(clock: FakeClock, extra: Partial<RaftKeeperOptions> = {}): Promise<RaftKeeper[]> {
  const k1 = await member('n1', clock, extra);
  const k2 = await member('n2', clock, extra, k1);
  await eventually(() => (k1.cluster().members.filter((m) => m.role === 'voter').length === 2 ? true : undefined), 'n2 promoted');
  // Through the leader of the two (k1 unless an election moved it).
  const k3 = await member('n3', clock, extra, leaderOf([k1, k2]) ?? k1);
  await eventually(() => (k1.cluster().members.filter((m) => m.role === 'voter').length === 3 ? true : undefined), 'n3 promoted');
  return [k1, k2, k3];
}

test('raft cluster: a far-behind joiner installs a snapshot, and starts its watch history there', async () => {
  const clock = new FakeClock();
  const k1 = await member('n1', clock, { snapshotEntries: 20, compactionKeepEntries: 5 });
  for (let i = 0; i < 60; i++) await k1.put(`s/${i}`, String(i));
  const k2 = await member('n2', clock, {}, k1);
  // Caught up on open: ready() waits for the leader's commit index.
  assert.equal((await k2.range('s/', { prefix: true, consistency: 'serializable' })).kvs.length, 60);
  const first: WatchMessage[] = [];
  k2.watch({ key: 's/', prefix: true, fromRevision: 2 }, (m) => {
    first.push(m);
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(first[0]?.kind, 'compacted', 'the joiner started from a snapshot, not from entry 1');
  await eventually(() => (k1.cluster().members.find((m) => m.id === 'n2')?.role === 'voter' ? true : undefined), 'n2 promoted');
  // A follower refuses membership changes: the HTTP API forwards them to the leader.
  // Asked of whichever is the follower now (an election may have moved the leadership to k2).
  const follower = [k2, k1].find((k) => k.raftStatus().lead !== k.raftId);
  assert.ok(follower !== undefined, 'one of the two follows');
  await rejectsWith(follower.addMember({ id: 'n9', peer: '127.0.0.1:9', api: 'a', gateway: 'g', zone: 'z' }), 'not-leader');
  await k2.close();
  await k1.close();
});

test('raft cluster: followers forward writes and read linearizably; a watch on one member sees a write on another', async () => {
  const clock = new FakeClock();
  const [k1, k2, k3] = await threeMembers(clock);
  assert.ok(k1 !== undefined && k2 !== undefined && k3 !== undefined);
  const events: string[] = [];
  k2.watch({ key: 'f/', prefix: true }, (m) => {
    if (m.kind === 'events') events.push(...m.events.map((e) => `${e.type} ${e.key} ${e.revision}`));
  });
  for (let i = 0; i < 10; i++) {
    const w = await k3.put('f/x', `v${i}`);
    const r: RangeResult = await k2.range('f/x');
    assert.equal(r.kvs[0]?.value, `v${i}`, 'a linearizable read on another follower sees the acknowledged write');
    assert.ok(r.revision >= w.revision);
  }
  await eventually(() => (events.length === 10 ? true : undefined), 'ten watch events on n2');
  assert.deepEqual((await k1.range('f/x', { consistency: 'serializable' })).kvs[0]?.value, 'v9');
  const c = k2.cluster();
  assert.deepEqual(c.members.map((m) => [m.id, m.role]).sort(), [['n1', 'voter'], ['n2', 'voter'], ['n3', 'voter']]);
  assert.ok([k1, k2, k3].every((k) => k.ready()));
  for (const k of [k1, k2, k3]) await k.close();
});

test('raft cluster: a lease keeps its remaining TTL across a leader change; a lone member fails writes with timeout, then no-leader', async () => {
  const clock = new FakeClock();
  // Short waits here: the write without a quorum must fail within a few seconds.
  const ks = await threeMembers(clock, { leaderWaitMs: 2_000, proposalTimeoutMs: 3_000 });
  const leader = leaderOf(ks);
  assert.ok(leader !== undefined);
  const lease = await leader.leaseGrant(10);
  await leader.put('l/a', '1', { lease: lease.id });
  clock.ms += 6_000;
  await leader.close();
  const rest = ks.filter((k) => k !== leader);
  const next = await eventually(() => leaderOf(rest), 'a new leader');
  await eventually(() => (next.ready() ? true : undefined), 'the new leader ready');
  await next.checkLeases(); // the new leader's first round: nothing had run out, nothing refreshed
  await next.checkLeases();
  assert.equal((await next.range('l/a')).kvs.length, 1, 'alive 6 s into a 10 s lease');
  clock.ms += 4_001;
  await next.checkLeases();
  assert.deepEqual((await next.range('l/a')).kvs, [], 'expired at the deadline set before the leader change, not 10 s after it');

  // Two of three gone: no quorum. A write the leader took before it noticed
  // fails with 'timeout' (it is in the leader's log: outcome unknown); once it
  // stepped down, a write is not proposed at all and fails with 'no-leader'.
  const other = rest.find((k) => k !== next);
  assert.ok(other !== undefined);
  await other.close();
  await rejectsWith(next.put('l/b', '1'), 'timeout');
  await eventually(() => (next.ready() ? undefined : true), 'not ready without a quorum');
  await rejectsWith(next.put('l/c', '1'), 'no-leader');
  await next.close();
});
