// A lock on the keeper (also a leader election), as etcd's
// concurrency.Mutex: each contender writes `<name>/<its lease id>` under its
// own lease; the holder is the contender whose key was created first (lowest
// createRevision). A waiter watches only the key just before its own, so a
// release wakes one waiter, not all of them, and holds the lock once no key
// older than its own is left. A holder that dies loses the lock when its
// lease expires. `revision` (the key's createRevision) grows with every new
// holder: pass it along as a fencing token.
import { KeeperError } from './errors.js';
import type { KeeperClient } from './keeper-client.js';
import type { KeyValue } from './keeper.js';
import type { LeaseEnd, LeaseKeepAlive } from './lease-keepalive.js';

export interface KeeperLock {
  /** This holder's key, `<name>/<lease id>`. */
  readonly key: string;
  /** The key's createRevision: larger for every later holder (a fencing token). */
  readonly revision: number;
  /** Renews the lease the key hangs on; `ended` other than 'cancelled' means the lock may be lost: stop acting as its holder. */
  readonly keepAlive: LeaseKeepAlive;
  /** Revokes the lease (the key goes with it, and the next waiter holds the lock). */
  release(): Promise<void>;
}

export interface LockOptions {
  /** Seconds the lock outlives a holder that stops renewing. */
  readonly ttlSeconds: number;
  /** Stored in the key, for whoever wants to know the holder. */
  readonly value?: string;
  /** Gives up waiting: the contender's key is withdrawn and acquire rejects. */
  readonly signal?: AbortSignal;
}

/** Waits until this contender holds the lock `name` (a key prefix, without the trailing /). */
export async function acquireLock(client: KeeperClient, name: string, o: LockOptions): Promise<KeeperLock> {
  const prefix = prefixOf(name);
  o.signal?.throwIfAborted();
  const lease = await client.leaseGrant(o.ttlSeconds);
  const keepAlive = client.keepAlive(lease);
  const key = `${prefix}${lease.id}`;
  const withdraw = async (): Promise<void> => {
    keepAlive.cancel();
    await client.leaseRevoke(lease.id).catch(() => undefined); // else it expires after its TTL
  };
  try {
    await client.put(key, o.value ?? '', { lease: lease.id });
    for (let round = 0; ; round++) {
      o.signal?.throwIfAborted();
      const r = await contendersOf(client, prefix);
      const contenders = [...r.kvs].sort((a, b) => a.createRevision - b.createRevision);
      const at = contenders.findIndex((kv) => kv.key === key);
      if (at < 0) throw new KeeperError('lease-not-found', `lock ${name}: this contender's key ${key} is gone (its lease expired)`);
      const mine = contenders[at] as KeyValue;
      const before = contenders[at - 1];
      if (before === undefined) return { key, revision: mine.createRevision, keepAlive, release: withdraw };
      await gone(client, before.key, r.revision, keepAlive, o.signal);
    }
  } catch (err) {
    await withdraw();
    throw err;
  }
}

/** The key (and value) of the lock's holder now, or undefined when nobody holds it: who the elected leader is. */
export async function lockHolder(client: KeeperClient, name: string): Promise<KeyValue | undefined> {
  const r = await contendersOf(client, prefixOf(name));
  return r.kvs.reduce<KeyValue | undefined>((oldest, kv) => (oldest === undefined || kv.createRevision < oldest.createRevision ? kv : oldest), undefined);
}

/** The contenders' key prefix of the lock `name`: one trailing slash. */
function prefixOf(name: string): string {
  return `${name.replace(/\/+$/, '')}/`;
}

/** Every contender's key, the pages read at the first one's revision (one snapshot). */
async function contendersOf(client: KeeperClient, prefix: string): Promise<{ revision: number; kvs: KeyValue[] }> {
  const first = await client.get(prefix, { prefix: true });
  const kvs = [...first.kvs];
  for (let more = first.more, pages = 0; more && pages < 10_000; pages++) {
    const page = await client.get(prefix, { prefix: true, after: kvs[kvs.length - 1]?.key ?? prefix, revision: first.revision });
    kvs.push(...page.kvs);
    more = page.more;
  }
  return { revision: first.revision, kvs };
}

/** Resolves once `key` is deleted after `revision` (or the watch history no longer reaches back: look again); rejects if the lease ends or the signal aborts. */
function gone(client: KeeperClient, key: string, revision: number, keepAlive: LeaseKeepAlive, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const w = client.watch(key, { fromRevision: revision + 1 }, {
      onEvents: (events) => {
        if (events.some((e) => e.type === 'delete')) done();
      },
      onCompacted: () => done(),
    });
    const onAbort = (): void => done(signal?.reason instanceof Error ? signal.reason : new KeeperError('closed', 'lock: waiting aborted'));
    const onLost = (why: LeaseEnd): void => {
      if (why !== 'cancelled') done(new KeeperError('lease-not-found', `lock: the contender's lease ended (${why}) while waiting`));
    };
    function done(err?: Error): void {
      w.cancel();
      signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    void keepAlive.ended.then(onLost);
  });
}
