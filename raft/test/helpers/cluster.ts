import { decodeConfChange } from '../../src/confchange.js';
import type { StepResult } from '../../src/errors.js';
import { MemoryStorage } from '../../src/log/memory-storage.js';
import type { Message } from '../../src/message.js';
import type { ConfigInput } from '../../src/raft.js';
import { RawNode } from '../../src/raw-node.js';
import { SeededRng } from '../../src/rng.js';
import type { ConfState, HardState, NodeId } from '../../src/types.js';
import { StateType, index } from '../../src/types.js';
import { fmtMessage, fmtReady } from './format.js';

export type NodeOptions = Partial<Omit<ConfigInput, 'id' | 'storage' | 'rng'>>;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One member with its "disk" (storage) and a state machine that records applied data. */
export interface ClusterNode {
  readonly id: NodeId;
  rn: RawNode;
  readonly storage: MemoryStorage;
  /** Applied payloads (non-empty normal entries), in order. */
  applied: string[];
  appliedIndex: number;
  confState: ConfState;
}

/**
 * A deterministic in-process cluster of RawNodes driven by explicit steps
 * (process ready, deliver messages, tick), as etcd's rafttest
 * InteractionEnv. Used by the datadriven scripts and scenario tests.
 */
export class Cluster {
  readonly nodes = new Map<NodeId, ClusterNode>();
  /** Messages sent and not yet delivered, in send order. */
  inflight: Message[] = [];
  /** Directed links that drop every message ("from-to"). */
  readonly cut = new Set<string>();
  /** Output lines of the current command (datadriven). */
  out: string[] = [];
  /** ReadStates handed out by each node's Readies, in order. */
  readonly readStates: { node: NodeId; index: number; context: string }[] = [];
  /** Whether to record ready/message output lines. */
  verbose = true;

  constructor(readonly opts: NodeOptions = {}) {}

  private log(line: string): void {
    if (this.verbose) this.out.push(line);
  }

