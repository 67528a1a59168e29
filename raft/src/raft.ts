import { assert, assertNever } from './assert.js';
import { applyConfChange, decodeConfChange } from './confchange.js';
import type { ConfChange } from './confchange.js';
import { DropReason, OK, dropped } from './errors.js';
import type { StepResult } from './errors.js';
import { RaftLog } from './log/raft-log.js';
import type { Storage } from './log/storage.js';
import type { Message, MessageOf } from './message.js';
import { VoteResult, voteResult } from './quorum/majority.js';
import { ReadOnly, ReadOnlyOption } from './read-only.js';
import type { Rng } from './rng.js';
import { ProgressState } from './tracker/progress.js';
import type { Progress } from './tracker/progress.js';
import { ProgressTracker } from './tracker/tracker.js';
import type { ConfState, Entry, HardState, Index, NodeId, ReadState, Snapshot, SoftState, Term } from './types.js';
import { EntryType, NONE, StateType, entryBytes, index, isEmptyHardState, isEmptySnapshot, payloadBytes, term } from './types.js';

/** Ticks between successive survivors' campaigns once their leader's connection closed (Raft.peerDisconnected). */
const DISCONNECT_STAGGER_TICKS = 2;

/** Options of one Raft member. Validated once by validateConfig(). */
export interface Config {
  /** This member's id. Invariant: > 0. */
  readonly id: NodeId;
  readonly storage: Storage;
  readonly rng: Rng;
  /** A follower campaigns after [electionTicks, 2 * electionTicks) ticks without a leader. */
  readonly electionTicks: number;
  /** The leader sends heartbeats every heartbeatTicks. Invariant: < electionTicks. */
  readonly heartbeatTicks: number;
  /** The last index applied by the state machine before a restart (0 on first start). */
  readonly applied: Index;
  /** Bytes of entries in one MsgApp (at least one entry is always sent). */
  readonly appendBytesMax: number;
  /** Bytes of committed entries in one Ready (at least one entry). */
  readonly committedBytesMax: number;
  /** Payload bytes of uncommitted entries at the leader; past it proposals are dropped. 0 = no limit. */
  readonly uncommittedBytesMax: number;
  /** MsgApp messages in flight to one follower in Replicate state. */
  readonly inflightMsgsMax: number;
  /** Bytes in flight to one follower; 0 = no limit. */
  readonly inflightBytesMax: number;
  /** The leader steps down if a quorum was not active during an election timeout. */
  readonly checkQuorum: boolean;
  /** Run a pre-election so that a partitioned node does not disrupt the group on return. */
  readonly preVote: boolean;
  readonly readOnlyOption: ReadOnlyOption;
  /** Followers drop proposals instead of forwarding them to the leader. */
  readonly disableProposalForwarding: boolean;
  /**
   * Thesis §10.2.1: the leader's appends may go out before its own write of
   * the same entries (Ready.earlyMessages), so that the leader's and the
   * followers' fsyncs overlap. The leader then counts itself in the commit
   * quorum only for entries the shell reported durable (advance()).
   */
  readonly leaderSendsBeforePersist: boolean;
}

export const DEFAULT_CONFIG = {
  electionTicks: 10,
  heartbeatTicks: 1,
  applied: index(0),
  appendBytesMax: 1024 * 1024,
  committedBytesMax: 16 * 1024 * 1024,
  uncommittedBytesMax: 64 * 1024 * 1024,
  inflightMsgsMax: 256,
  inflightBytesMax: 0,
  checkQuorum: true,
  preVote: true,
  readOnlyOption: ReadOnlyOption.Safe,
  disableProposalForwarding: false,
  leaderSendsBeforePersist: false,
} as const;

export type ConfigInput = Pick<Config, 'id' | 'storage' | 'rng'> & Partial<Omit<Config, 'id' | 'storage' | 'rng'>>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'RAFT_ERR_CONFIG';
}

/** Fills defaults and checks the options; throws ConfigError on an invalid combination. */
export function validateConfig(c: ConfigInput): Config {
  const cfg: Config = { ...DEFAULT_CONFIG, ...c };
  const fail = (msg: string): never => {
    throw new ConfigError(msg);
  };
  if (!(Number.isSafeInteger(cfg.id) && cfg.id > 0)) fail(`id must be a positive integer, got ${cfg.id}`);
  if (!(cfg.heartbeatTicks > 0)) fail('heartbeatTicks must be > 0');
  if (!(cfg.electionTicks > cfg.heartbeatTicks)) fail('electionTicks must be > heartbeatTicks');
  if (!(cfg.inflightMsgsMax > 0)) fail('inflightMsgsMax must be > 0');
  if (!(cfg.appendBytesMax > 0)) fail('appendBytesMax must be > 0');
  if (!(cfg.committedBytesMax > 0)) fail('committedBytesMax must be > 0');
  if (cfg.readOnlyOption === ReadOnlyOption.LeaseBased && !cfg.checkQuorum) {
    fail('readOnlyOption lease-based requires checkQuorum');
  }
  return cfg;
}

