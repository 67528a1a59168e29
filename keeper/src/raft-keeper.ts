// The Keeper on Raft: the shell around the pure state machine for a cluster of
// one or more members. Every write is a command in a Raft log entry (with the
// id of the request that proposed it); every member applies committed entries
// through the same `apply` and feeds the events to its watch hub, so all
// members agree on every result, revision and event. Snapshots are the bytes
// of snapshot(state).
//
// What lives here and not in the core: the clock (lease deadlines, session
// timestamps), randomness (lease and request ids) and timers (lease expiry,
// retries). The Raft member itself (RawNode, RaftShell, the LevelDB log and
// the TCP transport) runs in a worker thread (raft-worker.ts, reached through
// raft-link.ts), so a busy gateway or a GC pause on this thread does not delay
// its ticks and heartbeats; its committed entries come back here in order and
// are applied to the state on this thread, where reads and watches are served.
//
// Writes resolve once applied on this member. A follower forwards proposals
// to the leader (Raft proposal forwarding). Without a leader a write waits up
// to leaderWaitMs, then rejects with 'no-leader' (it was not proposed: safe to
// retry); a proposal accepted but not applied within proposalTimeoutMs (lost
// in a leader change), or pending when the member stops, rejects with
// 'timeout': its outcome is unknown, as with an etcd timeout.
// Linearizable reads use ReadIndex, batched: one ReadIndex in flight, and the
// reads that arrive meanwhile share the next one.

import { randomBytes } from 'node:crypto';
import { DropReason, NONE } from '../../raft/src/index.js';
import type { ConfChange, ConfState, Entry, NodeId, ShellMetrics, Snapshot, SoftState, StepResult } from '../../raft/src/index.js';
import { assert } from './assert.js';
import type { Command, CommandResult } from './command.js';
import { decodeKeeperEntry, encodeKeeperEntry } from './entry.js';
import { KeeperError } from './errors.js';
import type { KeeperErrorCode } from './errors.js';
import type {
  ClusterMember,
  ClusterStatus,
  Consistency,
  CountResult,
  JoinInfo,
  Keeper,
  Lease,
  LeaseInfo,
  LeaseList,
  Member,
  PutOptions,
  RangeOptions,
  RangeResult,
  RegisterOp,
  Session,
  TxnOp,
  TxnRequest,
  TxnResult,
  WatchEvent,
  WatchListener,
  WatchRequest,
  Watcher,
} from './keeper.js';
import { countRange, range } from './kv.js';
import { countAt, rangeAt } from './range-at.js';
import { kvHash } from './kv-hash.js';
import { expiredLeases } from './leases.js';
import { raftIdOf } from './raft-id.js';
import { RaftLink } from './raft-link.js';
import type { PeerRefusal, PeerSecurity, PeerTlsPem } from './raft-worker-messages.js';
import { invalidRegisterOp, registeredSessions, sameRegisterOps, sessionsOf } from './register.js';
import { restore, snapshot } from './snapshot.js';
import { apply } from './state-machine.js';
import { emptyState, kvBytes } from './state.js';
import type { KeeperState, LeaseRecord } from './state.js';
import { compareKeys } from './ordered-map.js';
import { applyTxn } from './txn.js';
import { WatchHub } from './watch-hub.js';
import type { WatchHubOptions } from './watch-hub.js';

export interface RaftKeeperOptions {
  /** Directory of the Raft log (LevelDB); created if missing. */
  readonly dataDir: string;
  /** This member: its id names it in the cluster, `peer` is where other members reach its Raft transport. */
  readonly member: Omit<Member, 'role'>;
  /** Where the transport listens; default: member.peer. */
  readonly listen?: { readonly host: string; readonly port: number };
  /**
   * Only when the log is empty: asks an existing member to add this one and
   * returns the configuration to start with. Without it, an empty log
   * bootstraps a new one-member cluster.
   */
  readonly join?: () => Promise<JoinInfo>;
  /** Unix ms; lease deadlines and session timestamps come from it. Default Date.now. */
  readonly now?: () => number;
  /** Milliseconds per Raft tick (heartbeat interval). */
  readonly tickMs?: number;
  /** Election timeout in ticks (randomized in [electionTicks, 2 * electionTicks)). */
  readonly electionTicks?: number;
  /** A snapshot is taken and the log compacted after this many applied entries. */
  readonly snapshotEntries?: number;
  /** Entries kept behind a snapshot so that a slightly slow follower needs no snapshot. */
  readonly compactionKeepEntries?: number;
  /** TTL of this node's own lease, which the register's sessions hang on. */
  readonly nodeLeaseTtlSeconds?: number;
  /** Period of the lease timer (expiry on the leader, own keepalive); 0 turns it off (tests call checkLeases()). */
  readonly leaseCheckIntervalMs?: number;
  /** How long a write or linearizable read waits for a leader before 'no-leader'. */
  readonly leaderWaitMs?: number;
  /** How long an accepted proposal may take to apply before 'timeout' (outcome unknown). */
  readonly proposalTimeoutMs?: number;
  /** How long open() waits for a leader and catch-up. */
  readonly openTimeoutMs?: number;
  /**
   * Bytes of keys and values (UTF-8) the store may hold; a put that would
   * grow it past this is refused with 'no-space' (deletes and puts that do
   * not grow it still go). 0: no quota. Set the same on every member.
   */
  readonly quotaBytes?: number;
  /**
   * Group commit: under load (the last Ready persisted 16 entries or more)
   * the next Ready waits this long to gather more proposals into one synced
   * write. 0: never waits.
   */
  readonly groupCommitMs?: number;
  /**
   * Leases the store may hold (the nodes' own among them); a grant past it is
   * refused with 'no-space'. Leases are not in quotaBytes, and each holds
   * indexes of its keys and sessions.
   */
  readonly leasesMax?: number;
  readonly watch?: Partial<Pick<WatchHubOptions, 'watchHistoryEventsMax' | 'watcherQueueEventsMax'>>;
  /** Raft shell metrics (persist time, applied entries, tick lag, role changes). */
  readonly metrics?: ShellMetrics;
  /** How peer links authenticate; none by default (development only). */
  readonly peerSecurity?: PeerSecurity;
  /** A peer connection was refused (failed authentication or protocol error). */
  readonly onPeerRefused?: (r: PeerRefusal) => void;
  /** The member stopped for good (a storage failure); the node should exit. */
  readonly onFatal?: (err: unknown) => void;
}

