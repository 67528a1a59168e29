// The keeper client's watch before it has a starting revision: with no member
// answering it keeps trying, and cancelling it settles `ready` with `closed`.
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
  const early = await Promise.race([w.ready.then(() => 'ready', () => 'rejected'), new Promise((r) => setTimeout(() => r('pending'), 300))]);
  assert.equal(early, 'pending', 'no revision is known, so the watch has no start yet');
  w.cancel();
  await assert.rejects(w.ready, (e: unknown) => e instanceof KeeperError && e.code === 'closed');
});

test('a watch from a given revision is ready at once with the revision before it', async () => {
  const client = new KeeperClient({ endpoints: [`http://127.0.0.1:${await deadPort()}`], adminToken: 't', requestTimeoutMs: 200, retryDelayMs: 20 });
  const w = client.watch('/cfg/', { fromRevision: 42 }, { onEvents: () => undefined });
  assert.equal(await w.ready, 41);
  w.cancel();
});