type CampaignType = 'pre-election' | 'election' | 'transfer';

/**
 * One Raft member: a deterministic state machine. Inputs are tick() and
 * step(message); outputs accumulate in `msgs`, the log's unstable part,
 * `readStates`, and the hard state. RawNode packages them into Ready.
 */
export class Raft {
  readonly id: NodeId;
  /** The current term. Invariant: never decreases, and is persisted before any message of it is sent. */
  term: Term = term(0);
  /** Whom we voted for in `term` (NONE if nobody). Invariant: set at most once per term. */
  vote: NodeId = NONE;
  readStates: ReadState[] = [];
  readonly log: RaftLog;
  trk: ProgressTracker;
  state: StateType = StateType.Follower;
  /** Whether this member is a learner in the current configuration. */
  isLearner = false;
  /** Outgoing messages, taken by RawNode.ready(). */
  msgs: Message[] = [];
  /** The leader of `term` as far as we know (NONE if unknown). Invariant: lead == id iff state is leader. */
  lead: NodeId = NONE;
  /** The member leadership is being handed to (NONE if no transfer). Invariant: NONE unless leader. */
  leadTransferee: NodeId = NONE;
  /**
   * The index of the latest conf change appended by this leader. A new one is
   * refused while applied < pendingConfIndex. Becoming leader sets it to the
   * last index, so a new leader cannot stack a change on an unapplied one.
   */
  pendingConfIndex: Index = index(0);
  /** Payload bytes appended by this leader and not yet committed-and-applied. */
  uncommittedBytes = 0;
  readOnly: ReadOnly;
  /**
   * Leader only: ReadIndex requests that arrived before an entry of this
   * term committed. Answered once one does (until then the commit index may
   * lag the group's). Bounded by readIndexPendingMax; past it requests are dropped.
   */
  pendingReadIndex: MessageOf<'MsgReadIndex'>[] = [];
  /** Ticks since the last election timeout reset. Invariant: >= 0. */
  electionElapsed = 0;
  /** Leader only: ticks since the last heartbeat. */
  heartbeatElapsed = 0;
  /** Invariant: electionTicks <= randomizedElectionTimeout < 2 * electionTicks. */
  randomizedElectionTimeout = 0;
  readonly cfg: Config;

  constructor(input: ConfigInput) {
    this.cfg = validateConfig(input);
    this.id = this.cfg.id;
    this.log = new RaftLog(this.cfg.storage, this.cfg.committedBytesMax);
    this.readOnly = new ReadOnly(this.cfg.readOnlyOption);
    const { hardState, confState } = this.cfg.storage.initialState();
    this.trk = new ProgressTracker(this.cfg.inflightMsgsMax, this.cfg.inflightBytesMax);
    this.trk.applyConf(confState, index(this.log.lastIndex() + 1));
    this.isLearner = this.trk.learners.has(this.id);
    if (!isEmptyHardState(hardState)) this.loadState(hardState);
    if (this.cfg.applied > 0) this.log.appliedTo(this.cfg.applied);
    this.becomeFollower(this.term, NONE);
  }

