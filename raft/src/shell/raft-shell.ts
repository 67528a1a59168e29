import { assert } from '../assert.js';
import { decodeConfChange } from '../confchange.js';
import type { ConfChange } from '../confchange.js';
import type { StepResult } from '../errors.js';
import type { Message } from '../message.js';
import type { Ready } from '../raw-node.js';
import type { RawNode } from '../raw-node.js';
import type { LevelStorage } from '../storage/level-storage.js';
import type { ConfState, Entry, Index, NodeId, ReadState, Snapshot, SoftState } from '../types.js';
import { index } from '../types.js';

/** The application's replicated state machine, as the shell drives it. */
export interface StateMachine {
  /** Replaces the state with a snapshot's data. */
  restore(snapshot: Snapshot): void;
  /** Applies one committed entry (conf changes included, after the shell applied them to Raft). */
  apply(entry: Entry, confState: ConfState): void;
  /**
   * Serializes the state as of the last applied entry. May answer later (a
   * state machine in another thread): the shell applies nothing meanwhile.
   */
  snapshot(): Uint8Array | Promise<Uint8Array>;
}

/**
 * Metrics hooks, named after the metrics the node exports
 * (longwire_raft_<name>_<unit>). All optional.
 */
export interface ShellMetrics {
  persistSeconds?(seconds: number, entries: number): void;
  appliedEntries?(n: number): void;
  /** How late a tick fired: event-loop lag as Raft sees it. */
  tickLagSeconds?(seconds: number): void;
  softState?(ss: SoftState): void;
  snapshotSeconds?(seconds: number): void;
}

export interface Sender {
  send(msgs: readonly Message[]): void;
}

export interface RaftShellOptions {
  readonly node: RawNode;
  readonly storage: LevelStorage;
  readonly transport: Sender;
  readonly stateMachine: StateMachine;
  /** Milliseconds per Raft tick. */
  readonly tickMs: number;
  /** Take a snapshot and compact after this many applied entries (0 = never). */
  readonly snapshotEntries: number;
  /**
   * Also once the entries applied since the last snapshot carry this many
   * bytes of data (0 = never): the log since the last compaction is held in
   * memory, and with large entries a count alone would let it reach
   * gigabytes. Default DEFAULT_SHELL.snapshotBytes.
   */
  readonly snapshotBytes?: number;
  /** Entries kept before the snapshot so that slightly slow followers need no snapshot. */
  readonly compactionKeepEntries: number;
  /** The most bytes of data those kept entries may carry. Default DEFAULT_SHELL.compactionKeepBytes. */
  readonly compactionKeepBytes?: number;
  /**
   * A group-commit window for busy times: when the last Ready persisted at
   * least `minEntries` entries, wait `ms` before taking the next one, so the
   * proposals and appends arriving meanwhile share one persist (one fsync)
   * and one message per peer. A Ready after one of fewer entries does not
   * wait, so a write on a quiet member is not delayed. Off when absent.
   */
  readonly linger?: { readonly minEntries: number; readonly ms: number };
  readonly metrics?: ShellMetrics;
  readonly onReadState?: (rs: ReadState) => void;
  readonly onConfChange?: (cc: ConfChange, cs: ConfState) => void;
  /** A storage failure: the member stops (it cannot keep its promises). */
  readonly onFatal: (err: unknown) => void;
}

export const DEFAULT_SHELL = {
  tickMs: 100,
  snapshotEntries: 10_000,
  snapshotBytes: 64 * 1024 * 1024,
  compactionKeepEntries: 1_000,
  compactionKeepBytes: 16 * 1024 * 1024,
} as const;

/**
 * The I/O loop around a RawNode: (send the leader's appends ->) persist ->
 * send -> apply -> advance, one Ready at a time. Because the core does no I/O, this loop can run on the
 * main thread or in a worker thread with its own heap (see ARCHITECTURE.md).
 */
