// The Keeper is the replicated store every node embeds: revisioned key/value
// config with watches, leases, cluster members and the session register.
// Semantics follow etcd v3. Node components talk only to this interface; the
// Raft-backed implementation is raft-keeper.ts (one member or many).

export type Consistency = 'linearizable' | 'serializable';

export interface KeyValue {
  readonly key: string;
  /** Opaque text; longwire's own keys hold JSON. */
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  /** Number of puts since creation; 1 after the first. */
  readonly version: number;
  readonly lease?: string;
}

/** A range read: one key, or the keys under a prefix in key order, a page at a time. */
export interface RangeOptions {
  readonly prefix?: boolean;
  readonly consistency?: Consistency;
  /** Read the keys as they were at this revision (the watch history must still hold every change since: else 'compacted'). */
  readonly revision?: number;
  /** With `prefix`: start after this key (the last one of the previous page). */
  readonly after?: string;
  /** At most this many keys (default: no count bound). */
  readonly limit?: number;
  /** Stop once the keys (and values, unless `keysOnly`) taken add up to this many UTF-16 units; at least one is always taken. */
  readonly unitsMax?: number;
  /** The caller drops the values, so they do not count against `unitsMax`. */
  readonly keysOnly?: boolean;
}

export interface RangeResult {
  readonly revision: number;
  readonly kvs: readonly KeyValue[];
  /** True when keys of the range remain past the last one in `kvs` (ask again with `after` set to it). */
  readonly more: boolean;
}

/** What a transaction compares: a key's revisions or version (0 when it is absent), or its value (no value compare holds for an absent key). */
export type TxnCompare =
  | { readonly key: string; readonly target: 'modRevision' | 'createRevision' | 'version'; readonly op: CompareOp; readonly value: number }
  | { readonly key: string; readonly target: 'value'; readonly op: CompareOp; readonly value: string };

export type CompareOp = '=' | '!=' | '<' | '>';

/**
 * An operation of a transaction: a write, or a read of a key or a prefix that
 * sees the writes before it in its branch. No two writes of one branch may
 * touch the same key.
 */
export type TxnOp =
  | { readonly type: 'put'; readonly key: string; readonly value: string; readonly lease?: string }
  | { readonly type: 'delete'; readonly key: string; readonly prefix: boolean }
  | { readonly type: 'get'; readonly key: string; readonly prefix: boolean; readonly limit?: number; readonly keysOnly?: boolean };

/** What one operation of the branch taken answered, in the branch's order. */
export type TxnResponse =
  | { readonly type: 'put' }
  | { readonly type: 'delete'; readonly deleted: number }
  | { readonly type: 'get'; readonly kvs: readonly KeyValue[]; readonly more: boolean };

export interface TxnRequest {
  readonly compare: readonly TxnCompare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
  /** Only for a transaction without writes, which is read without the log: linearizable by default. */
  readonly consistency?: Consistency;
}

export interface TxnResult {
  readonly revision: number;
  /** Whether every compare held (so the `success` operations ran). */
  readonly succeeded: boolean;
  /** Keys the writes made deleted. */
  readonly deleted: number;
  readonly responses: readonly TxnResponse[];
}

export interface CountResult {
  readonly revision: number;
  readonly count: number;
}

export interface PutOptions {
  readonly lease?: string;
  /** Compare-and-swap: apply only if the key's modRevision equals this; 0 means "only if absent". */
  readonly ifModRevision?: number;
}

/**
 * A change of one key. `prevKv` is the key as it was before (absent for a
 * put that created it): the keeper's events always carry it; the API and the
 * keeper client only when the watch asked for it.
 */
export type WatchEvent =
  | { readonly type: 'put'; readonly revision: number; readonly key: string; readonly value: string; readonly prevKv?: KeyValue }
  | { readonly type: 'delete'; readonly revision: number; readonly key: string; readonly prevKv?: KeyValue };

/** What a watch stream delivers. Events come in revision order, each once per stream. */
export type WatchMessage =
  | { readonly kind: 'events'; readonly events: readonly WatchEvent[] }
  | { readonly kind: 'progress'; readonly revision: number }
  /** fromRevision is older than the kept history: resume is impossible, re-read then watch. */
  | { readonly kind: 'compacted'; readonly compactRevision: number }
  /** The watcher fell too far behind and was cut off; resume from lastRevision + 1. */
  | { readonly kind: 'cancelled'; readonly reason: 'slow' | 'closed'; readonly lastRevision: number };

export interface WatchRequest {
  readonly key: string;
  readonly prefix?: boolean;
  /** First revision to deliver; default: the next one. */
  readonly fromRevision?: number;
}

/**
 * Receives a watch stream's messages in order, never synchronously inside
 * watch(). Returning false says "my buffer is full" (like a stream's write()):
 * delivery pauses until Watcher.resume(). A stream whose undelivered backlog
 * grows past the keeper's per-watcher limit meanwhile is ended with
 * `cancelled`/`slow` (delivered even while paused); writers never wait.
 * A listener must not throw: it runs on the keeper's delivery path.
 */
export type WatchListener = (msg: WatchMessage) => boolean | void;