  private loadState(hs: HardState): void {
    assert(
      hs.commit >= this.log.committed && hs.commit <= this.log.lastIndex(),
      `hard state commit ${hs.commit} out of range [${this.log.committed}, ${this.log.lastIndex()}]`,
    );
    this.log.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  /** Asserts the field invariants (the simulator calls this after every step). */
  checkInvariants(): void {
    assert((this.lead === this.id) === (this.state === StateType.Leader), `lead ${this.lead} vs state ${this.state}`);
    assert(this.leadTransferee === NONE || this.state === StateType.Leader, 'a transfer outside leadership');
    const log = this.log;
    assert(log.applied <= log.committed && log.committed <= log.lastIndex(), `applied ${log.applied} <= committed ${log.committed} <= last ${log.lastIndex()}`);
    if (this.state !== StateType.Leader) return;
    for (const [id, pr] of this.trk.progress) {
      assert(pr.match < pr.next, `progress of ${id}: match ${pr.match} < next ${pr.next}`);
      assert(pr.next <= log.lastIndex() + 1, `progress of ${id}: next ${pr.next} <= last + 1`);
    }
    const self = this.trk.progress.get(this.id);
    // With leaderSendsBeforePersist the leader matches only its durable log
    // (the simulator checks after advance(), when that is all of it).
    const own = this.cfg.leaderSendsBeforePersist ? log.stableLastIndex() : log.lastIndex();
    assert(self !== undefined && self.match === own, `the leader matches its own log: match ${self?.match} vs ${own}`);
  }

  softState(): SoftState {
    return { lead: this.lead, state: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private send(m: Message): void {
    this.msgs.push(m);
  }

  // ---- sending -------------------------------------------------------------

  /** Sends an append (or a snapshot) to `to` if its progress allows. Returns whether a message was sent. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = index(pr.next - 1);
    const prevTerm = this.log.term(prevIndex);
    // A throttled follower (full inflights) gets only an empty append, so
    // that an ack or a rejection clears the window even if every append in
    // it was lost.
    const throttled = pr.state === ProgressState.Replicate && pr.inflights.full();
    const ents = throttled ? [] : this.log.entriesFrom(pr.next, this.cfg.appendBytesMax);
    if (prevTerm === undefined || ents === undefined) return this.maybeSendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const e of ents) bytes += entryBytes(e);
    this.send({
      type: 'MsgApp',
      from: this.id,
      to,
      term: this.term,
      index: prevIndex,
      logTerm: prevTerm,
      entries: ents,
      commit: this.log.committed,
    });
    pr.sentEntries(ents.length, bytes);
    pr.sentCommit = index(Math.max(pr.sentCommit, this.log.committed));
    return true;
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  private maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    // An inactive follower would only make us hold a snapshot for nothing.
    if (!pr.recentActive) return false;
    const snap = this.log.snapshot();
    assert(!isEmptySnapshot(snap), 'entries were compacted but there is no snapshot');
    this.send({ type: 'MsgSnap', from: this.id, to, term: this.term, snapshot: snap });
    pr.becomeSnapshot(snap.meta.index);
    return true;
  }

  private sendHeartbeat(to: NodeId, context: Uint8Array): void {
    const pr = this.trk.progress.get(to);
    assert(pr !== undefined, `heartbeat to unknown member ${to}`);
    // Never tell a follower to commit past what it is known to hold.
    const commit = index(Math.min(pr.match, this.log.committed));
    pr.sentCommit = index(Math.max(pr.sentCommit, commit));
    this.send({ type: 'MsgHeartbeat', from: this.id, to, term: this.term, commit, context });
  }

  private bcastAppend(): void {
    for (const id of this.trk.ids()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(): void {
    const ctx = this.readOnly.lastPendingContext();
    this.bcastHeartbeatWithContext(ctx ?? EMPTY_CONTEXT);
  }

  private bcastHeartbeatWithContext(ctx: Uint8Array): void {
    for (const id of this.trk.ids()) if (id !== this.id) this.sendHeartbeat(id, ctx);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'MsgTimeoutNow', from: this.id, to, term: this.term });
  }

  // ---- state transitions ---------------------------------------------------

  private reset(t: Term): void {
    if (this.term !== t) {
      this.term = t;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NONE;
    this.trk.resetVotes();
    const last = this.log.lastIndex();
    const fresh = new ProgressTracker(this.cfg.inflightMsgsMax, this.cfg.inflightBytesMax);
    fresh.applyConf(this.trk.confState(), index(last + 1));
    for (const [id, pr] of fresh.progress) {
      pr.recentActive = false;
      if (id === this.id) pr.match = this.cfg.leaderSendsBeforePersist ? this.log.stableLastIndex() : last;
    }
    this.trk = fresh;
    this.pendingConfIndex = index(0);
    this.uncommittedBytes = 0;
    this.readOnly = new ReadOnly(this.cfg.readOnlyOption);
    this.pendingReadIndex = [];
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.cfg.electionTicks + this.cfg.rng.intn(this.cfg.electionTicks);
  }

  becomeFollower(t: Term, lead: NodeId): void {
    this.reset(t);
    this.lead = lead;
    this.state = StateType.Follower;
  }

  private becomeCandidate(): void {
    assert(this.state !== StateType.Leader, 'invalid transition leader -> candidate');
    this.reset(term(this.term + 1));
    this.vote = this.id;
    this.state = StateType.Candidate;
  }

  private becomePreCandidate(): void {
    assert(this.state !== StateType.Leader, 'invalid transition leader -> pre-candidate');
    // A pre-candidate keeps its term and vote: it changes nothing anyone else can see.
    this.trk.resetVotes();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
  }

  private becomeLeader(): void {
    assert(this.state !== StateType.Follower, 'invalid transition follower -> leader');
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.Leader;
    const self = this.trk.progress.get(this.id);
    assert(self !== undefined, 'a leader is a member');
    self.becomeReplicate();
    self.recentActive = true;
    // Any conf change in the log might be unapplied: refuse new ones until
    // this term's first entry is applied (this closes the single-server
    // change bug described in Ongaro's raft-dev post of 2015).
    this.pendingConfIndex = this.log.lastIndex();
    // §5.4.2: commit earlier terms' entries by committing one of our own.
    const ok = this.appendEntries([{ term: term(0), index: index(0), type: EntryType.Normal, data: EMPTY_CONTEXT }]);
    assert(ok, 'the empty entry of a new leader is never dropped');
  }

  /** A member that may campaign: a voter of the current configuration. */
  promotable(): boolean {
    return this.trk.voters.has(this.id);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.committed <= this.log.applied) return false;
    const lo = index(Math.max(this.log.applied + 1, this.log.firstIndex()));
    const hi = index(this.log.committed + 1);
    if (lo >= hi) return false;
    for (const e of this.log.slice(lo, hi, Number.MAX_SAFE_INTEGER)) if (e.type === EntryType.ConfChange) return true;
    return false;
  }

  private hup(t: CampaignType): void {
    if (this.state === StateType.Leader) return;
    if (!this.promotable()) return;
    // A committed conf change might change whether we are a voter at all.
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(t);
  }

  private campaign(t: CampaignType): void {
    let voteTerm: Term;
    if (t === 'pre-election') {
      this.becomePreCandidate();
      voteTerm = term(this.term + 1);
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    const pre = t === 'pre-election';
    if (this.poll(this.id, true) === VoteResult.Won) {
      // A single-voter group wins at once.
      if (pre) this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of [...this.trk.voters].sort((a, b) => a - b)) {
      if (id === this.id) continue;
      const transfer = t === 'transfer';
      if (pre) {
        this.send({ type: 'MsgPreVote', from: this.id, to: id, term: voteTerm, index: lastIndex, logTerm: lastTerm, transfer });
      } else {
        this.send({ type: 'MsgVote', from: this.id, to: id, term: voteTerm, index: lastIndex, logTerm: lastTerm, transfer });
      }
    }
  }

  private poll(id: NodeId, granted: boolean): VoteResult {
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes();
  }

  /**
   * The connection to `id` closed (the shell saw it; Raft did not). If `id` is
   * this follower's leader, forget it: with no leader there is no lease to
   * honour, so pre-votes are granted at once, and campaign after a short
   * wait staggered by id: a crashed leader's sockets close at once, so every
   * survivor learns it at the same moment, and a random spread over a few
   * ticks made two of them campaign together (a split vote, then a full
   * timeout) in a quarter of the kills measured; an order by id cannot tie.
   * The lowest surviving voter campaigns at the next tick, the next one
   * DISCONNECT_STAGGER_TICKS later (in case the first cannot win), and so on.
   * Only liveness is at stake: a follower wrong about its leader cannot
   * depose it, since members that still hear the leader refuse its
   * pre-votes, and the next heartbeat makes it a follower again.
   */
  peerDisconnected(id: NodeId): void {
    if (this.state !== StateType.Follower || this.lead !== id || id === NONE) return;
    this.lead = NONE;
    let rank = 0;
    for (const v of this.trk.voters) if (v !== id && v < this.id) rank++;
    const wait = 1 + rank * DISCONNECT_STAGGER_TICKS;
    this.electionElapsed = Math.max(this.electionElapsed, this.randomizedElectionTimeout - wait);
  }

  // ---- ticks ---------------------------------------------------------------

  tick(): void {
    if (this.state === StateType.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step({ type: 'MsgHup', from: this.id, to: this.id, term: term(0) });
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) this.step({ type: 'MsgCheckQuorum', from: this.id, to: this.id, term: term(0) });
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) this.leadTransferee = NONE;
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.step({ type: 'MsgBeat', from: this.id, to: this.id, term: term(0) });
    }
  }

  // ---- step ----------------------------------------------------------------

  step(m: Message): StepResult {
    if (m.term === 0) {
      // Local message or proposal: no term handling.
    } else if (m.term > this.term) {
      if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
        // §6 (thesis 4.2.3): while we hear from a leader, ignore vote requests,
        // unless the leader itself asked for the election (transfer).
        const inLease = this.cfg.checkQuorum && this.lead !== NONE && this.electionElapsed < this.cfg.electionTicks;
        if (!m.transfer && inLease) return OK;
      }
      if (m.type === 'MsgPreVote') {
        // A pre-vote never changes our term.
      } else if (m.type === 'MsgPreVoteResp' && !m.reject) {
        // Our term moves when we win the pre-election, not on each grant.
      } else if (m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'MsgHeartbeat' || m.type === 'MsgApp')) {
        // A stale leader cut off by a partition would otherwise never learn
        // the new term (we ignore its messages and it ignores no one): answer
        // so that it steps down.
        this.send({ type: 'MsgAppResp', from: this.id, to: m.from, term: this.term, index: index(0), reject: false, rejectHint: index(0), logTerm: term(0) });
      } else if (m.type === 'MsgPreVote') {
        this.send({ type: 'MsgPreVoteResp', from: this.id, to: m.from, term: this.term, reject: true });
      }
      return OK;
    }

