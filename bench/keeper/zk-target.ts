// ZooKeeper through node-zookeeper-client (pure JS, ZooKeeper's binary TCP
// protocol): create, setData, sync + getData for linearizable reads (both
// sent at once on the session, which answers them in order), and getData
// watches, which fire once and are set again by the getData that reads the
// new value. One session per load worker (worker w on member w mod n), like
// the HTTP targets' one connection per request in flight, and one per watcher.
import zookeeper from 'node-zookeeper-client';
import { nowMs } from '../lib/clock.js';
import type { KvTarget, Watch, WatchCallback } from './system.js';
import { startZkCluster, zkMode } from './zk-cluster.js';
import { zkSync } from './zk-sync.js';

const SESSION_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 10_000;
/**
 * Sessions at most (a multiple of 3, so that worker w still lands on member
 * w mod n): a session pipelines, and the leader-kill phase's hundreds of
 * clients need no session each.
 */
const SESSIONS_MAX = 258;

function connect(host: string): Promise<zookeeper.Client> {
  return new Promise((resolve, reject) => {
    const c = zookeeper.createClient(host, { sessionTimeout: SESSION_TIMEOUT_MS, spinDelay: 100, retries: 0 });
    const timer = setTimeout(() => {
      // Closed only once connected: the library misreads a connect answer that arrives after close() and throws.
      c.once('connected', () => c.close());
      reject(new Error(`zookeeper: no session with ${host} within ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    c.once('connected', () => {
      clearTimeout(timer);
      resolve(c);
    });
    c.connect();
  });
}

/** Keys are slash-separated names under the bench's root; ZooKeeper paths start with '/'. */
const pathOf = (key: string): string => `/${key}`;

function cb<T>(resolve: (v: T) => void, reject: (e: unknown) => void): (err: unknown, v: T) => void {
  return (err, v) => (err ? reject(err) : resolve(v));
}

export async function zkTarget(size: number, concurrency: number): Promise<KvTarget> {
  const cluster = await startZkCluster(size);
  const sessions: zookeeper.Client[] = [];
  const watchers = new Set<zookeeper.Client>();
  // The servers stop first: after a leader kill some sessions are still
  // reconnecting, and node-zookeeper-client throws (uncaught) on a connect
  // answer that arrives after close(); with the servers gone none can arrive.
  const close = async (): Promise<void> => {
    await cluster.stop();
    for (const c of [...sessions, ...watchers]) c.close();
    watchers.clear();
  };
  try {
    for (let w = 0; w < Math.min(concurrency, SESSIONS_MAX); w++) sessions.push(await connect(cluster.hosts[w % cluster.hosts.length] ?? ''));
  } catch (err) {
    await close();
    throw err;
  }
  const session = (w: number): zookeeper.Client => {
    const s = sessions[w % sessions.length];
    if (s === undefined) throw new Error('no session');
    return s;
  };
  const parents = new Set<string>();
  /** Creates the missing parents of `path` once (mkdirp), before the first create under them. */
  const ensureParent = async (c: zookeeper.Client, path: string): Promise<void> => {
    const parent = path.slice(0, path.lastIndexOf('/'));
    if (parent === '' || parents.has(parent)) return;
    await new Promise<string>((resolve, reject) => c.mkdirp(parent, cb(resolve, reject)));
    parents.add(parent);
  };
  return {
    system: 'zookeeper',
    pids: cluster.procs.map((p) => p.pid),
    async create(worker, key, value) {
      const c = session(worker);
      const path = pathOf(key);
      await ensureParent(c, path);
      await new Promise<string>((resolve, reject) => c.create(path, Buffer.from(value), cb(resolve, reject)));
    },
    async put(worker, key, value) {
      await new Promise((resolve, reject) => session(worker).setData(pathOf(key), Buffer.from(value), -1, cb(resolve, reject)));
    },
    async get(worker, key) {
      const c = session(worker);
      const path = pathOf(key);
      const [, data] = await Promise.all([zkSync(c, path), new Promise<Buffer>((resolve, reject) => c.getData(path, cb(resolve, reject)))]);
      return data.toString('utf8');
    },
    async watch(member: number, key: string, onChange: WatchCallback): Promise<Watch> {
      const c = await connect(cluster.hosts[member % cluster.hosts.length] ?? '');
      watchers.add(c);
      const path = pathOf(key);
      let closed = false;
      // Reads the value and sets the (one-shot) watch again; `at` is when the notification arrived.
      const arm = (at: number | undefined): Promise<void> =>
        new Promise((resolve, reject) =>
          c.getData(
            path,
            (event) => {
              if (!closed && event.getName() === 'NODE_DATA_CHANGED') void arm(nowMs()).catch(() => undefined);
            },
            (err, data) => {
              if (err) return reject(err);
              if (at !== undefined && !closed) onChange(at, data.toString('utf8'));
              resolve();
            },
          ),
        );
      try {
        await arm(undefined);
      } catch (err) {
        watchers.delete(c);
        c.close();
        throw err;
      }
      return {
        close() {
          closed = true;
          watchers.delete(c);
          c.close();
        },
      };
    },
    async leader() {
      for (let m = 0; m < cluster.ports.length; m++) if ((await zkMode(cluster.ports[m] ?? 0, 1000)) === 'leader') return m;
      return undefined;
    },
    kill(member) {
      process.kill(cluster.procs[member]?.pid ?? -1, 'SIGKILL');
    },
    close,
  };
}
