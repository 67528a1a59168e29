import { assert } from './assert.js';
import type { ConfChange } from './confchange.js';
import { encodeConfChange } from './confchange.js';
import { DropReason, dropped } from './errors.js';
import type { StepResult } from './errors.js';
import { isLocalMessage } from './message.js';
import type { Message } from './message.js';
import { Raft } from './raft.js';
import type { ConfigInput } from './raft.js';
import type { ProgressState } from './tracker/progress.js';
import type { ConfState, Entry, HardState, Index, NodeId, ReadState, Snapshot, SoftState, StateType, Term } from './types.js';
import { EntryType, hardStateEqual, index, term } from './types.js';

/**
 * Everything the node produced since the last advance(). The shell must
 * handle a Ready in this order, then call advance(ready):
 *
 * 0. Send `earlyMessages` (empty unless leaderSendsBeforePersist): they
 *    promise nothing about this Ready's writes.
 * 1. Persist `hardState` (if present), `entries` (replacing any stored
 *    suffix from entries[0].index on) and `snapshot` (if present), durably
 *    when `mustSync` is true. They belong in one atomic write.
 * 2. Only then send `messages`. A message may promise that the entries
 *    above are durable (a MsgAppResp, a vote); sending first breaks Raft's
 *    safety on a crash.
 * 3. Apply `snapshot` and then `committedEntries` to the state machine, in
 *    order. A conf change entry must be passed to applyConfChange().
 * 4. Serve `readStates` once the applied index reaches their index.
 */
export interface Ready {
  /** Present when leader or role changed. */
  readonly softState: SoftState | undefined;
  /** Present when term, vote or commit changed. */
  readonly hardState: HardState | undefined;
  readonly readStates: readonly ReadState[];
  /** Entries to persist before sending messages. */
  readonly entries: readonly Entry[];
  /** A snapshot to persist and apply (undefined if none). */
  readonly snapshot: Snapshot | undefined;
  /** Entries to apply; they may overlap `entries` (committed by a quorum elsewhere). */
  readonly committedEntries: readonly Entry[];
  /**
   * Messages that may go out before the write of step 1: the leader's
   * appends of a term already durable (thesis §10.2.1). A crash before the
   * write loses the leader's copy only; it did not count itself for them.
   */
  readonly earlyMessages: readonly Message[];
  /** Messages to send after persisting. */
  readonly messages: readonly Message[];
  /** Whether the write in step 1 must be fsynced (term, vote or entries changed). */
  readonly mustSync: boolean;
}

export interface Status {
  readonly id: NodeId;
  readonly term: Term;
  readonly vote: NodeId;
  readonly commit: Index;
  readonly applied: Index;
  readonly lead: NodeId;
  readonly state: StateType;
  readonly leadTransferee: NodeId;
  /** Leader only: each member's replication progress. */
  readonly progress: ReadonlyMap<NodeId, { readonly match: Index; readonly next: Index; readonly state: ProgressState }>;
  readonly confState: ConfState;
}

/**
 * The application's handle on one Raft member: synchronous, deterministic,
 * no I/O. Drive it with tick() and step(); collect output with ready().
 */
export class RawNode {
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  /** Set between ready() and advance(). */
  private inReady = false;

  constructor(cfg: ConfigInput) {
    this.raft = new Raft(cfg);
    this.prevSoft = this.raft.softState();
    this.prevHard = this.raft.hardState();
  }

  /** Advances logical time by one tick (election and heartbeat timers). */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (pre-vote first if enabled). */
  campaign(): StepResult {
    return this.raft.step({ type: 'MsgHup', from: this.raft.id, to: this.raft.id, term: term(0) });
  }

  /** Proposes data for the log. On a follower it is forwarded to the leader. */
  propose(data: Uint8Array): StepResult {
    return this.proposeEntry(EntryType.Normal, data);
  }

  /**
   * Proposes several normal entries as one MsgProp: appended together (or all
   * dropped), and replicated in one append per follower rather than one each.
   */
  proposeBatch(data: readonly Uint8Array[]): StepResult {
    const entries = data.map((d): Entry => ({ term: term(0), index: index(0), type: EntryType.Normal, data: d }));
    return this.raft.step({ type: 'MsgProp', from: this.raft.id, to: this.raft.id, term: term(0), entries });
  }

  /** Proposes a membership change; apply it with applyConfChange() once committed. */
  proposeConfChange(cc: ConfChange): StepResult {
    return this.proposeEntry(EntryType.ConfChange, encodeConfChange(cc));
  }

  private proposeEntry(type: EntryType, data: Uint8Array): StepResult {
    const e: Entry = { term: term(0), index: index(0), type, data };
    return this.raft.step({ type: 'MsgProp', from: this.raft.id, to: this.raft.id, term: term(0), entries: [e] });
  }

  /** Applies a committed conf change entry's change; returns the new configuration. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** Feeds a message from the network. Local message types are refused. */
  step(m: Message): StepResult {
    if (isLocalMessage(m.type)) return dropped(DropReason.LocalMessage);
    return this.raft.step(m);
  }