    switch (m.type) {
      case 'MsgHup':
        this.hup(this.cfg.preVote ? 'pre-election' : 'election');
        return OK;
      case 'MsgVote':
      case 'MsgPreVote': {
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === 'MsgPreVote' && m.term > this.term);
        if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
          if (m.type === 'MsgVote') {
            this.electionElapsed = 0;
            this.vote = m.from;
            this.send({ type: 'MsgVoteResp', from: this.id, to: m.from, term: m.term, reject: false });
          } else {
            this.send({ type: 'MsgPreVoteResp', from: this.id, to: m.from, term: m.term, reject: false });
          }
        } else if (m.type === 'MsgVote') {
          this.send({ type: 'MsgVoteResp', from: this.id, to: m.from, term: this.term, reject: true });
        } else {
          this.send({ type: 'MsgPreVoteResp', from: this.id, to: m.from, term: this.term, reject: true });
        }
        return OK;
      }
      default:
        switch (this.state) {
          case StateType.Leader:
            return this.stepLeader(m);
          case StateType.Candidate:
          case StateType.PreCandidate:
            return this.stepCandidate(m);
          case StateType.Follower:
            return this.stepFollower(m);
          default:
            return assertNever(this.state, 'state');
        }
    }
  }

  private stepLeader(m: Message): StepResult {
    switch (m.type) {
      case 'MsgBeat':
        this.bcastHeartbeat();
        return OK;
      case 'MsgCheckQuorum':
        if (!this.trk.quorumActive(this.id)) {
          this.becomeFollower(this.term, NONE);
          return OK;
        }
        for (const [id, pr] of this.trk.progress) pr.recentActive = id === this.id;
        return OK;
      case 'MsgProp':
        return this.leaderPropose(m);
      case 'MsgReadIndex':
        return this.leaderReadIndex(m);
      case 'MsgAppResp':
        this.leaderAppResp(m);
        return OK;
      case 'MsgHeartbeatResp':
        this.leaderHeartbeatResp(m);
        return OK;
      case 'MsgSnapStatus': {
        const pr = this.trk.progress.get(m.from);
        if (pr === undefined || pr.state !== ProgressState.Snapshot) return OK;
        if (m.reject) pr.pendingSnapshot = index(0);
        pr.becomeProbe();
        // Wait for a heartbeat response before probing again.
        pr.msgAppFlowPaused = true;
        return OK;
      }
      case 'MsgUnreachable': {
        const pr = this.trk.progress.get(m.from);
        if (pr !== undefined && pr.state === ProgressState.Replicate) pr.becomeProbe();
        return OK;
      }
      case 'MsgTransferLeader':
        this.leaderTransfer(m);
        return OK;
      case 'MsgHup':
      case 'MsgVote':
      case 'MsgPreVote':
      case 'MsgApp':
      case 'MsgHeartbeat':
      case 'MsgSnap':
      case 'MsgVoteResp':
      case 'MsgPreVoteResp':
      case 'MsgTimeoutNow':
      case 'MsgReadIndexResp':
        // Stale or not for a leader (another leader of this term cannot exist).
        return OK;
      default:
        return assertNever(m, 'message');
    }
  }

  private leaderPropose(m: MessageOf<'MsgProp'>): StepResult {
    assert(m.entries.length > 0, 'empty proposal');
    if (!this.trk.progress.has(this.id)) return dropped(DropReason.NotMember);
    if (this.leadTransferee !== NONE) return dropped(DropReason.TransferInProgress);
    let cs: ConfState = this.trk.confState();
    let pendingConfIndex = this.pendingConfIndex;
    for (let i = 0; i < m.entries.length; i++) {
      const e = m.entries[i]!;
      if (e.type !== EntryType.ConfChange) continue;
      if (pendingConfIndex > this.log.applied) return dropped(DropReason.ConfChangePending);
      const cc = decodeConfChange(e.data);
      if (cc === undefined) return dropped(DropReason.ConfChangeInvalid);
      const next = applyConfChange(cs, cc);
      if (!next.ok) return dropped(DropReason.ConfChangeInvalid);
      cs = next.confState;
      pendingConfIndex = index(this.log.lastIndex() + i + 1);
    }
    if (!this.appendEntries(m.entries)) return dropped(DropReason.UncommittedBytesMax);
    this.pendingConfIndex = pendingConfIndex;
    this.bcastAppend();
    return OK;
  }

  /** Appends proposals at the end of the log with our term. False if the uncommitted cap refuses them. */
  private appendEntries(es: readonly Entry[]): boolean {
    const size = payloadBytes(es);
    const max = this.cfg.uncommittedBytesMax;
    // The first proposal after the log drained is always accepted, however large.
    if (max > 0 && this.uncommittedBytes > 0 && size > 0 && this.uncommittedBytes + size > max) return false;
    this.uncommittedBytes += size;
    const li = this.log.lastIndex();
    const ents = es.map((e, i): Entry => ({ term: this.term, index: index(li + 1 + i), type: e.type, data: e.data }));
    this.log.append(ents);
    // Without leaderSendsBeforePersist the leader's own entries count as
    // matched at once: the shell persists them before any message (and so
    // any ack) goes out. With it, they count once durable (persisted()).
    if (!this.cfg.leaderSendsBeforePersist) {
      const self = this.trk.progress.get(this.id);
      if (self !== undefined) self.maybeUpdate(this.log.lastIndex());
      this.maybeCommit();
    }
    return true;
  }

  /**
   * The shell made the log durable up to its stable index. A leader that
   * sends before persisting counts itself in the quorum only up to there.
   */
  persisted(): void {
    if (!this.cfg.leaderSendsBeforePersist || this.state !== StateType.Leader) return;
    const self = this.trk.progress.get(this.id);
    if (self === undefined || !self.maybeUpdate(this.log.stableLastIndex())) return;
    if (this.maybeCommit()) this.bcastAppend();
  }

  /** Frees uncommitted bytes of entries handed to the application. */
  reduceUncommittedBytes(ents: readonly Entry[]): void {
    if (this.uncommittedBytes === 0) return;
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - payloadBytes(ents));
  }

  private maybeCommit(): boolean {
    if (!this.log.maybeCommit(this.trk.committed(), this.term)) return false;
    if (this.state === StateType.Leader && this.pendingReadIndex.length > 0 && this.committedEntryInCurrentTerm()) {
      const waiting = this.pendingReadIndex;
      this.pendingReadIndex = [];
      for (const m of waiting) this.leaderReadIndex(m);
    }
    return true;
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.zeroTerm(this.log.committed) === this.term;
  }

  private leaderReadIndex(m: MessageOf<'MsgReadIndex'>): StepResult {
    if (this.trk.voters.size === 1 && this.trk.voters.has(this.id)) {
      // A single voter is its own quorum.
      this.respondReadIndex(m, this.log.committed);
      return OK;
    }
    // Until an entry of this term commits, our commit index may lag the
    // true one (§6.4): the read would be stale.
    if (!this.committedEntryInCurrentTerm()) {
      if (this.pendingReadIndex.length >= READ_INDEX_PENDING_MAX) return dropped(DropReason.LeaderNotReady);
      this.pendingReadIndex.push(m);
      return OK;
    }
    if (this.readOnly.option === ReadOnlyOption.Safe) {
      this.readOnly.addRequest(this.log.committed, m);
      this.readOnly.recvAck(this.id, m.context);
      this.bcastHeartbeatWithContext(m.context);
    } else {
      this.respondReadIndex(m, this.log.committed);
    }
    return OK;
  }

  private respondReadIndex(req: MessageOf<'MsgReadIndex'>, idx: Index): void {
    if (req.from === this.id || req.from === NONE) {
      this.readStates.push({ index: idx, context: req.context });
    } else {
      this.send({ type: 'MsgReadIndexResp', from: this.id, to: req.from, term: this.term, index: idx, context: req.context });
    }
  }

  private leaderAppResp(m: MessageOf<'MsgAppResp'>): void {
    const pr = this.trk.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.reject) {
      let probe = m.rejectHint;
      if (m.logTerm > 0) {
        // Skip every entry of ours whose term is above the follower's term at
        // the hint: they cannot match.
        probe = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      }
      if (pr.maybeDecrTo(m.index, probe)) {
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    if (!pr.maybeUpdate(m.index) && !(pr.match === m.index && pr.state === ProgressState.Probe)) return;
    switch (pr.state) {
      case ProgressState.Probe:
        pr.becomeReplicate();
        break;
      case ProgressState.Snapshot:
        if (pr.match + 1 >= this.log.firstIndex()) {
          pr.becomeProbe();
          pr.becomeReplicate();
        }
        break;
      case ProgressState.Replicate:
        pr.inflights.freeLE(m.index);
        break;
    }
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else if (m.from !== this.id && pr.canBumpCommit(this.log.committed)) {
      // The follower holds entries it does not yet know are committed.
      this.sendAppend(m.from);
    }
    // Fill the pipeline while the window allows.
    while (this.maybeSendAppend(m.from, false)) {
      // each iteration sends one more MsgApp
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private leaderHeartbeatResp(m: MessageOf<'MsgHeartbeatResp'>): void {
    const pr = this.trk.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.msgAppFlowPaused = false;
    // A caught-up follower in probe gets an (empty) append so that its answer
    // moves it back to replicate; a throttled one gets an empty append that
    // clears its window even if every append in it was lost.
    if (pr.match < this.log.lastIndex() || pr.state === ProgressState.Probe) this.sendAppend(m.from);
    if (this.readOnly.option !== ReadOnlyOption.Safe || m.context.length === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (acks === undefined || voteResult(this.trk.voters, acks) !== VoteResult.Won) return;
    for (const rs of this.readOnly.advance(m.context)) this.respondReadIndex(rs.req, rs.index);
  }

  private leaderTransfer(m: MessageOf<'MsgTransferLeader'>): void {
    const transferee = m.from;
    const pr = this.trk.progress.get(transferee);
    if (pr === undefined || pr.isLearner) return;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return;
      this.leadTransferee = NONE;
    }
    if (transferee === this.id) return;
    // The transfer must finish within an election timeout.
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(transferee);
    else this.sendAppend(transferee);
  }

  private stepCandidate(m: Message): StepResult {
    switch (m.type) {
      case 'MsgProp':
        return dropped(DropReason.Candidate);
      case 'MsgApp':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return OK;
      case 'MsgHeartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return OK;
      case 'MsgSnap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return OK;
      case 'MsgVoteResp':
      case 'MsgPreVoteResp': {
        const mine = this.state === StateType.PreCandidate ? 'MsgPreVoteResp' : 'MsgVoteResp';
        if (m.type !== mine) return OK;
        const res = this.poll(m.from, !m.reject);
        if (res === VoteResult.Won) {
          if (this.state === StateType.PreCandidate) {
            this.campaign('election');
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (res === VoteResult.Lost) {
          this.becomeFollower(this.term, NONE);
        }
        return OK;
      }
      case 'MsgReadIndex':
      case 'MsgTransferLeader':
        return dropped(DropReason.NoLeader);
      case 'MsgTimeoutNow':
      case 'MsgHup':
      case 'MsgBeat':
      case 'MsgCheckQuorum':
      case 'MsgVote':
      case 'MsgPreVote':
      case 'MsgAppResp':
      case 'MsgHeartbeatResp':
      case 'MsgSnapStatus':
      case 'MsgUnreachable':
      case 'MsgReadIndexResp':
        return OK;
      default:
        return assertNever(m, 'message');
    }
  }

  private stepFollower(m: Message): StepResult {
    switch (m.type) {
      case 'MsgProp':
        if (this.lead === NONE) return dropped(DropReason.NoLeader);
        if (this.cfg.disableProposalForwarding) return dropped(DropReason.ForwardingDisabled);
        this.send({ ...m, to: this.lead });
        return OK;
      case 'MsgApp':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return OK;
      case 'MsgHeartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return OK;
      case 'MsgSnap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return OK;
      case 'MsgTransferLeader':
        if (this.lead === NONE) return dropped(DropReason.NoLeader);
        this.send({ ...m, to: this.lead });
        return OK;
      case 'MsgTimeoutNow':
        // Leadership transfers skip pre-vote: the leader asked for this election.
        this.hup('transfer');
        return OK;
      case 'MsgReadIndex':
        if (this.lead === NONE) return dropped(DropReason.NoLeader);
        this.send({ ...m, to: this.lead });
        return OK;
      case 'MsgReadIndexResp':
        this.readStates.push({ index: m.index, context: m.context });
        return OK;
      case 'MsgHup':
      case 'MsgBeat':
      case 'MsgCheckQuorum':
      case 'MsgVote':
      case 'MsgPreVote':
      case 'MsgVoteResp':
      case 'MsgPreVoteResp':
      case 'MsgAppResp':
      case 'MsgHeartbeatResp':
      case 'MsgSnapStatus':
      case 'MsgUnreachable':
        return OK;
      default:
        return assertNever(m, 'message');
    }
  }

  // ---- follower handlers ---------------------------------------------------

  private handleAppend(m: MessageOf<'MsgApp'>): void {
    const reply = (idx: Index, reject: boolean, hint: Index, logTerm: Term): void =>
      this.send({ type: 'MsgAppResp', from: this.id, to: m.from, term: this.term, index: idx, reject, rejectHint: hint, logTerm });
    if (m.index < this.log.committed) {
      reply(this.log.committed, false, index(0), term(0));
      return;
    }
    const last = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (last !== undefined) {
      reply(last, false, index(0), term(0));
      return;
    }
    // Reject with a hint: the largest index <= min(m.index, lastIndex) whose
    // term is <= m.logTerm. The leader can jump there in one round trip.
    const hintIndex = index(Math.min(m.index, this.log.lastIndex()));
    const hint = this.log.findConflictByTerm(hintIndex, m.logTerm);
    reply(m.index, true, hint.index, hint.term);
  }

  private handleHeartbeat(m: MessageOf<'MsgHeartbeat'>): void {
    this.log.commitTo(m.commit);
    this.send({ type: 'MsgHeartbeatResp', from: this.id, to: m.from, term: this.term, context: m.context });
  }

  private handleSnapshot(m: MessageOf<'MsgSnap'>): void {
    const reply = (idx: Index): void =>
      this.send({ type: 'MsgAppResp', from: this.id, to: m.from, term: this.term, index: idx, reject: false, rejectHint: index(0), logTerm: term(0) });
    if (this.restore(m.snapshot)) reply(this.log.lastIndex());
    else reply(this.log.committed);
  }

  /** Installs a snapshot from the leader. False if it brings nothing new. */
  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    assert(this.state === StateType.Follower, 'only a follower restores a snapshot');
    const cs = s.meta.confState;
    if (!cs.voters.includes(this.id) && !cs.learners.includes(this.id)) return false;
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // We already hold the snapshot's last entry: fast-forward the commit.
      this.log.commitTo(s.meta.index);
      return false;
    }
    this.log.restore(s);
    const trk = new ProgressTracker(this.cfg.inflightMsgsMax, this.cfg.inflightBytesMax);
    trk.applyConf(cs, index(this.log.lastIndex() + 1));
    this.trk = trk;
    this.isLearner = trk.learners.has(this.id);
    return true;
  }

  // ---- membership ----------------------------------------------------------

  /** Applies a committed conf change (the application calls this when it applies the entry). */
  applyConfChange(cc: ConfChange): ConfState {
    const next = applyConfChange(this.trk.confState(), cc);
    // A change refused at proposal time never reaches the log; one that is
    // invalid here was overtaken by a snapshot and is a no-op.
    if (!next.ok) return this.trk.confState();
    return this.switchToConfig(next.confState);
  }

  private switchToConfig(cs: ConfState): ConfState {
    this.trk.applyConf(cs, index(this.log.lastIndex() + 1));
    const self = this.trk.progress.get(this.id);
    this.isLearner = self !== undefined && self.isLearner;
    if (this.state !== StateType.Leader) return cs;
    if (self === undefined || this.isLearner) {
      // A removed leader steps down; the others elect a leader among themselves.
      this.becomeFollower(this.term, NONE);
      return cs;
    }
    if (this.leadTransferee !== NONE && !this.trk.voters.has(this.leadTransferee)) this.leadTransferee = NONE;
    // The quorum may be smaller now; new members are probed.
    if (this.maybeCommit()) this.bcastAppend();
    else for (const id of this.trk.ids()) if (id !== this.id) this.maybeSendAppend(id, false);
    return cs;
  }
}

const EMPTY_CONTEXT = new Uint8Array(0);

/** ReadIndex requests a new leader holds until its first commit; past it they are dropped (RAFT_ERR_LEADER_NOT_READY). */
const READ_INDEX_PENDING_MAX = 4096;