// A 50 ms tick and an election timeout of 6 ticks (300-600 ms, randomized):
// a follower stands for election within 300-600 ms of last hearing a dead
// leader, so writes resume in about half a second (issue #5's leader-kill
// target); heartbeats go out every tick.
export const DEFAULT_RAFT_KEEPER_OPTIONS = {
  tickMs: 50,
  electionTicks: 6,
  snapshotEntries: 10_000,
  compactionKeepEntries: 1_000,
  nodeLeaseTtlSeconds: 10,
  leaseCheckIntervalMs: 500,
  leaderWaitMs: 3_000,
  proposalTimeoutMs: 10_000,
  quotaBytes: 256 * 1024 * 1024,
  groupCommitMs: 1,
  leasesMax: 100_000,
  openTimeoutMs: 60_000,
} as const;

/** Where a node records its current node lease; the key vanishes with the lease. */
export function nodeLeaseKey(memberId: string): string {
  return `/sys/keeper/node-lease/${memberId}`;
}

interface PendingProposal {
  readonly command: Command;
  readonly data: Uint8Array;
  readonly resolve: (r: CommandResult) => void;
  readonly reject: (e: unknown) => void;
  /** Monotonic ms after which the proposal fails ('no-leader' if no member took it, else 'timeout'). */
  deadline: number;
  /** Accepted by Raft (on a leader, or forwarded); false while it waits for a leader. */
  accepted: boolean;
  /** Handed to the Raft member, its answer not back yet. */
  submitting: boolean;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
  readonly deadline: number;
}

