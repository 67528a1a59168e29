// The Keeper for a one-member cluster, until the Raft-backed one lands. It is
// the shell around the pure state machine: it owns the clock, the randomness
// (lease ids), the timers and the disk, and applies commands in order through
// the same `apply` the Raft keeper will feed its committed log into.
//
// Durability: every command is appended to the SoloStore log with sync: true
// before it is applied and before its promise resolves; opening replays the
// log after the last snapshot. Commands proposed in the same tick share one
// synced write (group commit), and register() calls in the same tick share
// one registerBatch command.

import { randomBytes } from 'node:crypto';
import { assert } from './assert.js';
import type { Command, CommandResult } from './command.js';
import { KeeperError } from './errors.js';
import type { ClusterStatus, Consistency, Keeper, Lease, Member, PutOptions, RangeResult, RegisterOp, Session, WatchListener, WatchRequest, Watcher } from './keeper.js';
import { range } from './kv.js';
import { expiredLeases } from './leases.js';
import { invalidRegisterOp, sessionsOf } from './register.js';
import { SoloStore } from './solo-store.js';
import type { LogEntry } from './solo-store.js';
import { apply } from './state-machine.js';
import type { KeeperState } from './state.js';
import { WatchHub } from './watch-hub.js';
import type { WatchHubOptions } from './watch-hub.js';

export interface SoloKeeperOptions {
  /** Directory of the keeper's LevelDB; created if missing. */
  readonly dataDir: string;
  /** This node; recorded as the one voter on first open. */
  readonly member: Omit<Member, 'role'>;
  /** Unix ms; lease deadlines and session timestamps come from it. Default Date.now. */
  readonly now?: () => number;
  /** A snapshot is written and the log truncated after this many commands. */
  readonly snapshotEveryCommands?: number;
  /** TTL of this node's own lease, which the register's sessions hang on. */
  readonly nodeLeaseTtlSeconds?: number;
  /** Period of the lease timer (expiry and own keepalive); 0 turns it off (tests call checkLeases()). */
  readonly leaseCheckIntervalMs?: number;
  readonly watch?: Partial<Pick<WatchHubOptions, 'watchHistoryEventsMax' | 'watcherQueueEventsMax'>>;
}

export const DEFAULT_SOLO_KEEPER_OPTIONS = {
  snapshotEveryCommands: 10_000,
  nodeLeaseTtlSeconds: 10,
  leaseCheckIntervalMs: 500,
} as const;

/** How a command waits for its place in the log; built when its batch is written. */
interface Proposal {
  build(): Command;
  settle(result: CommandResult): void;
  fail(error: unknown): void;
}

/** The register() calls waiting for the next write; they become one registerBatch. */
interface RegisterGroup {
  readonly ops: RegisterOp[];
  readonly waiters: { resolve: () => void; reject: (e: unknown) => void }[];
}

/** Where this node records its current node lease; the key vanishes with the lease. */
export function nodeLeaseKey(memberId: string): string {
  return `/sys/keeper/node-lease/${memberId}`;
}

function newLeaseId(): string {
  return randomBytes(8).toString('hex');
}

export class SoloKeeper implements Keeper {
  private readonly hub: WatchHub;
  private readonly now: () => number;
  private readonly snapshotEveryCommands: number;
  private readonly nodeLeaseTtlSeconds: number;
  /** Proposals not yet handed to a write. */
  private queue: Proposal[] = [];
  /** The register group in `queue`, open to further register() calls until its write starts. */
  private registerGroup: RegisterGroup | undefined;
  private writing: Promise<void> | undefined;
  private writeScheduled = false;
  private commandsSinceSnapshot: number;
  /** Leases with a leaseExpire in flight, so the timer does not propose it twice. */
  private readonly expiring = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** Invariant: once set, no new proposal is accepted; set by close() or a failed write. */
  private closedBy: KeeperError | undefined;
  private closing: Promise<void> | undefined;
  /** This incarnation's node lease; sessions registered here hang on it. Set by open(). */
  private nodeLease = '';
  /** A replacement node lease is being granted (checkLeases), so the timer does not grant two. */
  private regranting = false;

