// The systems the keeper bench compares, and what a cluster of one offers the
// load generator: a client per load worker, watches, and its server PIDs.

export const SYSTEMS = ['longwire', 'etcd', 'zookeeper'] as const;
export type System = (typeof SYSTEMS)[number];

/** Delivered to a watcher: when the change was noticed (nowMs()), and the value it carries. */
export type WatchCallback = (atMs: number, value: string) => void;

export interface Watch {
  close(): void;
}

export interface KvTarget {
  readonly system: System;
  /** Server process ids (every member), for CPU readings. */
  readonly pids: readonly number[];
  /** Writes `key` (creating it: ZooKeeper needs create before setData). */
  create(worker: number, key: string, value: string): Promise<void>;
  /** Overwrites an existing key. Worker w talks to member w mod n. */
  put(worker: number, key: string, value: string): Promise<void>;
  /** A linearizable read; resolves with the value. */
  get(worker: number, key: string): Promise<string>;
  /** Watches `key` through member `member mod n`; resolves once the watch is established. */
  watch(member: number, key: string, onChange: WatchCallback): Promise<Watch>;
  /** The index of the member that is the leader now, as the system reports it; undefined while it has none. */
  leader(): Promise<number | undefined>;
  /** kill -9 of member `member`'s server process, by its PID. */
  kill(member: number): void;
  /** Closes the clients and stops every server process by PID. */
  close(): Promise<void>;
}