interface RegisterGroup {
  readonly ops: RegisterOp[];
  readonly waiters: { resolve: () => void; reject: (e: unknown) => void }[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const RETRYABLE: ReadonlySet<string> = new Set<string>([
  DropReason.NoLeader,
  DropReason.Candidate,
  DropReason.TransferInProgress,
  DropReason.UncommittedBytesMax,
  DropReason.LeaderNotReady,
]);

function mono(): number {
  return performance.now();
}

function newId(): string {
  return randomBytes(8).toString('hex');
}

function hostPort(addr: string): { host: string; port: number } | undefined {
  const i = addr.lastIndexOf(':');
  const port = Number(addr.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  return { host: addr.slice(0, i), port };
}

export class RaftKeeper implements Keeper {
  private state: KeeperState = emptyState();
  private hub: WatchHub | undefined;
  private link: RaftLink | undefined;
  /** The configuration as of the last applied conf change or snapshot (undefined: as the member's status says). */
  private confState: ConfState | undefined;
  private readonly now: () => number;
  private readonly o: Required<Omit<RaftKeeperOptions, 'listen' | 'join' | 'now' | 'watch' | 'metrics' | 'onFatal' | 'peerSecurity' | 'onPeerRefused'>>;
  readonly raftId: NodeId;
  /** Distinguishes this incarnation's request ids from those of earlier ones still in the log. */
  private readonly incarnation = newId();
  private seq = 0;
  private readonly proposals = new Map<string, PendingProposal>();
  /** Applied-index waiters, sorted by index. */
  private appliedWaiters: { index: number; resolve: () => void }[] = [];
  private applied = 0;
  /** Reads waiting for a ReadIndex to be issued. */
  private readQueue: Waiter[] = [];
  private readInflight: { readonly ctx: string; readonly waiters: Waiter[]; readonly issuedAt: number; answered: boolean } | undefined;
  private registerGroup: RegisterGroup | undefined;
  /** Peer addresses the transport knows, by Raft id. */
  private readonly peers = new Map<NodeId, string>();
  /**
   * The leader's commit index as the last answered ReadIndex gave it (-1:
   * none yet), and when. ready() needs applied to reach it: a follower's own
   * commit index lags the leader's while it catches up.
   */
  private readyMark = -1;
  private readyMarkAt = -Infinity;
  private lead: NodeId = NONE;
  private isLeaderNow = false;
  /** Set when this member became leader: leases that expired while there was no leader get a fresh TTL first. */
  private refreshLeases = false;
  private readonly expiring = new Set<string>();
  private nodeLease = '';
  private regranting = false;
  /** A membership change (or promotion) this leader is carrying out. */
  private changing = false;
  private readonly confWaiters: { readonly test: (cs: ConfState) => boolean; readonly resolve: () => void }[] = [];
  private ticker: ReturnType<typeof setInterval> | undefined;
  private leaseTimer: ReturnType<typeof setInterval> | undefined;
  private closedBy: KeeperError | undefined;
  private closing: Promise<void> | undefined;
  /** Member records handed over by the join call, until the log brings them. */
  private joinMembers: readonly Member[] = [];

  private constructor(private readonly opts: RaftKeeperOptions) {
    this.now = opts.now ?? Date.now;
    const d = DEFAULT_RAFT_KEEPER_OPTIONS;
    this.o = {
      dataDir: opts.dataDir,
      member: opts.member,
      tickMs: opts.tickMs ?? d.tickMs,
      electionTicks: opts.electionTicks ?? d.electionTicks,
      snapshotEntries: opts.snapshotEntries ?? d.snapshotEntries,
      compactionKeepEntries: opts.compactionKeepEntries ?? d.compactionKeepEntries,
      nodeLeaseTtlSeconds: opts.nodeLeaseTtlSeconds ?? d.nodeLeaseTtlSeconds,
      leaseCheckIntervalMs: opts.leaseCheckIntervalMs ?? d.leaseCheckIntervalMs,
      leaderWaitMs: opts.leaderWaitMs ?? d.leaderWaitMs,
      proposalTimeoutMs: opts.proposalTimeoutMs ?? d.proposalTimeoutMs,
      openTimeoutMs: opts.openTimeoutMs ?? d.openTimeoutMs,
      quotaBytes: opts.quotaBytes ?? d.quotaBytes,
      groupCommitMs: opts.groupCommitMs ?? d.groupCommitMs,
      leasesMax: opts.leasesMax ?? d.leasesMax,
    };
    assert(this.o.tickMs >= 1 && this.o.electionTicks >= 2 && this.o.nodeLeaseTtlSeconds >= 1 && this.o.quotaBytes >= 0 && this.o.leasesMax >= 1 && this.o.groupCommitMs >= 0, 'RaftKeeper limits');
    this.raftId = raftIdOf(opts.member.id);
  }

  /**
   * Opens the member in `opts.dataDir`: bootstraps (or joins, with
   * opts.join) on an empty log, replays the log after the last snapshot, waits
   * for a leader and catch-up, records this member if it is new, revokes the
   * lease of this node's previous incarnation (its connections died with it)
   * and grants this incarnation's node lease, recorded under nodeLeaseKey.
   */
  static async open(opts: RaftKeeperOptions): Promise<RaftKeeper> {
    const keeper = new RaftKeeper(opts);
    try {
      await keeper.boot();
      await keeper.waitReady();
      await keeper.start();
    } catch (e) {
      await keeper.close();
      throw e;
    }
    return keeper;
  }

  private async boot(): Promise<void> {
    const listen = this.opts.listen ?? hostPort(this.opts.member.peer);
    if (listen === undefined) throw new KeeperError('invalid', `peer address ${this.opts.member.peer} is not host:port`);
    const metrics = this.opts.metrics;
    this.hub = new WatchHub(this.state.revision, this.opts.watch ?? {});
    const bootstrap = async (): Promise<ConfState> => {
      if (this.opts.join === undefined) return { voters: [this.raftId], learners: [] };
      const info = await this.opts.join();
      assert(info.raft.voters.includes(this.raftId) || info.raft.learners.includes(this.raftId), 'the join answer includes this member');
      this.joinMembers = info.members;
      return { voters: [...info.raft.voters], learners: [...info.raft.learners] };
    };
    this.link = await RaftLink.open(
      {
        dataDir: this.opts.dataDir,
        raftId: this.raftId,
        listen,
        tickMs: this.o.tickMs,
        electionTicks: this.o.electionTicks,
        snapshotEntries: this.o.snapshotEntries,
        compactionKeepEntries: this.o.compactionKeepEntries,
        groupCommitMs: this.o.groupCommitMs,
        security: this.opts.peerSecurity ?? {},
      },
      {
        restore: (s) => this.restoreSnapshot(s),
        apply: (e) => this.applyEntry(e),
        confState: (cs) => this.onConfChange(cs),
        readState: (idx, ctx) => this.onReadState(idx, ctx),
        softState: (ss) => this.onSoftState(ss, metrics),
        snapshot: () => snapshot(this.state),
        metric: (name, v, count) => {
          if (name === 'persist') metrics?.persistSeconds?.(v, count);
          else if (name === 'applied') metrics?.appliedEntries?.(v);
          else if (name === 'tick-lag') metrics?.tickLagSeconds?.(v);
          else metrics?.snapshotSeconds?.(v);
        },
        peerRefused: (r) => this.opts.onPeerRefused?.(r),
        fatal: (err) => {
          this.closedBy ??= new KeeperError('closed', 'keeper storage failed', { cause: err });
          this.failAll(this.closedBy);
          this.opts.onFatal?.(err);
        },
      },
      bootstrap,
    );
    this.syncPeers();
    this.ticker = setInterval(() => this.tick(), this.o.tickMs);
    this.ticker.unref();
    const cs = this.status().confState;
    // A lone voter need not wait an election timeout for itself.
    if (cs.voters.length === 1 && cs.voters[0] === this.raftId) this.link.campaign();
  }

  private async waitReady(): Promise<void> {
    const deadline = mono() + this.o.openTimeoutMs;
    while (!this.ready()) {
      if (this.closedBy !== undefined) throw this.closedBy;
      if (mono() > deadline) throw new KeeperError('no-leader', `no leader (or no catch-up) within ${this.o.openTimeoutMs} ms`);
      await new Promise((r) => setTimeout(r, this.o.tickMs / 2));
    }
  }

  private async start(): Promise<void> {
    const { member } = this.opts;
    const now = this.now();
    const first: Command[] = [];
    const rec = this.state.members.get(member.id);
    if (rec === undefined) {
      first.push({ type: 'memberAdd', member: { ...member, role: 'voter' } });
    } else if (rec.peer !== member.peer || rec.api !== member.api || rec.gateway !== member.gateway || rec.zone !== member.zone) {
      // Restarted with other addresses: the record (which peers dial and the dispatcher hands out) follows.
      first.push({ type: 'memberRemove', id: member.id }, { type: 'memberAdd', member: { ...member, role: rec.role } });
    }
    // The previous incarnation's lease: recorded under nodeLeaseKey, and any lease its sessions hang on.
    const previous = new Set<string>();
    const recorded = this.state.kvs.get(nodeLeaseKey(member.id))?.lease;
    if (recorded !== undefined) previous.add(recorded);
    for (const e of registeredSessions(this.state)) if (e.node === member.id) previous.add(e.lease);
    for (const id of previous) if (this.state.leases.has(id)) first.push({ type: 'leaseRevoke', id });
    first.push(...this.nodeLeaseCommands(now));
    for (const c of first) {
      const r = await this.propose(c);
      assert(r.type !== 'error' || r.code === 'lease-not-found', `RaftKeeper start: ${r.type === 'error' ? r.message : ''}`);
    }
    if (this.o.leaseCheckIntervalMs > 0) {
      this.leaseTimer = setInterval(() => {
        this.checkLeases().catch(ignoreExpected);
      }, this.o.leaseCheckIntervalMs);
      this.leaseTimer.unref();
    }
  }

  private nodeLeaseCommands(now: number): Command[] {
    this.nodeLease = newId();
    return [
      { type: 'leaseGrant', id: this.nodeLease, ttl: this.o.nodeLeaseTtlSeconds, now },
      { type: 'put', key: nodeLeaseKey(this.opts.member.id), value: this.nodeLease, lease: this.nodeLease },
    ];
  }

  // ---- The state machine, as the shell drives it.

  private restoreSnapshot(s: Snapshot): void {
    this.state = s.data.length === 0 ? emptyState() : restore(s.data);
    this.applied = s.meta.index;
    this.confState = s.meta.confState;
    if (this.hub !== undefined) {
      // A snapshot from the leader skips revisions this member never saw:
      // streams that would miss them end with 'compacted' (re-read, then watch).
      this.hub.reset(this.state.revision);
      this.syncPeers();
    }
    this.flushApplied();
  }

  private applyEntry(e: Entry): void {
    if (e.type === 'normal' && e.data.length > 0) {
      const { requestId, command: decoded } = decodeKeeperEntry(e.data);
      const p = this.proposals.get(requestId);
      // A session registered here is applied from the proposed command itself
      // when its values are the decoded ones (a string with a lone surrogate is
      // not: UTF-8 replaces it), so the register shares the connection's app,
      // user, device and session strings instead of holding decoded copies
      // (~130 B per session).
      const command = p !== undefined && p.command.type === 'registerBatch' && decoded.type === 'registerBatch' && sameRegisterOps(p.command.ops, decoded.ops) ? p.command : decoded;
      const { result, events } = apply(this.state, command, e.index);
      this.hub?.publish(this.state.revision, events);
      if (p !== undefined) {
        this.proposals.delete(requestId);
        p.resolve(result);
      }
      if (command.type === 'memberAdd' || command.type === 'memberRemove') this.syncPeers();
    }
    this.applied = e.index;
    this.flushApplied();
  }

  private onConfChange(cs: ConfState): void {
    this.confState = cs;
    this.syncPeers();
    for (let i = this.confWaiters.length - 1; i >= 0; i--) {
      const w = this.confWaiters[i];
      if (w !== undefined && w.test(cs)) {
        this.confWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private onSoftState(ss: SoftState, metrics: ShellMetrics | undefined): void {
    metrics?.softState?.(ss);
    const found = ss.lead !== NONE && ss.lead !== this.lead;
    this.lead = ss.lead;
    const leader = ss.state === 'leader';
    if (leader && !this.isLeaderNow) this.refreshLeases = true;
    this.isLeaderNow = leader;
    // Proposals refused for want of a leader go now rather than at the next tick: after a failover every millisecond counts.
    if (found) for (const p of this.proposals.values()) if (!p.accepted && !p.submitting) this.submit(p);
  }

  /** Points the transport at every member's peer address (from the records, or the join answer until they arrive). */
  private syncPeers(): void {
    const link = this.link;
    if (link === undefined) return;
    const want = new Map<NodeId, string>();
    for (const m of this.joinMembers) want.set(raftIdOf(m.id), m.peer);
    for (const m of this.state.members.values()) want.set(raftIdOf(m.id), m.peer);
    want.delete(this.raftId);
    // A member still in the configuration keeps its last address until its record is back.
    const cs = this.status().confState;
    for (const [id, addr] of this.peers) if (!want.has(id) && (cs.voters.includes(id) || cs.learners.includes(id))) want.set(id, addr);
    const same = want.size === this.peers.size && [...want].every(([id, addr]) => this.peers.get(id) === addr);
    if (same) return;
    this.peers.clear();
    for (const [id, addr] of want) this.peers.set(id, addr);
    link.setPeers([...want]);
  }

  // ---- Timers.

  private tick(): void {
    if (this.closedBy !== undefined) return;
    const t = mono();
    // Proposals: retry those waiting for a leader, fail those past their deadline.
    for (const [rid, p] of this.proposals) {
      if (t > p.deadline) {
        this.proposals.delete(rid);
        p.reject(
          // One still being handed to the Raft member may be in its log already.
          p.accepted || p.submitting
            ? new KeeperError('timeout', `not applied within ${p.accepted ? this.o.proposalTimeoutMs : this.o.leaderWaitMs} ms (outcome unknown)`)
            : new KeeperError('no-leader', `no leader within ${this.o.leaderWaitMs} ms (not proposed)`),
        );
      } else if (!p.accepted && !p.submitting) {
        this.submit(p);
      }
    }
    // Reads: re-issue a ReadIndex that got no answer (lost with a leader), fail reads past their deadline.
    const inflight = this.readInflight;
    if (inflight !== undefined && inflight.answered && t - inflight.issuedAt > this.electionTimeoutMs()) {
      this.readInflight = undefined;
      this.readQueue = [...inflight.waiters, ...this.readQueue];
    }
    const late = this.readQueue.filter((w) => t > w.deadline);
    if (late.length > 0) {
      this.readQueue = this.readQueue.filter((w) => t <= w.deadline);
      for (const w of late) w.reject(new KeeperError('no-leader', 'no leader to confirm a linearizable read'));
    }
    // Keep learning the leader's commit index for ready(): an empty ReadIndex when no read is pending.
    if (this.readInflight === undefined && this.readQueue.length === 0 && t - this.readyMarkAt > 2 * this.o.tickMs) {
      this.readQueue.push({ resolve: noop, reject: noop, deadline: t + this.o.leaderWaitMs });
    }
    this.issueRead();
    if (this.isLeaderNow) this.promoteLearners();
  }

  private electionTimeoutMs(): number {
    return this.o.tickMs * this.o.electionTicks;
  }

  /**
   * The lease timer's work, public so tests can drive it with a fake clock:
   * keeps this node's lease alive (after a third of its TTL; granting a new
   * one if it was revoked) and, on the leader only, proposes leaseExpire for
   * every other lease past its deadline. A new leader first gives a fresh TTL
   * to leases that ran out while there was no leader (nobody could keep them
   * alive); leases still running keep their replicated deadline.
   */
  async checkLeases(): Promise<void> {
    if (this.closedBy !== undefined || this.lead === NONE) return;
    const now = this.now();
    // Checked before this round proposes anything: a leader expires leases only once it applied all it committed.
    const caughtUpLeader = this.isLeaderNow && this.applied >= this.status().commit;
    const work: Promise<unknown>[] = [];
    const own = this.state.leases.get(this.nodeLease);
    if (own === undefined && !this.regranting && this.nodeLease !== '') {
      // Someone revoked it through the lease API: its sessions are gone, later ones need a lease.
      this.regranting = true;
      const cmds = this.nodeLeaseCommands(now);
      const grant = (async () => {
        for (const c of cmds) await this.propose(c);
      })();
      work.push(grant.finally(() => (this.regranting = false)));
    } else if (own !== undefined && own.deadline - now < (own.ttl * 1000 * 2) / 3) {
      work.push(this.propose({ type: 'leaseKeepAlive', id: own.id, now }));
    }
    if (caughtUpLeader) {
      const refresh = this.refreshLeases;
      this.refreshLeases = false;
      for (const id of expiredLeases(this.state, now)) {
        if (id === this.nodeLease || this.expiring.has(id)) continue;
        this.expiring.add(id);
        const cmd: Command = refresh ? { type: 'leaseKeepAlive', id, now } : { type: 'leaseExpire', id, now };
        work.push(this.propose(cmd).finally(() => this.expiring.delete(id)));
      }
    }
    await Promise.all(work);
  }

  // ---- Proposals and reads.

  private propose(command: Command): Promise<CommandResult> {
    if (this.closedBy !== undefined) return Promise.reject(this.closedBy);
    const rid = `${this.incarnation}.${(this.seq += 1).toString(36)}`;
    return new Promise<CommandResult>((resolve, reject) => {
      const p: PendingProposal = { command, data: encodeKeeperEntry(rid, command), resolve, reject, deadline: mono() + this.o.leaderWaitMs, accepted: false, submitting: false };
      this.proposals.set(rid, p);
      this.submit(p);
    });
  }

  private submit(p: PendingProposal): void {
    const link = this.link;
    if (link === undefined) return;
    p.submitting = true;
    void link.propose(p.data).then((r) => {
      p.submitting = false;
      if (r.ok) {
        p.accepted = true;
        p.deadline = mono() + this.o.proposalTimeoutMs;
        return;
      }
      if (RETRYABLE.has(r.reason)) return; // the next tick retries until the deadline
      for (const [rid, q] of this.proposals) {
        if (q !== p) continue;
        this.proposals.delete(rid);
        p.reject(dropError(r));
      }
    });
  }

  private waitApplied(idx: number): Promise<void> {
    if (this.applied >= idx) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.appliedWaiters;
      let i = list.length;
      while (i > 0 && (list[i - 1]?.index ?? 0) > idx) i--;
      list.splice(i, 0, { index: idx, resolve });
    });
  }

  private flushApplied(): void {
    let n = 0;
    for (const w of this.appliedWaiters) {
      if (w.index > this.applied) break;
      w.resolve();
      n++;
    }
    if (n > 0) this.appliedWaiters = this.appliedWaiters.slice(n);
  }

  private linearizable(): Promise<void> {
    if (this.closedBy !== undefined) return Promise.reject(this.closedBy);
    return new Promise<void>((resolve, reject) => {
      this.readQueue.push({ resolve, reject, deadline: mono() + this.o.leaderWaitMs });
      this.issueRead();
    });
  }

  private issueRead(): void {
    if (this.readInflight !== undefined || this.readQueue.length === 0 || this.closedBy !== undefined) return;
    const link = this.link;
    if (link === undefined) return;
    const ctx = `${this.incarnation}.r${(this.seq += 1).toString(36)}`;
    const inflight = { ctx, waiters: this.readQueue, issuedAt: mono(), answered: false };
    this.readInflight = inflight;
    this.readQueue = [];
    void link.readIndex(encoder.encode(ctx)).then((r) => {
      if (this.readInflight !== inflight) return;
      inflight.answered = true;
      if (r.ok) return;
      // Refused: the reads go back to the queue (the next tick retries) or fail.
      this.readInflight = undefined;
      if (RETRYABLE.has(r.reason)) {
        this.readQueue = [...inflight.waiters, ...this.readQueue];
        return;
      }
      for (const w of inflight.waiters) w.reject(dropError(r));
    });
  }

  private onReadState(index: number, context: Uint8Array): void {
    const inflight = this.readInflight;
    if (inflight === undefined || decoder.decode(context) !== inflight.ctx) return;
    this.readInflight = undefined;
    this.readyMark = index;
    this.readyMarkAt = mono();
    void this.waitApplied(index).then(() => {
      for (const w of inflight.waiters) w.resolve();
    });
    this.issueRead();
  }

  // ---- Keeper.

  /** With `revision`, the keys as they were at it; the answer's revision is the one read at. */
  async range(key: string, opts: RangeOptions = {}): Promise<RangeResult> {
    await this.readBarrier(opts.consistency);
    const at = opts.revision;
    if (at === undefined || at === this.state.revision) return { revision: this.state.revision, ...range(this.state, key, opts) };
    return { revision: at, ...rangeAt(this.state, this.eventsAfter(at), key, opts) };
  }

  async count(key: string, opts: Pick<RangeOptions, 'prefix' | 'after' | 'consistency' | 'revision'> = {}): Promise<CountResult> {
    await this.readBarrier(opts.consistency);
    const at = opts.revision;
    if (at === undefined || at === this.state.revision) return { revision: this.state.revision, count: countRange(this.state, key, opts) };
    return { revision: at, count: countAt(this.state, this.eventsAfter(at), key, opts) };
  }

  /** The changes since `revision`, to read the store as it was then: 'compacted' once the watch history no longer holds them all. */
  private eventsAfter(revision: number): readonly (readonly WatchEvent[])[] {
    if (revision > this.state.revision) throw new KeeperError('invalid', `revision ${revision} is ahead of this member's ${this.state.revision}`);
    const hub = this.hub;
    if (hub === undefined) throw this.closedBy ?? new KeeperError('closed', 'keeper not open');
    if (revision < hub.compactRevision) {
      throw new KeeperError('compacted', `revision ${revision} is compacted: this member keeps the changes after ${hub.compactRevision} (its watch history, since it started)`, {
        compactRevision: hub.compactRevision,
      });
    }
    return hub.eventsAfter(revision);
  }

  async put(key: string, value: string, opts?: PutOptions): Promise<{ revision: number }> {
    this.checkGrowth(this.growthOf(key, value));
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

  /** How many bytes putting `value` at `key` adds to the store (negative when it shrinks it). */
  private growthOf(key: string, value: string): number {
    const prev = this.state.kvs.get(key);
    return kvBytes(key, value) - (prev === undefined ? 0 : kvBytes(prev.key, prev.value));
  }

  /**
   * The space quota for a put's or a transaction's growth, checked by the
   * member the write reaches against the state it has applied (as etcd
   * checks its quota before proposing): writes already in flight are not
   * counted, so the store may pass the quota by at most those. Not in
   * `apply`, where members configured differently would disagree.
   */
  private checkGrowth(growth: number): void {
    const quota = this.o.quotaBytes;
    if (quota === 0) return;
    if (growth <= 0 || this.state.kvBytes + growth <= quota) return;
    throw new KeeperError(
      'no-space',
      `the keeper holds ${this.state.kvBytes} bytes of keys and values and this write adds ${growth}, over its quota of ${quota}: delete keys, or raise the quota on every member`,
    );
  }

  async delete(key: string, opts?: { prefix?: boolean }): Promise<{ revision: number; deleted: number }> {
    const r = expect(await this.propose({ type: 'delete', key, prefix: opts?.prefix === true }), 'delete');
    return { revision: r.revision, deleted: r.deleted };
  }

  /**
   * A transaction that writes goes through the log; the space check counts
   * the puts of the branch that grows the store most (which one runs is
   * decided at apply). One that only reads is answered from the applied state
   * after the read barrier, as a range read is (etcd does the same).
   */
  async txn(req: TxnRequest): Promise<TxnResult> {
    const cmd: Command = { type: 'txn', compare: req.compare, success: req.success, failure: req.failure };
    const writes = (ops: readonly TxnOp[]): boolean => ops.some((op) => op.type !== 'get');
    if (!writes(req.success) && !writes(req.failure)) {
      await this.readBarrier(req.consistency);
      return txnResult(expect(applyTxn(this.state, cmd).result, 'txn'));
    }
    if (req.consistency === 'serializable') throw new KeeperError('invalid', 'a transaction that writes goes through the log: serializable is for transactions that only read');
    const growth = (ops: readonly TxnOp[]): number => ops.reduce((n, op) => n + (op.type === 'put' ? this.growthOf(op.key, op.value) : 0), 0);
    this.checkGrowth(Math.max(growth(req.success), growth(req.failure)));
    return txnResult(expect(await this.propose(cmd), 'txn'));
  }

  /** The listener may return false to pause the stream until resume() (see WatchListener). */
  watch(req: WatchRequest, listener: WatchListener): Watcher {
    if (this.closedBy !== undefined || this.hub === undefined) throw this.closedBy ?? new KeeperError('closed', 'keeper not open');
    return this.hub.watch(req, listener);
  }

  /** Queues a progress message on every watch stream. */
  progress(): void {
    this.hub?.progress();
  }

  async leaseGrant(ttlSeconds: number): Promise<Lease> {
    // Checked like the space quota, before proposing; a node's own lease is granted past it (nodeLeaseCommands).
    if (this.state.leases.size >= this.o.leasesMax) {
      throw new KeeperError('no-space', `the keeper holds ${this.state.leases.size} leases, the most it keeps (${this.o.leasesMax}): revoke leases first`);
    }
    const r = expect(await this.propose({ type: 'leaseGrant', id: newId(), ttl: ttlSeconds, now: this.now() }), 'leaseGrant');
    return { id: r.id, ttl: r.ttl };
  }

  async leaseKeepAlive(id: string): Promise<Lease> {
    const r = expect(await this.propose({ type: 'leaseKeepAlive', id, now: this.now() }), 'leaseKeepAlive');
    return { id: r.id, ttl: r.ttl };
  }

  async leaseInfo(id: string, opts: { consistency?: Consistency } = {}): Promise<LeaseInfo> {
    await this.readBarrier(opts.consistency);
    const l = this.state.leases.get(id);
    if (l === undefined) throw new KeeperError('lease-not-found', `lease ${id} not found`);
    return { ...this.leaseSummary(l), keys: [...l.keys].sort(compareKeys) };
  }

  async leaseList(opts: { after?: string; limit: number; consistency?: Consistency }): Promise<LeaseList> {
    await this.readBarrier(opts.consistency);
    const page: Omit<LeaseInfo, 'keys'>[] = [];
    for (const id of this.state.leases.keysUnder('', opts.after)) {
      if (page.length >= opts.limit) return { revision: this.state.revision, leases: page, more: true };
      const l = this.state.leases.get(id);
      if (l !== undefined) page.push(this.leaseSummary(l));
    }
    return { revision: this.state.revision, leases: page, more: false };
  }

  private leaseSummary(l: LeaseRecord): Omit<LeaseInfo, 'keys'> {
    return { id: l.id, ttl: l.ttl, remainingMs: Math.max(0, l.deadline - this.now()), sessions: l.sessions.size };
  }

  /** The whole state as a keeper snapshot, after a linearizable read: a backup to restore a new cluster from (restore-backup.ts). */
  async backup(): Promise<{ revision: number; bytes: Uint8Array }> {
    await this.readBarrier('linearizable');
    return { revision: this.state.revision, bytes: snapshot(this.state) };
  }

  async kvHash(opts: { revision?: number } = {}): Promise<{ revision: number; hash: string; keys: number }> {
    const r = await this.range('', { prefix: true, consistency: 'linearizable', ...opts });
    return { revision: r.revision, ...kvHash(r.kvs) };
  }

  /** What a read waits for: nothing when serializable, else a ReadIndex round. */
  private async readBarrier(consistency: Consistency | undefined): Promise<void> {
    if (this.closedBy !== undefined) throw this.closedBy;
    if (consistency !== 'serializable') await this.linearizable();
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
        // setImmediate, not a microtask: register calls from other I/O callbacks of this turn join the same proposal.
        setImmediate(() => {
          if (this.registerGroup === g) this.registerGroup = undefined;
          this.propose({ type: 'registerBatch', lease: this.nodeLease, ops: g.ops }).then(
            (r) => {
              for (const w of g.waiters) {
                if (r.type === 'error') w.reject(toError(r));
                else w.resolve();
              }
            },
            (e: unknown) => {
              for (const w of g.waiters) w.reject(e);
            },
          );
        });
      }
      group.ops.push(...ops);
      group.waiters.push({ resolve, reject });
    });
  }

  sessionsOf(app: string, user: string): readonly Session[] {
    return sessionsOf(this.state, app, user);
  }

  private recordOf(rid: NodeId): Member | undefined {
    for (const m of this.state.members.values()) if (raftIdOf(m.id) === rid) return m;
    for (const m of this.joinMembers) if (raftIdOf(m.id) === rid) return m;
    if (rid === this.raftId) return { ...this.opts.member, role: 'voter' };
    return undefined;
  }

  /** The member's mirrored status, with the configuration as of the last applied change (the mirror may be a tick older). */
  private status(): ReturnType<RaftLink['status']> {
    const link = this.link;
    assert(link !== undefined, 'the Raft member is running');
    const st = link.status();
    return this.confState === undefined ? st : { ...st, confState: this.confState };
  }

  private heardAgoMs(id: NodeId): number {
    return this.link?.heardAgoMs(id) ?? Infinity;
  }

  /** Leader: heard from within an election timeout. Elsewhere: knows a leader it heard from recently. */
  private healthy(rid: NodeId): boolean {
    const recent = (id: NodeId): boolean => this.heardAgoMs(id) < this.electionTimeoutMs();
    if (this.isLeaderNow) return rid === this.raftId || recent(rid);
    return this.lead !== NONE && recent(this.lead);
  }

  cluster(): ClusterStatus {
    const st = this.status();
    const members: ClusterMember[] = [];
    const add = (rid: NodeId, role: 'voter' | 'learner'): void => {
      const m = this.recordOf(rid);
      const base = m ?? { id: String(rid), peer: '', api: '', gateway: '', zone: '' };
      members.push({ id: base.id, role, peer: base.peer, api: base.api, gateway: base.gateway, zone: base.zone, healthy: this.healthy(rid) });
    };
    for (const v of st.confState.voters) add(v, 'voter');
    for (const l of st.confState.learners) add(l, 'learner');
    const leader = st.lead === NONE ? null : (this.recordOf(st.lead)?.id ?? String(st.lead));
    return { leader, term: st.term, members };
  }

  ready(): boolean {
    if (this.closedBy !== undefined || this.link === undefined) return false;
    const st = this.status();
    if (st.lead === NONE) return false;
    const cs = st.confState;
    if (!cs.voters.includes(this.raftId) && !cs.learners.includes(this.raftId)) return false;
    if (st.lead !== this.raftId && !(this.heardAgoMs(st.lead) < 2 * this.electionTimeoutMs())) return false;
    return this.readyMark >= 0 && mono() - this.readyMarkAt < 3 * this.electionTimeoutMs() && this.applied >= this.readyMark;
  }

  /** This member's view of the Raft group, for metrics and tests. */
  raftStatus(): { readonly lead: NodeId; readonly term: number; readonly applied: number; readonly commit: number; readonly confState: ConfState } {
    const st = this.status();
    return { lead: st.lead, term: st.term, applied: this.applied, commit: st.commit, confState: st.confState };
  }

  // ---- Membership (leader only).

  private requireLeader(): void {
    if (this.closedBy !== undefined) throw this.closedBy;
    if (!this.isLeaderNow) throw new KeeperError('not-leader', 'membership changes go to the leader');
  }

  /** A change in progress here, or a conf change in the log not yet applied (Raft takes one at a time). */
  private confPending(): boolean {
    // this.applied, not the mirrored status: the conf change entry is applied here before its waiter resolves.
    return this.changing || (this.link?.pendingConfIndex() ?? 0) > this.applied;
  }

  private joinInfo(): JoinInfo {
    const cs = this.status().confState;
    return { raft: { voters: [...cs.voters], learners: [...cs.learners] }, members: [...this.state.members.values()] };
  }

  async addMember(m: Omit<Member, 'role'>): Promise<JoinInfo> {
    this.requireLeader();
    const rid = raftIdOf(m.id);
    for (const rec of this.state.members.values()) {
      if (rec.id !== m.id && raftIdOf(rec.id) === rid) throw new KeeperError('conflict', `member id ${m.id} collides with ${rec.id}; choose another id`);
    }
    const cs = this.status().confState;
    const inConf = cs.voters.includes(rid) || cs.learners.includes(rid);
    const existing = this.state.members.get(m.id);
    if (existing !== undefined && inConf) {
      if (existing.peer !== m.peer) throw new KeeperError('conflict', `member ${m.id} exists with peer ${existing.peer}`);
      return this.joinInfo();
    }
    if (this.confPending()) throw new KeeperError('conflict', 'a membership change is in progress');
    this.changing = true;
    try {
      if (existing === undefined) expect(await this.propose({ type: 'memberAdd', member: { ...m, role: 'learner' } }), 'memberAdd');
      if (!inConf) await this.changeConf({ type: 'add-learner', nodeId: rid }, (c) => c.learners.includes(rid) || c.voters.includes(rid));
      return this.joinInfo();
    } finally {
      this.changing = false;
    }
  }

  async removeMember(id: string): Promise<void> {
    this.requireLeader();
    const rid = raftIdOf(id);
    const cs = this.status().confState;
    const inConf = cs.voters.includes(rid) || cs.learners.includes(rid);
    const rec = this.state.members.get(id);
    if (rec === undefined && !inConf) throw new KeeperError('member-not-found', `member ${id} not found`);
    if (this.confPending()) throw new KeeperError('conflict', 'a membership change is in progress');
    if (cs.voters.includes(rid)) {
      const remaining = cs.voters.filter((v) => v !== rid);
      if (remaining.length === 0) throw new KeeperError('conflict', `${id} is the last voter`);
      const healthy = remaining.filter((v) => this.healthy(v)).length;
      if (healthy < Math.floor(remaining.length / 2) + 1) {
        throw new KeeperError('conflict', `removing ${id} would leave ${healthy} healthy of ${remaining.length} voters: no quorum`);
      }
    }
    this.changing = true;
    try {
      if (rec !== undefined) expect(await this.propose({ type: 'memberRemove', id }), 'memberRemove');
      if (inConf) await this.changeConf({ type: 'remove-node', nodeId: rid }, (c) => !c.voters.includes(rid) && !c.learners.includes(rid));
    } finally {
      this.changing = false;
    }
  }

  transferLeader(to?: string): Promise<{ leader: string }> {
    return this.transfer(to, 3 * this.electionTimeoutMs());
  }

  /** Peer links made from now on use this TLS material (a certificate rotation); open links keep theirs. */
  reloadPeerTls(tls: PeerTlsPem): Promise<void> {
    if (this.link === undefined) return Promise.reject(new Error('the Raft member has not started'));
    return this.link.setPeerTls(tls);
  }

  private async transfer(to: string | undefined, waitMs: number): Promise<{ leader: string }> {
    this.requireLeader();
    const st = this.status();
    let target: NodeId | undefined;
    if (to !== undefined) {
      target = raftIdOf(to);
      if (!st.confState.voters.includes(target)) throw new KeeperError('invalid', `${to} is not a voter`);
    } else {
      let best = -1;
      for (const v of st.confState.voters) {
        const match = st.progress.get(v)?.match ?? 0;
        if (v !== this.raftId && this.healthy(v) && match > best) {
          best = match;
          target = v;
        }
      }
      if (target === undefined) throw new KeeperError('conflict', 'no other healthy voter to hand leadership to');
    }
    if (target === this.raftId) return { leader: this.opts.member.id };
    const r = await (this.link?.transferLeader(target) ?? Promise.resolve(dropped()));
    if (!r.ok) throw dropError(r);
    const deadline = mono() + waitMs;
    while (this.status().lead !== target) {
      if (mono() > deadline) throw new KeeperError('no-leader', 'the leadership transfer did not complete in time');
      await new Promise((res) => setTimeout(res, this.o.tickMs / 2));
    }
    return { leader: this.recordOf(target)?.id ?? String(target) };
  }

  private async changeConf(cc: ConfChange, done: (cs: ConfState) => boolean): Promise<void> {
    let waiter: (typeof this.confWaiters)[number] | undefined;
    const applied = new Promise<void>((resolve) => {
      waiter = { test: done, resolve };
      this.confWaiters.push(waiter);
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const r = await (this.link?.proposeConfChange(cc) ?? Promise.resolve(dropped()));
      if (!r.ok) throw dropError(r);
      const timeout = new Promise<never>((_res, rej) => {
        // 'no-leader' (503, "repeat the call"), not 'timeout': a membership change is safe to repeat, and the routes say so.
        timer = setTimeout(() => rej(new KeeperError('no-leader', 'the membership change was not applied in time (outcome unknown)')), this.o.proposalTimeoutMs);
      });
      await Promise.race([applied, timeout]);
    } finally {
      clearTimeout(timer);
      const i = waiter === undefined ? -1 : this.confWaiters.indexOf(waiter);
      if (i >= 0) this.confWaiters.splice(i, 1);
    }
  }

  /** Leader, every tick: a learner whose log matches the commit index becomes a voter. */
  private promoteLearners(): void {
    if (this.confPending()) return;
    const st = this.status();
    for (const l of st.confState.learners) {
      const pr = st.progress.get(l);
      if (pr === undefined || pr.match < st.commit || !this.healthy(l)) continue;
      const rec = this.recordOf(l);
      this.changing = true;
      void (async () => {
        try {
          await this.changeConf({ type: 'add-node', nodeId: l }, (c) => c.voters.includes(l));
          if (rec !== undefined && this.state.members.has(rec.id)) await this.propose({ type: 'memberPromote', id: rec.id });
        } catch {
          // Retried on a later tick (or by the next leader).
        } finally {
          this.changing = false;
        }
      })();
      return;
    }
  }

  // ---- Shutdown.

  /** Ends watch streams with cancelled/closed, fails what is pending, stops Raft and closes the log. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private failAll(e: KeeperError): void {
    // A proposal a member took may still commit without this one: its outcome is unknown.
    for (const p of this.proposals.values()) p.reject(p.accepted || p.submitting ? new KeeperError('timeout', `${e.message} (a write in flight: outcome unknown)`, { cause: e }) : e);
    this.proposals.clear();
    for (const w of this.readQueue) w.reject(e);
    this.readQueue = [];
    if (this.readInflight !== undefined) for (const w of this.readInflight.waiters) w.reject(e);
    this.readInflight = undefined;
  }

  private async shutdown(): Promise<void> {
    clearInterval(this.leaseTimer);
    // A leader hands over before it goes, so the others need not wait out an election timeout.
    if (this.closedBy === undefined && this.isLeaderNow && this.status().confState.voters.length > 1) {
      await this.transfer(undefined, this.electionTimeoutMs()).catch(() => undefined);
    }
    clearInterval(this.ticker);
    this.closedBy ??= new KeeperError('closed', 'keeper closed');
    // Proposals already accepted may still commit; give them a moment to resolve before failing the rest.
    if (this.link !== undefined) {
      const until = mono() + 2 * this.o.tickMs;
      while ([...this.proposals.values()].some((p) => p.accepted) && mono() < until) await new Promise((r) => setTimeout(r, 5));
    }
    this.failAll(this.closedBy);
    await this.link?.stop();
    this.hub?.close();
  }

  /** This incarnation's node lease; a node may attach its own keys to it. */
  get nodeLeaseId(): string {
    return this.nodeLease;
  }

  /** The store's current revision. */
  get revision(): number {
    return this.state.revision;
  }

  /** Bytes of keys and values the store holds, and its quota (0: none). */
  get space(): { readonly bytes: number; readonly quotaBytes: number } {
    return { bytes: this.state.kvBytes, quotaBytes: this.o.quotaBytes };
  }

  /** Open watch streams on this member. */
  get watcherCount(): number {
    return this.hub?.watcherCount ?? 0;
  }
}

function noop(): void {}

function dropped(): StepResult {
  return { ok: false, reason: DropReason.NotMember };
}

function dropError(r: Extract<StepResult, { ok: false }>): KeeperError {
  const code: KeeperErrorCode =
    r.reason === DropReason.ConfChangePending ? 'conflict' : r.reason === DropReason.ConfChangeInvalid ? 'invalid' : r.reason === DropReason.NotMember ? 'closed' : 'no-leader';
  return new KeeperError(code, `raft refused: ${r.reason}`);
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

function txnResult(r: Extract<CommandResult, { type: 'txn' }>): TxnResult {
  return { revision: r.revision, succeeded: r.succeeded, deleted: r.deleted, responses: r.responses };
}

function ignoreExpected(e: unknown): void {
  if (e instanceof KeeperError && (e.code === 'closed' || e.code === 'no-leader' || e.code === 'timeout')) return;
  throw e;
}