export interface Watcher {
  /** Stops the stream; no further message is delivered. */
  cancel(): void;
  /** Resumes delivery after the listener returned false (on the socket's 'drain'). */
  resume(): void;
  /**
   * Asks for a `progress` message carrying the revision up to which this
   * stream has delivered every matching event (a bookmark). The HTTP watch
   * route calls it every 5 s on an idle stream.
   */
  requestProgress(): void;
}

export interface Lease {
  readonly id: string;
  readonly ttl: number;
}

/** A lease as an operator inspects it (etcd's lease timetolive). */
export interface LeaseInfo extends Lease {
  /** Milliseconds until the leader may expire it, on this member's clock against the replicated deadline (0 when past it). */
  readonly remainingMs: number;
  /** The keys attached to it, in key order. */
  readonly keys: readonly string[];
  /** Sessions of the register attached to it (a node's own lease). */
  readonly sessions: number;
}

export interface LeaseList {
  readonly revision: number;
  /** In id order, after `after`, at most `limit`. */
  readonly leases: readonly Omit<LeaseInfo, 'keys'>[];
  readonly more: boolean;
}

export interface Session {
  readonly app: string;
  readonly user: string;
  readonly device: string;
  readonly session: string;
  readonly node: string;
  /** Unix ms when the session was registered. */
  readonly since: number;
}

export type RegisterOp =
  | { readonly op: 'add'; readonly session: Session }
  | { readonly op: 'remove'; readonly app: string; readonly user: string; readonly session: string };

export interface Member {
  readonly id: string;
  readonly role: 'voter' | 'learner';
  readonly peer: string;
  readonly api: string;
  readonly gateway: string;
  readonly zone: string;
}

/** A member as GET /v1/cluster shows it: on the leader, healthy = heard from recently; elsewhere, healthy = a leader is known. */
export interface ClusterMember extends Member {
  readonly healthy: boolean;
}

export interface ClusterStatus {
  readonly leader: string | null;
  readonly term: number;
  readonly members: readonly ClusterMember[];
}

/** What a new member needs to start: the Raft configuration that includes it (Raft ids) and the member records. */
export interface JoinInfo {
  readonly raft: { readonly voters: readonly number[]; readonly learners: readonly number[] };
  readonly members: readonly Member[];
}

export interface Keeper {
  range(key: string, opts?: RangeOptions): Promise<RangeResult>;
  /** How many keys a range read with these options and no limit would answer. */
  count(key: string, opts?: Pick<RangeOptions, 'prefix' | 'after' | 'consistency' | 'revision'>): Promise<CountResult>;
  /** Rejects with KeeperError code 'compare-failed' when ifModRevision does not match. */
  put(key: string, value: string, opts?: PutOptions): Promise<{ revision: number }>;
  delete(key: string, opts?: { prefix?: boolean }): Promise<{ revision: number; deleted: number }>;
  /** Rejects with KeeperError 'invalid' for a branch that writes one key twice, 'lease-not-found', 'no-space'. */
  txn(req: TxnRequest): Promise<TxnResult>;
  /** Throws KeeperError 'invalid' for a fromRevision below 1, 'closed' after close(). */
  watch(req: WatchRequest, listener: WatchListener): Watcher;

  leaseGrant(ttlSeconds: number): Promise<Lease>;
  /** Rejects with KeeperError code 'lease-not-found' for an unknown or expired lease. */
  leaseKeepAlive(id: string): Promise<Lease>;
  leaseRevoke(id: string): Promise<void>;
  /** Rejects with KeeperError code 'lease-not-found' for an unknown or expired lease. */
  leaseInfo(id: string, opts?: { consistency?: Consistency }): Promise<LeaseInfo>;
  leaseList(opts: { after?: string; limit: number; consistency?: Consistency }): Promise<LeaseList>;
  /** The whole state (keys, leases, register, members) as a keeper snapshot, read linearizably: a backup for disaster recovery. */
  backup(): Promise<{ revision: number; bytes: Uint8Array }>;
  /** A digest of every key and value at `revision` (default: now), read linearizably, to compare members (kv-hash.ts). */
  kvHash(opts?: { revision?: number }): Promise<{ revision: number; hash: string; keys: number }>;

  /** Batched: concurrent calls share one write. Sessions are attached to this node's lease. */
  register(ops: readonly RegisterOp[]): Promise<void>;
  /** Local read of the register: the sessions of one user. */
  sessionsOf(app: string, user: string): readonly Session[];

  cluster(): ClusterStatus;
  /** Bytes of keys and values this member's store holds, and its space quota (0: none). */
  readonly space: { readonly bytes: number; readonly quotaBytes: number };
  /** True when this member has a leader and has applied what it knows is committed. */
  ready(): boolean;

  /**
   * Membership changes, on the leader only (elsewhere they reject with
   * 'not-leader'; the API forwards them to the leader). One at a time: while
   * one is pending they reject with 'conflict'.
   */
  /** Adds a learner (promoted to voter once caught up); idempotent for the same member. */
  addMember(member: Omit<Member, 'role'>): Promise<JoinInfo>;
  /** Rejects with 'conflict' when the change would remove the last voter or lose quorum. */
  removeMember(id: string): Promise<void>;
  /** Hands leadership to `to` (default: the most caught-up healthy voter); resolves with the new leader. */
  transferLeader(to?: string): Promise<{ leader: string }>;
  close(): Promise<void>;
}