export class RaftShell {
  private running = false;
  private again = false;
  /** Entries persisted by the last Ready (the linger's measure of load). */
  private lastPersisted = 0;
  private stopped = false;
  private ticker: ReturnType<typeof setInterval> | undefined = undefined;
  private lastTickAt = 0;
  private applied: Index;
  private snapshotIndex: Index;
  /** Bytes of entry data applied since the last snapshot (taken or restored). */
  private appliedBytes = 0;
  private confState: ConfState;
  private idle: Promise<void> = Promise.resolve();
  private snapshotRequested = false;

  constructor(private readonly o: RaftShellOptions) {
    const snap = o.storage.memory.snapshot();
    assert(o.node.status().applied === snap.meta.index, 'create the RawNode with applied = the stored snapshot index');
    this.snapshotIndex = snap.meta.index;
    this.applied = snap.meta.index;
    this.confState = o.storage.memory.initialState().confState;
    if (snap.data.length > 0) o.stateMachine.restore(snap);
  }

  start(): void {
    assert(this.ticker === undefined, 'shell started twice');
    this.lastTickAt = performance.now();
    this.ticker = setInterval(() => {
      const now = performance.now();
      this.o.metrics?.tickLagSeconds?.(Math.max(0, now - this.lastTickAt - this.o.tickMs) / 1000);
      this.lastTickAt = now;
      this.o.node.tick();
      this.kick();
    }, this.o.tickMs);
  }

  /** Stops ticking and waits for the Ready in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    await this.idle;
  }

  step(m: Message): StepResult {
    const r = this.o.node.step(m);
    this.kick();
    return r;
  }

  propose(data: Uint8Array): StepResult {
    const r = this.o.node.propose(data);
    this.kick();
    return r;
  }

  /** Several proposals as one (RawNode.proposeBatch): all appended or all dropped. */
  proposeBatch(data: readonly Uint8Array[]): StepResult {
    const r = this.o.node.proposeBatch(data);
    this.kick();
    return r;
  }

  proposeConfChange(cc: ConfChange): StepResult {
    const r = this.o.node.proposeConfChange(cc);
    this.kick();
    return r;
  }

  readIndex(ctx: Uint8Array): StepResult {
    const r = this.o.node.readIndex(ctx);
    this.kick();
    return r;
  }

  transferLeader(to: NodeId): StepResult {
    const r = this.o.node.transferLeader(to);
    this.kick();
    return r;
  }

  campaign(): StepResult {
    const r = this.o.node.campaign();
    this.kick();
    return r;
  }

  /** The connection to `id` closed (RawNode.reportDisconnected). */
  reportDisconnected(id: NodeId): void {
    this.o.node.reportDisconnected(id);
    this.kick();
  }

  /**
   * Takes a snapshot once the Ready in progress (or the next one) is applied,
   * whatever snapshotEntries says. Call it when a conf change is applied: a
   * joining member is refused a snapshot whose configuration lacks it.
   */
  requestSnapshot(): void {
    this.snapshotRequested = true;
  }

