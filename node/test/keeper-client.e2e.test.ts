// The keeper client on three real members: it learns the members, fails over
// when the member it talks to is killed, and its watch resumes on another
// member from the last revision it saw — every change once, in order — and a
// lease it keeps alive survives the kill.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeeperClient } from '../../keeper/src/keeper-client.js';
import { KeeperError } from '../../keeper/src/errors.js';
import type { WatchEvent } from '../../keeper/src/keeper.js';
import type { ClientWatch, LeaseKeepAlive } from '../../keeper/src/keeper-client.js';
import { NodeProcess } from './support/node-process.js';
import { eventually } from './support/contract.js';

/** TTL of the kept lease, in seconds. */
const LEASE_TTL_S = 6;

test('fails over between members and resumes a watch after its member dies', async () => {
  const n1 = await NodeProcess.start({ args: ['--id', 'k1'] });
  const others: NodeProcess[] = [];
  let w: ClientWatch | undefined;
  let ka: LeaseKeepAlive | undefined;
  try {
    others.push(await NodeProcess.start({ args: ['--id', 'k2', '--join', n1.apiUrl] }));
    others.push(await NodeProcess.start({ args: ['--id', 'k3', '--join', n1.apiUrl] }));
    const client = new KeeperClient({ endpoints: [n1.apiUrl], adminToken: n1.adminToken, requestTimeoutMs: 2000 });
    await eventually(async () => ((await client.discover()).length === 3 ? true : undefined), 'three members discovered', 100, 100);
    await eventually(async () => {
      const r = (await (await fetch(`${n1.apiUrl}/v1/cluster`, { headers: { authorization: `Bearer ${n1.adminToken}` } })).json()) as { members: { role: string }[] };
      return r.members.filter((m) => m.role === 'voter').length === 3 ? true : undefined;
    }, 'three voters', 200, 100);

    const seen: WatchEvent[] = [];
    w = client.watch('/cfg/', { prefix: true }, { onEvents: (evs) => seen.push(...evs) });
    // "From now" is fixed by a read: only writes after it are this watch's.
    const startsAfter = await w.ready;
    const written: number[] = [];
    for (let i = 0; i < 5; i++) written.push((await client.put(`/cfg/k${i}`, `v${i}`)).revision);
    assert.ok(written[0]! > startsAfter, `first put at ${written[0]} after the watch's start ${startsAfter}`);
    await eventually(async () => (seen.length >= 5 ? true : undefined), 'first five events', 100, 50);
    // A service's registration, kept alive through the failover below. The TTL leaves
    // room for one renewal lost to the failover: a renewal forwarded to the dead leader
    // hangs for the client's 2 s request timeout, then waits out an election.
    const lease = await client.leaseGrant(LEASE_TTL_S);
    await client.put('/svc/a', 'up', { lease: lease.id });
    ka = client.keepAlive(lease);
    let kaEnded: string | undefined;
    void ka.ended.then((why) => (kaEnded = why));

    // The watch and the client talk to k1 first: kill it.
    await n1.kill9();
    const killedAt = performance.now();
    for (let i = 5; i < 10; i++) written.push((await client.put(`/cfg/k${i}`, `v${i}`)).revision);
    await eventually(async () => (seen.length >= 10 ? true : undefined), 'all ten events after failover', 300, 100);
    assert.deepEqual(seen.map((e) => e.revision), written, 'every put once, in revision order');
    assert.deepEqual(seen.map((e) => (e.type === 'put' ? e.value : '')), Array.from({ length: 10 }, (_, i) => `v${i}`));
    const r = await client.get('/cfg/', { prefix: true });
    assert.deepEqual([r.kvs.length, r.more], [10, false]);
    // Paged: four pages of three, each going on after the last key of the one before.
    const paged: string[] = [];
    for (let after: string | undefined, more = true; more; ) {
      const page = await client.get('/cfg/', { prefix: true, limit: 3, ...(after === undefined ? {} : { after }) });
      paged.push(...page.kvs.map((kv) => kv.key));
      after = page.kvs.at(-1)?.key;
      more = page.more;
    }
    assert.deepEqual(paged, r.kvs.map((kv) => kv.key));
    assert.equal((await client.count('/cfg/', { prefix: true, after: '/cfg/k4' })).count, 5);
    // A transaction as a lock: taken only if nobody holds it, and once only.
    const take = () => client.txn({ compare: [{ key: '/lock', target: 'createRevision', op: '=', value: 0 }], success: [{ put: { key: '/lock', value: 'me' } }], failure: [] });
    assert.equal((await take()).succeeded, true);
    assert.equal((await take()).succeeded, false);
    // A read of two places at one revision: the lock's holder and the config it guards.
    for (const consistency of ['linearizable', 'serializable'] as const) {
      const both = await client.txn({ success: [{ get: { key: '/lock' } }, { get: { key: '/cfg/', prefix: true, limit: 2 } }] }, { consistency });
      assert.deepEqual(
        both.responses.map((x) => (x.type === 'get' ? [x.kvs.map((kv) => `${kv.key}=${kv.value}`), x.more] : x.type)),
        [[['/lock=me'], false], [['/cfg/k0=v0', '/cfg/k1=v1'], true]],
        consistency,
      );
    }
    const cas = await client.put('/cfg/k0', 'again', { ifModRevision: 1 }).catch((e: unknown) => e);
    assert.ok(cas instanceof KeeperError && cas.code === 'compare-failed');

    // Over two TTLs after the kill, the kept lease and its key are still there.
    await new Promise((r) => setTimeout(r, Math.max(0, killedAt + 2 * LEASE_TTL_S * 1000 + 500 - performance.now())));
    assert.equal(kaEnded, undefined, 'the keepalive is still running');
    assert.equal((await client.get('/svc/a')).kvs.length, 1, 'the leased key outlived two TTLs');
    const info = await client.leaseInfo(lease.id);
    assert.deepEqual([info.keys, info.ttl], [['/svc/a'], LEASE_TTL_S]);
    assert.ok((await client.leases()).leases.some((l) => l.id === lease.id));
    ka.cancel();
    assert.equal(await ka.ended, 'cancelled');
    await eventually(async () => ((await client.get('/svc/a')).kvs.length === 0 ? true : undefined), 'the key gone once its lease is no longer renewed', 200, 100);
    // A lease revoked elsewhere: the keepalive says it expired.
    const other = client.keepAlive(await client.leaseGrant(3));
    await client.leaseRevoke(other.id);
    assert.equal(await other.ended, 'expired');
  } finally {
    // A watch left running would retry against stopped members and keep the test process alive.
    w?.cancel();
    ka?.cancel();
    for (const n of others) await n.stop();
    await n1.stop();
  }
});

