// The keeper client with no member reachable: a watch "from now" keeps trying
// for its starting revision (cancelling it settles `ready` with `closed`), and
// a kept lease ends as unreachable once a whole TTL passed without a renewal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { KeeperClient } from '../src/keeper-client.js';
import { KeeperError } from '../src/errors.js';

/** A loopback port nobody listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('a watch "from now" with no member reachable is not ready until one answers; cancel rejects ready with closed', async () => {
  const client = new KeeperClient({ endpoints: [`http://127.0.0.1:${await deadPort()}`], adminToken: 't', requestTimeoutMs: 200, retryDelayMs: 20, roundsMax: 1 });
  const w = client.watch('/cfg/', { prefix: true }, { onEvents: () => assert.fail('no events without a member') });
  // Cancelled in `finally` too (cancel is idempotent): an uncancelled watch retries forever and keeps the file alive.
  try {
    const early = await Promise.race([w.ready.then(() => 'ready', () => 'rejected'), new Promise((r) => setTimeout(() => r('pending'), 300))]);
    assert.equal(early, 'pending', 'no revision is known, so the watch has no start yet');
    w.cancel();
    await assert.rejects(w.ready, (e: unknown) => e instanceof KeeperError && e.code === 'closed');
  } finally {
    w.cancel();
  }
});

test('a watch from a given revision is ready at once with the revision before it', async () => {
  const client = new KeeperClient({ endpoints: [`http://127.0.0.1:${await deadPort()}`], adminToken: 't', requestTimeoutMs: 200, retryDelayMs: 20 });
  const w = client.watch('/cfg/', { fromRevision: 42 }, { onEvents: () => undefined });
  try {
    assert.equal(await w.ready, 41);
  } finally {
    w.cancel();
  }
});

test('a kept lease with no member reachable ends as unreachable once a whole TTL passed without a renewal; cancel ends it as cancelled', async () => {
  const client = new KeeperClient({ endpoints: [`http://127.0.0.1:${await deadPort()}`], adminToken: 't', requestTimeoutMs: 200, retryDelayMs: 50, roundsMax: 1 });
  const t0 = performance.now();
  const ka = client.keepAlive({ id: 'l1', ttl: 1 });
  assert.equal(await ka.ended, 'unreachable');
  assert.ok(performance.now() - t0 >= 1000, 'not before the TTL ran out');
  const other = client.keepAlive({ id: 'l2', ttl: 1 });
  other.cancel();
  assert.equal(await other.ended, 'cancelled');
});