  node(id: NodeId): ClusterNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  ids(): NodeId[] {
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  /**
   * Adds `count` nodes. Without `voters`, the first call bootstraps all new
   * nodes as voters; later calls add nodes with an empty configuration that
   * wait to learn it from the leader.
   */
  addNodes(count: number, opts: NodeOptions = {}, conf?: ConfState): NodeId[] {
    const first = this.nodes.size + 1;
    const ids = Array.from({ length: count }, (_, i) => first + i);
    const cs: ConfState = conf ?? (this.nodes.size === 0 ? { voters: ids, learners: [] } : { voters: [], learners: [] });
    for (const id of ids) {
      const storage = new MemoryStorage();
      storage.bootstrap(cs);
      const n: ClusterNode = { id, rn: this.newRawNode(id, storage, opts), storage, applied: [], appliedIndex: 0, confState: cs };
      this.nodes.set(id, n);
    }
    return ids;
  }

  private newRawNode(id: NodeId, storage: MemoryStorage, opts: NodeOptions): RawNode {
    return new RawNode({
      electionTicks: 10,
      heartbeatTicks: 1,
      checkQuorum: false,
      preVote: false,
      ...this.opts,
      ...opts,
      id,
      storage,
      rng: new SeededRng(id),
    });
  }

  campaign(id: NodeId): StepResult {
    return this.node(id).rn.campaign();
  }

  propose(id: NodeId, data: string): StepResult {
    return this.node(id).rn.propose(enc.encode(data));
  }

  /** What each handled Ready asked to persist, in order (for tests of `mustSync`). */
  readonly persisted: { readonly node: NodeId; readonly entries: number; readonly hardState: HardState | undefined; readonly mustSync: boolean }[] = [];

  /** Handles one Ready of `id`: persist, send, apply, advance. */
  processReady(id: NodeId): boolean {
    const n = this.node(id);
    if (!n.rn.hasReady()) return false;
    const rd = n.rn.ready();
    this.persisted.push({ node: id, entries: rd.entries.length, hardState: rd.hardState, mustSync: rd.mustSync });
    if (this.verbose) for (const line of fmtReady(rd)) this.log(line);
    this.send(rd.earlyMessages);
    if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
    this.send(rd.messages);
    if (rd.snapshot !== undefined) {
      n.applied = JSON.parse(dec.decode(rd.snapshot.data)) as string[];
      n.appliedIndex = rd.snapshot.meta.index;
      n.confState = rd.snapshot.meta.confState;
    }
    for (const e of rd.committedEntries) {
      if (e.type === 'conf-change') {
        const cc = decodeConfChange(e.data);
        if (cc !== undefined) n.confState = n.rn.applyConfChange(cc);
      } else if (e.data.length > 0) {
        n.applied.push(dec.decode(e.data));
      }
      n.appliedIndex = e.index;
    }
    for (const rs of rd.readStates) this.readStates.push({ node: id, index: rs.index, context: dec.decode(rs.context) });
    n.rn.advance(rd);
    n.rn.raft.checkInvariants();
    return true;
  }

  private send(msgs: readonly Message[]): void {
    for (const m of msgs) if (!this.cut.has(`${m.from}-${m.to}`)) this.inflight.push(m);
  }

  /** Delivers every in-flight message addressed to `id`, except from the `drop` senders (which are lost). */
  deliver(id: NodeId, drop: readonly NodeId[] = []): number {
    const mine = this.inflight.filter((m) => m.to === id);
    this.inflight = this.inflight.filter((m) => m.to !== id);
    let n = 0;
    for (const m of mine) {
      if (drop.includes(m.from)) {
        if (this.verbose) this.log(`dropped: ${fmtMessage(m)}`);
        continue;
      }
      const node = this.nodes.get(id);
      if (node === undefined) continue;
      if (this.verbose) this.log(fmtMessage(m));
      const res = node.rn.step(m);
      if (!res.ok) this.log(`  step: ${res.reason}`);
      n++;
    }
    return n;
  }

  /** Processes readies and delivers messages until nothing changes. */
  stabilize(ids: readonly NodeId[] = this.ids()): void {
    for (let round = 0; round < 10_000; round++) {
      let progress = false;
      for (const id of ids) {
        if (this.node(id).rn.hasReady()) {
          this.log(`> ${id} handling Ready`);
          this.processReady(id);
          progress = true;
        }
      }
      for (const id of ids) {
        if (this.inflight.some((m) => m.to === id)) {
          this.log(`> ${id} receiving messages`);
          this.deliver(id);
          progress = true;
        }
      }
      if (!progress) return;
    }
    throw new Error('cluster did not stabilize');
  }

  tick(id: NodeId, n: number): void {
    for (let i = 0; i < n; i++) this.node(id).rn.tick();
  }

  /** Snapshots `id`'s applied state and compacts its log up to the applied index. */
  compact(id: NodeId): void {
    const n = this.node(id);
    const at = index(n.appliedIndex);
    const snap = n.storage.createSnapshot(at, n.confState, enc.encode(JSON.stringify(n.applied)));
    if (snap instanceof Error) throw snap;
    const err = n.storage.compact(at);
    if (err !== undefined) throw err;
  }

  /** Loses everything not persisted and restarts from storage. */
  restart(id: NodeId, opts: NodeOptions = {}): void {
    const n = this.node(id);
    this.inflight = this.inflight.filter((m) => m.to !== id);
    const snap = n.storage.snapshot();
    n.applied = snap.data.length > 0 ? (JSON.parse(dec.decode(snap.data)) as string[]) : [];
    n.appliedIndex = snap.meta.index;
    n.confState = n.storage.initialState().confState;
    n.rn = this.newRawNode(id, n.storage, opts);
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}-${other}`);
      this.cut.add(`${other}-${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  leader(): NodeId | undefined {
    for (const [id, n] of this.nodes) if (n.rn.raft.state === StateType.Leader) return id;
    return undefined;
  }

  /** Ticks every node `n` times, stabilizing after each round of ticks. */
  tickAll(n: number): void {
    for (let i = 0; i < n; i++) {
      for (const id of this.ids()) this.node(id).rn.tick();
      this.stabilize();
    }
  }
}