test('a write that may have been applied is not retried on another member; one surely not sent is, and reads always are', async () => {
  // Two one-member clusters: `hung` will accept connections but answer nothing (SIGSTOP), `live` answers.
  const hung = await NodeProcess.start({ args: ['--id', 'hung'] });
  const live = await NodeProcess.start({ args: ['--id', 'live'] });
  const through = (first: string, transport: 'wire' | 'http'): KeeperClient =>
    new KeeperClient({ endpoints: [first, live.apiUrl], adminToken: live.adminToken, requestTimeoutMs: 500, retryDelayMs: 20, transport });
  // Wire clients whose connection to `hung` is open before it stops: their calls are then written to it.
  const opened = async (): Promise<KeeperClient> => {
    const c = through(hung.apiUrl, 'wire');
    await c.get('/r/none', { consistency: 'serializable' });
    return c;
  };
  const casWire = await opened();
  const txnWire = await opened();
  process.kill(hung.pid, 'SIGSTOP');
  try {
    const timedOut = (e: unknown): boolean => e instanceof KeeperError && e.code === 'timeout' && /outcome unknown/.test(e.message);
    await assert.rejects(casWire.put('/r/cas', 'x', { ifModRevision: 0 }), timedOut, 'a compare-and-swap written to the wire is not retried');
    await assert.rejects(txnWire.txn({ success: [{ put: { key: '/r/txn', value: 'x' } }] }), timedOut, 'a transaction that writes is not retried');
    await assert.rejects(through(hung.apiUrl, 'http').put('/r/cas', 'x', { ifModRevision: 0 }), timedOut, 'a compare-and-swap sent over HTTP is not retried');
    await assert.rejects(through(hung.apiUrl, 'http').leaseGrant(5), timedOut, 'a lease grant is not retried');
    const direct = new KeeperClient({ endpoints: [live.apiUrl], adminToken: live.adminToken });
    assert.equal((await direct.count('/r/', { prefix: true })).count, 0, 'none of them reached the live member');
    // Harmless to repeat: a plain put, a read, a read-only transaction go on to the live member.
    await through(hung.apiUrl, 'wire').put('/r/plain', 'x');
    assert.equal((await through(hung.apiUrl, 'wire').get('/r/plain')).kvs[0]?.value, 'x');
    assert.equal((await through(hung.apiUrl, 'wire').txn({ success: [{ get: { key: '/r/plain' } }] })).responses.length, 1);
    // A wire call waits for the connection's upgrade, which the hung member never answers: it was never written, so even a compare-and-swap goes on.
    assert.ok((await through(hung.apiUrl, 'wire').put('/r/cas-unsent', 'x', { ifModRevision: 0 })).revision > 0);
    // A connection refused sent nothing: a compare-and-swap goes on, either way.
    const gone = await NodeProcess.start({ args: ['--id', 'gone'] });
    await gone.stop();
    assert.ok((await through(gone.apiUrl, 'http').put('/r/cas', 'y', { ifModRevision: 0 })).revision > 0);
    assert.ok((await through(gone.apiUrl, 'wire').put('/r/cas2', 'y', { ifModRevision: 0 })).revision > 0);
    assert.equal((await direct.get('/r/cas')).kvs[0]?.value, 'y');
  } finally {
    process.kill(hung.pid, 'SIGCONT');
    await hung.stop();
    await live.stop();
  }
});