  private constructor(
    private readonly opts: SoloKeeperOptions,
    private readonly store: SoloStore,
    private readonly state: KeeperState,
    log: readonly LogEntry[],
  ) {
    this.now = opts.now ?? Date.now;
    this.snapshotEveryCommands = opts.snapshotEveryCommands ?? DEFAULT_SOLO_KEEPER_OPTIONS.snapshotEveryCommands;
    this.nodeLeaseTtlSeconds = opts.nodeLeaseTtlSeconds ?? DEFAULT_SOLO_KEEPER_OPTIONS.nodeLeaseTtlSeconds;
    assert(this.snapshotEveryCommands >= 1 && this.nodeLeaseTtlSeconds >= 1, 'SoloKeeper limits');
    this.hub = new WatchHub(state.revision, opts.watch ?? {});
    // Replaying through the hub keeps the log tail watchable across a restart.
    for (const e of log) {
      const { events } = apply(state, e.command, e.index);
      this.hub.publish(state.revision, events);
    }
    this.commandsSinceSnapshot = log.length;
  }

  /**
   * Opens the keeper in `opts.dataDir`: restores the snapshot, replays the log,
   * records this member on first open, revokes the lease of this node's
   * previous incarnation (its connections died with it, and so do the keys
   * attached to it), refreshes every other lease (clients could not keep them
   * alive while we were down; etcd's lessor.Promote does the same) and grants
   * this incarnation's node lease, recorded under nodeLeaseKey.
   */
  static async open(opts: SoloKeeperOptions): Promise<SoloKeeper> {
    const { store, state, log } = await SoloStore.open(opts.dataDir);
    const keeper = new SoloKeeper(opts, store, state, log);
    try {
      await keeper.start();
    } catch (e) {
      await keeper.close();
      throw e;
    }
    return keeper;
  }

  private async start(): Promise<void> {
    const { member } = this.opts;
    const now = this.now();
    const commands: Command[] = [];
    if (!this.state.members.has(member.id)) commands.push({ type: 'memberAdd', member: { ...member, role: 'voter' } });
    // The previous incarnation's lease: recorded under nodeLeaseKey, and any lease its sessions hang on.
    const previous = new Set<string>();
    const recorded = this.state.kvs.get(nodeLeaseKey(member.id))?.lease;
    if (recorded !== undefined) previous.add(recorded);
    for (const users of this.state.register.values()) {
      for (const sessions of users.values()) for (const e of sessions.values()) if (e.session.node === member.id) previous.add(e.lease);
    }
    for (const id of this.state.leases.keys()) commands.push(previous.has(id) ? { type: 'leaseRevoke', id } : { type: 'leaseKeepAlive', id, now });
    commands.push(...this.nodeLeaseCommands(now));
    const results = await Promise.all(commands.map((c) => this.propose(c)));
    for (const r of results) assert(r.type !== 'error', `SoloKeeper start: ${r.type === 'error' ? r.message : ''}`);
    const interval = this.opts.leaseCheckIntervalMs ?? DEFAULT_SOLO_KEEPER_OPTIONS.leaseCheckIntervalMs;
    if (interval > 0) {
      this.timer = setInterval(() => {
        this.checkLeases().catch(ignoreClosed);
      }, interval);
      // The timer serves the keeper, it must not keep the process alive alone.
      this.timer.unref();
    }
  }

  /**
   * The lease timer's work, public so tests can drive it with a fake clock:
   * keeps this node's lease alive (after a third of its TTL; granting a new
   * one if it was revoked) and proposes leaseExpire for every other lease
   * past its deadline.
   */
  async checkLeases(): Promise<void> {
    const now = this.now();
    const work: Promise<unknown>[] = [];
    const own = this.state.leases.get(this.nodeLease);
    if (own === undefined && !this.regranting) {
      // Someone revoked it through the lease API: its sessions are gone, later ones need a lease.
      this.regranting = true;
      const grant = Promise.all(this.nodeLeaseCommands(now).map((c) => this.propose(c)));
      work.push(grant.finally(() => (this.regranting = false)));
    } else if (own !== undefined && own.deadline - now < (own.ttl * 1000 * 2) / 3) {
      work.push(this.propose({ type: 'leaseKeepAlive', id: own.id, now }));
    }
    for (const id of expiredLeases(this.state, now)) {
      if (id === this.nodeLease || this.expiring.has(id)) continue;
      this.expiring.add(id);
      work.push(this.propose({ type: 'leaseExpire', id, now }).finally(() => this.expiring.delete(id)));
    }
    await Promise.all(work);
  }