  /** Asks the leader to hand leadership to `transferee` (a voter). */
  transferLeader(transferee: NodeId): StepResult {
    return this.raft.step({ type: 'MsgTransferLeader', from: transferee, to: this.raft.id, term: term(0) });
  }

  /**
   * Requests a linearizable read. The answer arrives as a ReadState with the
   * same context in a later Ready. Contexts must be unique per request. A
   * request can go unanswered (leader change, lost message): time it out and
   * retry with a new context.
   */
  readIndex(context: Uint8Array): StepResult {
    return this.raft.step({ type: 'MsgReadIndex', from: this.raft.id, to: this.raft.id, term: term(0), context });
  }

  /** The shell could not reach `id`: the leader stops pipelining to it. */
  reportUnreachable(id: NodeId): void {
    this.raft.step({ type: 'MsgUnreachable', from: id, to: this.raft.id, term: term(0) });
  }

  /** The shell's connection to `id` closed: a follower whose leader that was stops waiting out its lease (Raft.peerDisconnected). */
  reportDisconnected(id: NodeId): void {
    this.raft.peerDisconnected(id);
  }

  /** The shell finished (ok) or failed sending a snapshot to `id`. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step({ type: 'MsgSnapStatus', from: id, to: this.raft.id, term: term(0), reject: !ok });
  }

  hasReady(): boolean {
    const r = this.raft;
    const ss = r.softState();
    if (ss.lead !== this.prevSoft.lead || ss.state !== this.prevSoft.state) return true;
    if (!hardStateEqual(r.hardState(), this.prevHard)) return true;
    if (r.log.unstableSnapshot() !== undefined) return true;
    return r.msgs.length > 0 || r.log.unstableEntries().length > 0 || r.readStates.length > 0 || r.log.hasNextCommittedEntries();
  }

  /** Collects output; the caller must call advance(ready) before the next ready(). */
  ready(): Ready {
    assert(!this.inReady, 'ready() called twice without advance()');
    this.inReady = true;
    const r = this.raft;
    const ss = r.softState();
    const hs = r.hardState();
    const softChanged = ss.lead !== this.prevSoft.lead || ss.state !== this.prevSoft.state;
    const hardChanged = !hardStateEqual(hs, this.prevHard);
    const entries = [...r.log.unstableEntries()];
    // prevHard is the last hard state handed out, durable since its advance().
    const early = r.cfg.leaderSendsBeforePersist ? splitEarly(r.msgs, this.prevHard.term) : { early: NO_MESSAGES, late: r.msgs };
    const rd: Ready = {
      softState: softChanged ? ss : undefined,
      hardState: hardChanged ? hs : undefined,
      readStates: r.readStates,
      entries,
      snapshot: r.log.unstableSnapshot(),
      committedEntries: r.log.nextCommittedEntries(),
      earlyMessages: early.early,
      messages: early.late,
      mustSync: entries.length > 0 || hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote,
    };
    r.msgs = [];
    r.readStates = [];
    if (softChanged) this.prevSoft = ss;
    if (hardChanged) this.prevHard = hs;
    return rd;
  }

  /** Tells the node that `rd` was persisted, sent and applied. */
  advance(rd: Ready): void {
    assert(this.inReady, 'advance() without ready()');
    this.inReady = false;
    const log = this.raft.log;
    const last = rd.entries[rd.entries.length - 1];
    if (last !== undefined) log.stableTo(last.index, last.term);
    if (rd.snapshot !== undefined) {
      log.stableSnapTo(rd.snapshot.meta.index);
      log.appliedTo(rd.snapshot.meta.index);
    }
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied !== undefined) {
      log.appliedTo(lastApplied.index);
      this.raft.reduceUncommittedBytes(rd.committedEntries);
    }
    this.raft.persisted();
  }

  status(): Status {
    const r = this.raft;
    const progress = new Map<NodeId, { match: Index; next: Index; state: ProgressState }>();
    if (r.state === 'leader') {
      for (const [id, pr] of r.trk.progress) progress.set(id, { match: pr.match, next: pr.next, state: pr.state });
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      lead: r.lead,
      state: r.state,
      leadTransferee: r.leadTransferee,
      progress,
      confState: r.trk.confState(),
    };
  }
}

const NO_MESSAGES: readonly Message[] = [];

/**
 * The leader's MsgApps of `durableTerm` go early; everything else (votes and
 * their answers, acks, anything of a term not yet durable) waits for the write.
 */
function splitEarly(msgs: readonly Message[], durableTerm: Term): { early: readonly Message[]; late: readonly Message[] } {
  let early: Message[] | undefined;
  let late: Message[] | undefined;
  for (const m of msgs) {
    if (m.type === 'MsgApp' && m.term === durableTerm) (early ??= []).push(m);
    else (late ??= []).push(m);
  }
  return { early: early ?? NO_MESSAGES, late: late ?? NO_MESSAGES };
}
