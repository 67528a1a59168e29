// The keeper client's lock on a real node: one holder at a time, waiters in
// the order they came, the next one holding it when the holder releases or
// dies (its lease expires), a waiter that gives up withdraws, and every new
// holder's revision is larger (a fencing token).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeeperClient } from '../../keeper/src/keeper-client.js';
import type { KeeperLock } from '../../keeper/src/keeper-client.js';
import { NodeProcess } from './support/node-process.js';
import { eventually, obj, within } from './support/contract.js';

/** Whether `p` settled within `ms`. */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true, () => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
}

test('a lock: one holder, waiters in order, handed on at release and when a holder dies; a waiter that gives up withdraws', async () => {
  const node = await NodeProcess.start();
  const held: KeeperLock[] = [];
  try {
    const client = (): KeeperClient => new KeeperClient({ endpoints: [node.apiUrl], adminToken: node.adminToken });
    const a = await client().lock('/locks/job', { ttlSeconds: 2, value: 'a' });
    held.push(a);
    const b = client().lock('/locks/job', { ttlSeconds: 2, value: 'b' });
    // C comes after B: it waits for B, not for A.
    await eventually(async () => ((obj((await node.api('GET', '/v1/kv/locks/job/?prefix=true&countOnly=true')).body).count === 2 ? true : undefined)), 'B waiting');
    const c = client().lock('/locks/job', { ttlSeconds: 2, value: 'c' });
    await eventually(async () => ((obj((await node.api('GET', '/v1/kv/locks/job/?prefix=true&countOnly=true')).body).count === 3 ? true : undefined)), 'C waiting');
    assert.equal(await settledWithin(b, 500), false, 'B waits while A holds');
    assert.equal((await client().lockHolder('/locks/job'))?.value, 'a', 'A is the holder (the elected leader)');
    await a.release();
    const bl = await within(b, 10_000, 'B holds after A released');
    held.push(bl);
    assert.ok(bl.revision > a.revision, 'a later holder has a larger revision');
    assert.equal(await settledWithin(c, 300), false, 'C waits while B holds');
    assert.equal((await client().lockHolder('/locks/job'))?.value, 'b');
    // B dies: it stops renewing, and its lease (2 s) expires.
    bl.keepAlive.cancel();
    const cl = await within(c, 15_000, 'C holds once B\'s lease expired');
    held.push(cl);
    assert.ok(cl.revision > bl.revision);
    assert.equal((await within(bl.keepAlive.ended, 1000, 'B\'s keepalive ended')), 'cancelled');
    // D gives up: its key is withdrawn and the lock stays with C.
    const d = client().lock('/locks/job', { ttlSeconds: 2, value: 'd', signal: AbortSignal.timeout(500) });
    await assert.rejects(d);
    const left = (obj((await node.api('GET', '/v1/kv/locks/job/?prefix=true')).body).kvs as { value: string }[]).map((kv) => kv.value);
    assert.deepEqual(left, ['c'], 'only the holder\'s key is left');
    await cl.release();
    assert.equal(await client().lockHolder('/locks/job'), undefined, 'nobody holds it');
  } finally {
    for (const l of held) l.keepAlive.cancel();
    await node.stop();
  }
});