  /** A fresh node lease, recorded under nodeLeaseKey (attached to itself) so the next incarnation finds and revokes it. */
  private nodeLeaseCommands(now: number): Command[] {
    this.nodeLease = newLeaseId();
    return [
      { type: 'leaseGrant', id: this.nodeLease, ttl: this.nodeLeaseTtlSeconds, now },
      { type: 'put', key: nodeLeaseKey(this.opts.member.id), value: this.nodeLease, lease: this.nodeLease },
    ];
  }

  range(key: string, opts?: { prefix?: boolean; consistency?: Consistency }): Promise<RangeResult> {
    // One member: every acknowledged write is applied, so a local read is linearizable.
    if (this.closedBy !== undefined) return Promise.reject(this.closedBy);
    return Promise.resolve({ revision: this.state.revision, kvs: range(this.state, key, opts?.prefix === true) });
  }

  async put(key: string, value: string, opts?: PutOptions): Promise<{ revision: number }> {
    const cmd: Command = {
      type: 'put',
      key,
      value,
      ...(opts?.lease === undefined ? {} : { lease: opts.lease }),
      ...(opts?.ifModRevision === undefined ? {} : { ifModRevision: opts.ifModRevision }),
    };
    const r = expect(await this.propose(cmd), 'put');
    return { revision: r.revision };
  }

  async delete(key: string, opts?: { prefix?: boolean }): Promise<{ revision: number; deleted: number }> {
    const r = expect(await this.propose({ type: 'delete', key, prefix: opts?.prefix === true }), 'delete');
    return { revision: r.revision, deleted: r.deleted };
  }

  /** The listener may return false to pause the stream until resume() (see WatchListener). */
  watch(req: WatchRequest, listener: WatchListener): Watcher {
    if (this.closedBy !== undefined) throw this.closedBy;
    return this.hub.watch(req, listener);
  }

  /** Queues a progress message on every watch stream; the HTTP layer also asks per stream. */
  progress(): void {
    this.hub.progress();
  }

  async leaseGrant(ttlSeconds: number): Promise<Lease> {
    const r = expect(await this.propose({ type: 'leaseGrant', id: newLeaseId(), ttl: ttlSeconds, now: this.now() }), 'leaseGrant');
    return { id: r.id, ttl: r.ttl };
  }

  async leaseKeepAlive(id: string): Promise<Lease> {
    const r = expect(await this.propose({ type: 'leaseKeepAlive', id, now: this.now() }), 'leaseKeepAlive');
    return { id: r.id, ttl: r.ttl };
  }

  async leaseRevoke(id: string): Promise<void> {
    expect(await this.propose({ type: 'leaseRevoke', id }), 'leaseRevoke');
  }

  register(ops: readonly RegisterOp[]): Promise<void> {
    if (this.closedBy !== undefined) return Promise.reject(this.closedBy);
    if (ops.length === 0) return Promise.resolve();
    for (const op of ops) {
      const problem = invalidRegisterOp(op);
      if (problem !== undefined) return Promise.reject(new KeeperError('invalid', problem));
    }
    return new Promise<void>((resolve, reject) => {
      let group = this.registerGroup;
      if (group === undefined) {
        const g: RegisterGroup = { ops: [], waiters: [] };
        this.registerGroup = group = g;
        this.enqueue({
          build: () => {
            if (this.registerGroup === g) this.registerGroup = undefined;
            return { type: 'registerBatch', lease: this.nodeLease, ops: g.ops };
          },
          settle: (r) => {
            for (const w of g.waiters) {
              if (r.type === 'error') w.reject(toError(r));
              else w.resolve();
            }
          },
          fail: (e) => {
            for (const w of g.waiters) w.reject(e);
          },
        });
      }
      group.ops.push(...ops);
      group.waiters.push({ resolve, reject });
    });
  }