  appliedIndex(): Index {
    return this.applied;
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.idle = this.loop()
      .catch((err: unknown) => {
        this.stopped = true;
        if (this.ticker !== undefined) clearInterval(this.ticker);
        this.o.onFatal(err);
      })
      .finally(() => {
        this.running = false;
      });
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      while (!this.stopped && this.o.node.hasReady()) {
        const linger = this.o.linger;
        if (linger !== undefined && this.lastPersisted >= linger.minEntries) await new Promise((r) => setTimeout(r, linger.ms));
        if (this.stopped) return;
        const rd = this.o.node.ready();
        this.lastPersisted = rd.entries.length;
        await this.handle(rd);
      }
    } while (this.again && !this.stopped);
  }

  private async handle(rd: Ready): Promise<void> {
    const o = this.o;
    if (rd.softState !== undefined) o.metrics?.softState?.(rd.softState);
    // 0. The leader's appends go out while it writes the same entries
    // (thesis §10.2.1); they must be of a term that is already durable.
    if (rd.earlyMessages.length > 0) {
      const durableTerm = o.storage.memory.initialState().hardState.term;
      for (const m of rd.earlyMessages) assert(m.type === 'MsgApp' && m.term === durableTerm, `${m.type} of term ${m.term} sent before term ${durableTerm} is durable`);
      o.transport.send(rd.earlyMessages);
    }
    // 1. Persist.
    const t0 = performance.now();
    await o.storage.save(rd);
    o.metrics?.persistSeconds?.((performance.now() - t0) / 1000, rd.entries.length);
    // 2. Send, after checking that no ack claims more than is durable.
    const durable = o.storage.memory.lastIndex();
    for (const m of rd.messages) {
      if (m.type === 'MsgAppResp' && !m.reject) assert(m.index <= durable, `MsgAppResp claims ${m.index} but only ${durable} is durable`);
    }
    o.transport.send(rd.messages);
    // 3. Apply (only what is durable here: a snapshot compacts up to the applied index).
    if (rd.snapshot !== undefined) {
      o.stateMachine.restore(rd.snapshot);
      this.applied = rd.snapshot.meta.index;
      this.snapshotIndex = rd.snapshot.meta.index;
      this.appliedBytes = 0;
      this.confState = rd.snapshot.meta.confState;
    }
    for (const e of rd.committedEntries) {
      assert(e.index <= durable, `entry ${e.index} applied but only ${durable} is durable`);
      if (e.type === 'conf-change') {
        const cc = decodeConfChange(e.data);
        assert(cc !== undefined, `undecodable conf change at ${e.index}`);
        this.confState = o.node.applyConfChange(cc);
        o.onConfChange?.(cc, this.confState);
      }
      o.stateMachine.apply(e, this.confState);
      this.applied = e.index;
      this.appliedBytes += e.data.length;
    }
    if (rd.committedEntries.length > 0) o.metrics?.appliedEntries?.(rd.committedEntries.length);
    for (const rs of rd.readStates) o.onReadState?.(rs);
    // 4. Advance.
    o.node.advance(rd);
    await this.maybeSnapshot();
  }

  private async maybeSnapshot(): Promise<void> {
    const o = this.o;
    const snapshotBytes = o.snapshotBytes ?? DEFAULT_SHELL.snapshotBytes;
    const due =
      this.snapshotRequested ||
      (o.snapshotEntries > 0 && this.applied - this.snapshotIndex >= o.snapshotEntries) ||
      (snapshotBytes > 0 && this.appliedBytes >= snapshotBytes);
    if (!due || this.applied <= this.snapshotIndex) return;
    this.snapshotRequested = false;
    const t0 = performance.now();
    const at = this.applied;
    const data = await o.stateMachine.snapshot();
    await o.storage.snapshotAndCompact(at, this.confState, data, this.compactTo(at));
    this.snapshotIndex = at;
    this.appliedBytes = 0;
    o.metrics?.snapshotSeconds?.((performance.now() - t0) / 1000);
  }

  /**
   * Where to compact behind a snapshot at `at`: keep at most
   * compactionKeepEntries entries and at most compactionKeepBytes of their
   * data. Walks back from `at`, so it reads only the entries it keeps (and
   * the first one it drops).
   */
  private compactTo(at: Index): Index {
    const mem = this.o.storage.memory;
    const keepBytes = this.o.compactionKeepBytes ?? DEFAULT_SHELL.compactionKeepBytes;
    // Below firstIndex the entries are gone already: compacting there is a no-op.
    const floor = Math.max(0, at - this.o.compactionKeepEntries, mem.firstIndex() - 1);
    let to = at;
    for (let bytes = 0; to > floor; to--) {
      const e = mem.entries(index(to), index(to + 1), Infinity)[0];
      assert(e !== undefined, `entry ${to} missing below the snapshot`);
      bytes += e.data.length;
      if (bytes > keepBytes) break;
    }
    return index(to);
  }
}