test('the wire and HTTP name the same keys and answer alike: odd characters, leading slashes, prefixes, pages, errors', async () => {
  const n = await NodeProcess.start({ args: ['--id', 'same'] });
  const wire = new KeeperClient({ endpoints: [n.apiUrl], adminToken: n.adminToken, transport: 'wire' });
  const http = new KeeperClient({ endpoints: [n.apiUrl], adminToken: n.adminToken, transport: 'http' });
  try {
    const keys = ['odd/a b', 'odd/ü/ö', 'odd/x?y#z&w=1', 'odd/%41', '/odd/lead', '//odd/double'];
    for (const [i, k] of keys.entries()) await (i % 2 === 0 ? wire : http).put(k, `v${i}`);
    const [viaWire, viaHttp] = [await wire.get('/odd/', { prefix: true }), await http.get('/odd/', { prefix: true })];
    assert.deepEqual(viaWire, viaHttp);
    assert.deepEqual(viaWire.kvs.map((kv) => kv.key).sort(), ['/odd/%41', '/odd/a b', '/odd/double', '/odd/lead', '/odd/x?y#z&w=1', '/odd/ü/ö']);
    for (const k of keys) assert.deepEqual(await wire.get(k), await http.get(k), k);
    // A page, a count, a past revision, a transaction, alike.
    assert.deepEqual(await wire.get('/odd/', { prefix: true, limit: 2 }), await http.get('/odd/', { prefix: true, limit: 2 }));
    assert.deepEqual(await wire.count('/odd/', { prefix: true }), await http.count('/odd/', { prefix: true }));
    const rev = viaWire.revision;
    await wire.put('/odd/a b', 'changed');
    assert.deepEqual(await wire.get('/odd/a b', { revision: rev }), await http.get('/odd/a b', { revision: rev }));
    assert.deepEqual(await wire.txn({ success: [{ get: { key: '/odd/', prefix: true } }] }), await http.txn({ success: [{ get: { key: '/odd/', prefix: true } }] }));
    // The same errors, as the same KeeperError codes.
    const code = (p: Promise<unknown>): Promise<string> => p.then(() => 'none', (e: unknown) => (e instanceof KeeperError ? e.code : String(e)));
    for (const c of [wire, http]) {
      assert.equal(await code(c.put('/odd/a b', 'x', { ifModRevision: 1 })), 'compare-failed');
      assert.equal(await code(c.leaseKeepAlive('00000000000000ff')), 'lease-not-found');
      assert.equal(await code(c.get('/odd/', { revision: 999_999_999 })), 'invalid');
      assert.equal(await code(c.put('k'.repeat(1100), 'x')), 'invalid');
    }
    assert.deepEqual((await wire.delete('/odd/', { prefix: true })).deleted, keys.length);
  } finally {
    wire.close();
    await n.stop();
  }
});