  sessionsOf(app: string, user: string): readonly Session[] {
    return sessionsOf(this.state, app, user);
  }

  cluster(): ClusterStatus {
    return { leader: this.opts.member.id, term: 1, members: [...this.state.members.values()] };
  }

  ready(): boolean {
    return this.closedBy === undefined;
  }

  /** This incarnation's node lease; a node may attach its own keys (e.g. a liveness key) to it. */
  get nodeLeaseId(): string {
    return this.nodeLease;
  }

  /** The store's current revision. */
  get revision(): number {
    return this.state.revision;
  }

  /** Writes what is already queued, ends watch streams with cancelled/closed, closes the store. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    clearInterval(this.timer);
    this.closedBy ??= new KeeperError('closed', 'keeper closed');
    if (this.writing === undefined && this.queue.length > 0) this.writing = this.writeBatches();
    while (this.writing !== undefined) await this.writing;
    this.hub.close();
    await this.store.close();
  }

  private propose(command: Command): Promise<CommandResult> {
    return new Promise<CommandResult>((resolve, reject) => {
      this.enqueue({ build: () => command, settle: resolve, fail: reject });
    });
  }

  private enqueue(p: Proposal): void {
    if (this.closedBy !== undefined) {
      p.fail(this.closedBy);
      return;
    }
    this.queue.push(p);
    // A write in progress picks the queue up when its batch is done.
    if (this.writing !== undefined || this.writeScheduled) return;
    this.writeScheduled = true;
    // setImmediate, not a microtask: calls made from other I/O callbacks of
    // this turn of the event loop join the same synced write.
    setImmediate(() => {
      this.writeScheduled = false;
      if (this.writing === undefined) this.writing = this.writeBatches();
    });
  }

  /** Writes queued proposals, one synced batch at a time, applying each batch once it is durable. */
  private async writeBatches(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        const first = this.state.appliedIndex + 1;
        const entries = batch.map((p, i) => ({ index: first + i, command: p.build() }));
        try {
          await this.store.append(entries);
        } catch (cause) {
          // After a failed sync the disk's content is unknown: stop; reopening replays what made it.
          this.closedBy = new KeeperError('closed', 'keeper storage failed', { cause });
          for (const p of [...batch, ...this.queue]) p.fail(this.closedBy);
          this.queue = [];
          return;
        }
        for (const [i, p] of batch.entries()) {
          const e = entries[i];
          assert(e !== undefined, 'entry per proposal');
          const { result, events } = apply(this.state, e.command, e.index);
          this.hub.publish(this.state.revision, events);
          p.settle(result);
        }
        this.commandsSinceSnapshot += batch.length;
        if (this.commandsSinceSnapshot >= this.snapshotEveryCommands) {
          try {
            await this.store.compact(this.state);
            this.commandsSinceSnapshot = 0;
          } catch {
            // Not fatal: the log still holds every command; the next batch tries again.
          }
        }
      }
    } finally {
      this.writing = undefined;
    }
  }
}

function toError(r: Extract<CommandResult, { type: 'error' }>): KeeperError {
  return new KeeperError(r.code, r.message);
}

/** Narrows a result to the expected kind, turning an error result into a thrown KeeperError. */
function expect<T extends Exclude<CommandResult['type'], 'error'>>(r: CommandResult, type: T): Extract<CommandResult, { type: T }> {
  if (r.type === 'error') throw toError(r);
  assert(r.type === type, `expected a ${type} result, got ${r.type}`);
  // r.type === type was just checked; TypeScript does not narrow a union through a generic comparison.
  return r as Extract<CommandResult, { type: T }>;
}

function ignoreClosed(e: unknown): void {
  if (e instanceof KeeperError && e.code === 'closed') return;
  throw e;
}
