// The lock workload's clients: each takes the keeper client's lock (the
// same `keeper.lock()` services use) through the nodes up now, and while it
// holds it makes up to three increments of a counter, each one transaction
// fenced on its lock key still existing and on the counter's modRevision;
// then it releases. Every increment tried is recorded for checker/lock.ts.
import { KeeperClient } from '../../keeper/src/keeper-client.js';
import type { KeeperLock } from '../../keeper/src/keeper-client.js';
import { KeeperError } from '../../keeper/src/errors.js';
import type { LockWrite } from '../checker/lock.js';
import type { KeeperClientLoop } from './kv-client.js';

/** Outside the kv workload's and the bank's prefixes. */
const LOCK_NAME = '/jepsen-lock/holder';
const COUNTER_KEY = '/jepsen-lock/counter';
/** Short, so a holder that a fault cuts off loses the lock within the round. */
const LOCK_TTL_S = 2;
const INCREMENTS_PER_HOLD = 3;

export interface LockClientOptions extends KeeperClientLoop {
  readonly writes: LockWrite[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function lockClientLoop(o: LockClientOptions): Promise<void> {
  for (let i = 0; !o.until() && i < 10_000; i++) {
    const client = new KeeperClient({ endpoints: o.targets().map((t) => t.apiUrl), adminToken: o.adminToken, requestTimeoutMs: o.opTimeoutMs, retryDelayMs: 50, roundsMax: 2 });
    let lock: KeeperLock;
    try {
      lock = await client.lock(LOCK_NAME, { ttlSeconds: LOCK_TTL_S, value: `c${o.clientId}`, signal: AbortSignal.timeout(4 * o.opTimeoutMs) });
    } catch {
      await sleep(50);
      continue;
    }
    try {
      for (let k = 0; k < INCREMENTS_PER_HOLD && !o.until(); k++) if (!(await increment(client, lock, o))) break;
    } finally {
      lock.keepAlive.cancel();
      await lock.release().catch(() => undefined);
    }
    await sleep(o.rng.int(20));
  }
}

/** One fenced increment; false when the client should stop using this hold. */
async function increment(client: KeeperClient, lock: KeeperLock, o: LockClientOptions): Promise<boolean> {
  const read = await client.get(COUNTER_KEY).catch(() => undefined);
  if (read === undefined) return false;
  const cur = read.kvs[0];
  const counter = (cur === undefined ? 0 : Number(cur.value.split(':')[0])) + 1;
  const call = o.now();
  const base = { clientId: o.clientId, token: lock.revision, call };
  try {
    const t = await client.txn({
      compare: [
        { key: lock.key, target: 'createRevision', op: '>', value: 0 },
        { key: COUNTER_KEY, target: 'modRevision', op: '=', value: cur?.modRevision ?? 0 },
      ],
      success: [{ put: { key: COUNTER_KEY, value: `${counter}:${o.clientId}:${lock.revision}` } }],
    });
    o.writes.push(t.succeeded ? { ...base, return: o.now(), outcome: 'done', revision: t.revision, counter } : { ...base, return: o.now(), outcome: 'compare-failed' });
    return t.succeeded;
  } catch (err) {
    // 'timeout': it may have been applied; anything else the client saw refused.
    o.writes.push({ ...base, return: o.now(), outcome: err instanceof KeeperError && err.code === 'timeout' ? 'unknown' : 'refused' });
    return false;
  }
}
