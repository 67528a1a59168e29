import { decodeConfChange } from '../../src/confchange.js';
import type { ConfChange } from '../../src/confchange.js';
import { MemoryStorage } from '../../src/log/memory-storage.js';
import type { Message } from '../../src/message.js';
import { RawNode } from '../../src/raw-node.js';
import type { Ready } from '../../src/raw-node.js';
import { SeededRng } from '../../src/rng.js';
import type { ConfState, Entry, NodeId, Snapshot } from '../../src/types.js';
import { StateType, index, term } from '../../src/types.js';
import { fmtMessage } from '../helpers/format.js';
import type { NetworkFaults } from './network.js';
import { SimNetwork } from './network.js';

/** Everything a seed decides about a run; printed on failure. */
export interface SimSettings extends NetworkFaults {
  readonly seed: number;
  readonly initialVoters: number;
  /** Nodes that exist from the start but join only through conf changes. */
  readonly spareNodes: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly appendBytesMax: number;
  readonly inflightMsgsMax: number;
  readonly inflightBytesMax: number;
  readonly committedBytesMax: number;
  readonly uncommittedBytesMax: number;
  /** Per tick probabilities of each fault or client action. */
  readonly crashRate: number;
  /** Crashes aimed at the current leader (Figure 8 needs leaders to die mid-replication). */
  readonly leaderCrashRate: number;
  readonly restartRate: number;
  readonly partitionRate: number;
  readonly healRate: number;
  readonly proposeRate: number;
  readonly confChangeRate: number;
  readonly transferRate: number;
  readonly compactRate: number;
  readonly readRate: number;
  /** Crash between persisting a Ready and sending its messages. */
  readonly crashMidReadyRate: number;
  /** The leader sends its appends before persisting its entries (Config.leaderSendsBeforePersist). */
  readonly leaderSendsBeforePersist: boolean;
  /** Per step: a Ready's write is still in progress (messages keep arriving meanwhile). */
  readonly persistDelayRate: number;
  /** Crash after sending a Ready's early messages, before persisting it. */
  readonly crashBeforePersistRate: number;
  /** Ticks of the fault phase. */
  readonly safetyTicks: number;
  /** Ticks allowed to commit a new entry once the faults stop. */
  readonly livenessTicksMax: number;
}

export function settingsFor(seed: number, safetyTicks = 300): SimSettings {
  const r = new SeededRng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[r.intn(xs.length)]!;
  return {
    seed,
    initialVoters: pick([1, 3, 3, 5]),
    spareNodes: pick([0, 1, 2]),
    preVote: r.float() < 0.5,
    checkQuorum: r.float() < 0.5,
    appendBytesMax: pick([1, 64, 1024 * 1024]),
    inflightMsgsMax: pick([1, 2, 8, 256]),
    inflightBytesMax: pick([0, 0, 100, 4096]),
    committedBytesMax: pick([1, 64, 16 * 1024 * 1024]),
    uncommittedBytesMax: pick([0, 64, 4096]),
    dropRate: pick([0, 0.02, 0.1, 0.3]),
    duplicateRate: pick([0, 0.05, 0.2]),
    delayTicksMax: pick([1, 2, 5, 10]),
    crashRate: pick([0, 0.005, 0.02, 0.08]),
    leaderCrashRate: pick([0, 0, 0.02, 0.1]),
    restartRate: pick([0.05, 0.2, 0.5]),
    partitionRate: pick([0, 0.005, 0.02, 0.08]),
    healRate: pick([0.02, 0.1]),
    proposeRate: pick([0.1, 0.3, 0.8]),
    confChangeRate: pick([0, 0.01, 0.03]),
    transferRate: pick([0, 0.01]),
    compactRate: pick([0, 0.02, 0.1]),
    readRate: pick([0, 0.05]),
    crashMidReadyRate: pick([0, 0.002]),
    leaderSendsBeforePersist: r.float() < 0.75,
    persistDelayRate: pick([0, 0.3, 0.7]),
    crashBeforePersistRate: pick([0, 0.005, 0.02]),
    safetyTicks,
    livenessTicksMax: 400,
  };
}

export class SimFailure extends Error {
  override readonly name = 'SimFailure';
}

/** The replicated state machine: a hash chain over applied entries. */
interface AppState {
  index: number;
  hash: number;
}

interface SimNode {
  readonly id: NodeId;
  /** The "disk": survives crashes. */
  readonly storage: MemoryStorage;
  rn: RawNode | undefined;
  app: AppState;
  confState: ConfState;
  /** While leader: the term and the last index, to check append-only. */
  leaderTerm: number;
  leaderLast: number;
  /** Persisted commit index; never decreases. */
  commit: number;
  /** Read requests in flight: context -> highest applied index anywhere when asked. */
  readonly reads: Map<string, number>;
  /** A Ready whose write is in progress: its early messages are out, the rest waits. A crash loses it. */
  writing: Ready | undefined;
}

const ELECTION_TICKS = 10;
const enc = new TextEncoder();

function mix(h: number, x: number): number {
  let v = (h ^ x) >>> 0;
  v = Math.imul(v, 0x01000193) >>> 0;
  return (v ^ (v >>> 15)) >>> 0;
}

function applyEntry(s: AppState, e: Entry): AppState {
  let h = mix(s.hash, e.index);
  h = mix(h, e.term);
  for (const b of e.data) h = mix(h, b);
  return { index: e.index, hash: h };
}

function encodeApp(s: AppState): Uint8Array {
  return enc.encode(JSON.stringify(s));
}

function decodeApp(d: Uint8Array): AppState {
  const v = JSON.parse(new TextDecoder().decode(d)) as { index: number; hash: number };
  return { index: v.index, hash: v.hash };
}

/**
 * A seeded in-process cluster (after TigerBeetle's VOPR): a safety phase
 * with faults, then a healed liveness phase. After every step it checks
 * election safety, log matching, leader completeness, leader append-only
 * and state machine safety, and that ReadIndex answers are linearizable.
 */
export class Simulator {
  readonly rng: SeededRng;
  readonly net: SimNetwork;
  readonly nodes = new Map<NodeId, SimNode>();
  now = 0;
  private nextData = 0;
  private nextRead = 0;
  /** Term -> the leader elected in it (election safety). */
  private readonly leaders = new Map<number, NodeId>();
  /** "index/term" -> [term of index-1, payload hash] (log matching). */
  private readonly entriesSeen = new Map<string, string>();
  /** Index -> state hash after applying it (state machine safety). */
  private readonly appliedHash = new Map<number, number>();
  /** Index -> term of every entry applied anywhere (leader completeness). */
  private readonly committedTerm = new Map<number, number>();
  private maxApplied = 0;
  /** False in the liveness phase. */
  private faultsOn = true;
  /** Ids removed from the group: never re-added (ids are not reused). */
  private readonly removed = new Set<NodeId>();
  readonly trace: string[] = [];
  stats = { proposals: 0, applied: 0, elections: 0, crashes: 0, snapshots: 0, confChanges: 0, reads: 0 };

  constructor(
    readonly s: SimSettings,
    readonly tracing = false,
  ) {
    this.rng = new SeededRng(s.seed ^ 0x5eed);
    this.net = new SimNetwork(new SeededRng(s.seed ^ 0x7e7), s, (m) => {
      // The transport tells the leader that a snapshot did not arrive.
      if (m.type === 'MsgSnap') this.nodes.get(m.from)?.rn?.reportSnapshot(m.to, false);
    });
    const voters = Array.from({ length: s.initialVoters }, (_, i) => i + 1);
    const cs: ConfState = { voters, learners: [] };
    for (let id = 1; id <= s.initialVoters + s.spareNodes; id++) {
      const storage = new MemoryStorage();
      let app: AppState = { index: 0, hash: 0 };
      if (id <= s.initialVoters) {
        // The group starts from a snapshot at index 1, so a joining node
        // learns the membership from a snapshot too.
        app = { index: 1, hash: 1 };
        const snap: Snapshot = { meta: { index: index(1), term: term(1), confState: cs }, data: encodeApp(app) };
        storage.applySnapshot(snap);
        storage.setHardState({ term: term(1), vote: 0, commit: index(1) });
      }
      const n: SimNode = {
        id,
        storage,
        rn: undefined,
        app,
        confState: storage.snapshot().meta.confState,
        leaderTerm: 0,
        leaderLast: 0,
        commit: app.index,
        reads: new Map(),
        writing: undefined,
      };
      this.nodes.set(id, n);
      this.start(n);
    }
    this.appliedHash.set(1, 1);
    this.committedTerm.set(1, 1);
  }

  private log(line: string): void {
    if (this.tracing) this.trace.push(`t=${this.now} ${line}`);
  }

  private fail(msg: string): never {
    throw new SimFailure(`t=${this.now}: ${msg}`);
  }

  private start(n: SimNode): void {
    const snap = n.storage.snapshot();
    n.app = snap.data.length > 0 ? decodeApp(snap.data) : { index: 0, hash: 0 };
    n.confState = snap.meta.confState;
    n.leaderTerm = 0;
    n.reads.clear();
    n.writing = undefined;
    n.rn = new RawNode({
      id: n.id,
      storage: n.storage,
      // Drawn from the run's generator: two members with equal seeds draw the
      // same election timeouts and can split the vote forever (seed 219467
      // once derived seeds from id + restart time, and 1 + 299 == 2 + 298).
      rng: new SeededRng(this.rng.next()),
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: 1,
      preVote: this.s.preVote,
      checkQuorum: this.s.checkQuorum,
      appendBytesMax: this.s.appendBytesMax,
      inflightMsgsMax: this.s.inflightMsgsMax,
      inflightBytesMax: this.s.inflightBytesMax,
      committedBytesMax: this.s.committedBytesMax,
      uncommittedBytesMax: this.s.uncommittedBytesMax,
      leaderSendsBeforePersist: this.s.leaderSendsBeforePersist,
      // The state machine restarts from the snapshot, which may be past the
      // first stored entry (compaction keeps a few entries before it).
      applied: snap.meta.index,
    });
  }

  private crash(n: SimNode): void {
    if (n.rn === undefined) return;
    this.log(`crash ${n.id}`);
    this.stats.crashes++;
    n.rn = undefined;
    n.writing = undefined;
    this.net.dropTo(n.id);
  }

  up(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.rn !== undefined);
  }

  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.up()) {
      const r = n.rn!.raft;
      if (r.state === StateType.Leader && (best === undefined || r.term > best.rn!.raft.term)) best = n;
    }
    return best;
  }

  // ---- the Ready loop -------------------------------------------------------

  /**
   * Takes a Ready and sends its early messages; its write then finishes now
   * or in a later step (persistDelayRate), while messages keep arriving and
   * ticks keep firing, as in the shell awaiting its fsync.
   */
  private handleReady(n: SimNode): void {
    const rn = n.rn!;
    if (n.writing === undefined) {
      if (!rn.hasReady()) return;
      const rd = rn.ready();
      this.checkReady(n, rd);
      for (const m of rd.earlyMessages) {
        if (m.type !== 'MsgApp' || m.term !== n.storage.initialState().hardState.term) this.fail(`node ${n.id} sends ${m.type} of term ${m.term} before its term is durable`);
        this.net.send(m, this.now);
      }
      n.writing = rd;
      if (rd.earlyMessages.length > 0 && this.faultsOn && this.rng.float() < this.s.crashBeforePersistRate) {
        this.log(`crash ${n.id} after sending appends, before persisting`);
        this.crash(n);
        return;
      }
    }
    if (this.rng.float() < this.s.persistDelayRate) return;
    const rd = n.writing;
    n.writing = undefined;
    this.finishReady(n, rd);
  }

  private finishReady(n: SimNode, rd: Ready): void {
    const rn = n.rn!;
    // 1. persist
    if (rd.snapshot !== undefined) {
      const err = n.storage.applySnapshot(rd.snapshot);
      if (err !== undefined) this.fail(`node ${n.id} could not persist snapshot: ${err.message}`);
    }
    n.storage.append(rd.entries);
    this.checkLogMatching(n, rd);
    if (rd.hardState !== undefined) {
      if (rd.hardState.commit < n.commit) this.fail(`node ${n.id} commit went back from ${n.commit} to ${rd.hardState.commit}`);
      n.commit = rd.hardState.commit;
      n.storage.setHardState(rd.hardState);
    }
    if (this.faultsOn && this.rng.float() < this.s.crashMidReadyRate) {
      this.log(`crash ${n.id} after persisting, before sending`);
      this.crash(n);
      return;
    }
    // 2. send
    for (const m of rd.messages) {
      if (m.type === 'MsgSnap') this.stats.snapshots++;
      this.net.send(m, this.now);
    }
    // 3. apply
    if (rd.snapshot !== undefined) {
      const app = decodeApp(rd.snapshot.data);
      this.checkApplied(n, app);
      n.app = app;
      n.confState = rd.snapshot.meta.confState;
      this.log(`node ${n.id} installed snapshot at ${app.index}`);
    }
    for (const e of rd.committedEntries) {
      if (e.index > n.storage.lastIndex()) this.fail(`node ${n.id} applies ${e.index} before it is durable (last ${n.storage.lastIndex()})`);
      if (e.index !== n.app.index + 1) this.fail(`node ${n.id} applies ${e.index} after ${n.app.index}`);
      const app = applyEntry(n.app, e);
      this.checkApplied(n, app);
      const seenTerm = this.committedTerm.get(e.index);
      if (seenTerm !== undefined && seenTerm !== e.term) this.fail(`state machine safety: index ${e.index} applied with term ${e.term} and ${seenTerm}`);
      this.committedTerm.set(e.index, e.term);
      n.app = app;
      this.stats.applied++;
      if (e.type === 'conf-change') {
        const cc = decodeConfChange(e.data);
        if (cc === undefined) this.fail(`undecodable conf change at ${e.index}`);
        n.confState = rn.applyConfChange(cc);
        if (cc.type === 'remove-node') this.removed.add(cc.nodeId);
        this.log(`node ${n.id} applied conf change ${cc.type} ${cc.nodeId} -> voters=(${n.confState.voters.join(',')}) learners=(${n.confState.learners.join(',')})`);
      }
    }
    this.maxApplied = Math.max(this.maxApplied, n.app.index);
    for (const rs of rd.readStates) {
      const key = new TextDecoder().decode(rs.context);
      const floor = n.reads.get(key);
      if (floor === undefined) continue;
      n.reads.delete(key);
      if (rs.index < floor) this.fail(`linearizable read: node ${n.id} read ${key} at index ${rs.index} < ${floor} applied before the request`);
    }
    rn.advance(rd);
    rn.raft.checkInvariants();
  }

  private checkApplied(n: SimNode, app: AppState): void {
    const h = this.appliedHash.get(app.index);
    if (h === undefined) this.appliedHash.set(app.index, app.hash);
    else if (h !== app.hash) this.fail(`state machine safety: node ${n.id} state at ${app.index} differs (${app.hash} vs ${h})`);
  }

  private checkReady(n: SimNode, rd: Ready): void {
    const r = n.rn!.raft;
    // Election safety: one leader per term.
    if (r.state === StateType.Leader) {
      const prev = this.leaders.get(r.term);
      if (prev === undefined) {
        this.leaders.set(r.term, n.id);
        this.stats.elections++;
        this.log(`node ${n.id} leader of term ${r.term} last=${r.log.lastIndex()}`);
        this.checkLeaderCompleteness(n);
      } else if (prev !== n.id) {
        this.fail(`election safety: nodes ${prev} and ${n.id} both lead term ${r.term}`);
      }
      if (n.leaderTerm !== r.term) {
        n.leaderTerm = r.term;
        n.leaderLast = r.log.lastIndex() - rd.entries.length;
      }
      // Leader append-only: it only appends after its last index.
      const first = rd.entries[0];
      if (first !== undefined && first.index !== n.leaderLast + 1) {
        this.fail(`leader append-only: leader ${n.id} of term ${r.term} writes at ${first.index}, its log ended at ${n.leaderLast}`);
      }
      n.leaderLast = r.log.lastIndex();
    }
  }

  /**
   * Log matching: the same (index, term) always has the same payload and
   * predecessor term, among entries once durable (checked after each write:
   * a write lost in a crash let nothing of it out, not even its term).
   */
  private checkLogMatching(n: SimNode, rd: Ready): void {
    const st = n.storage;
    for (const e of rd.entries) {
      const prevTerm = e.index - 1 >= st.firstIndex() - 1 ? st.term(index(e.index - 1)) : -1;
      let h = 0;
      for (const b of e.data) h = mix(h, b);
      const v = `${e.type}:${h}`;
      const key = `${e.index}/${e.term}`;
      const seen = this.entriesSeen.get(key);
      if (seen === undefined) {
        this.entriesSeen.set(key, `${prevTerm}|${v}`);
      } else {
        const [seenPrev, seenV] = seen.split('|');
        if (seenV !== v) this.fail(`log matching: entry ${key} differs between nodes (node ${n.id})`);
        if (prevTerm >= 0 && seenPrev !== '-1' && Number(seenPrev) !== prevTerm) {
          this.fail(`log matching: entry ${key} follows term ${prevTerm} on node ${n.id}, ${seenPrev} elsewhere`);
        }
      }
    }
  }

  /** Every entry applied anywhere from a term below the leader's is in the leader's log. */
  private checkLeaderCompleteness(n: SimNode): void {
    const r = n.rn!.raft;
    const first = r.log.firstIndex();
    for (const [i, t] of this.committedTerm) {
      if (t >= r.term || i < first) continue;
      const got = r.log.term(index(i));
      if (got !== t) this.fail(`leader completeness: leader ${n.id} of term ${r.term} lacks committed entry ${i}/${t} (has ${got ?? 'none'})`);
    }
  }

  // ---- one step --------------------------------------------------------------

  private deliver(m: Message): void {
    const n = this.nodes.get(m.to);
    if (n === undefined || n.rn === undefined) {
      if (m.type === 'MsgSnap') this.nodes.get(m.from)?.rn?.reportSnapshot(m.to, false);
      return;
    }
    // A removed member does not know it was removed and, without PreVote and
    // CheckQuorum, its elections would disrupt the group forever (thesis
    // §4.2.3). Like etcd's server, the transport refuses removed members.
    if (this.removed.has(m.from)) return;
    if (this.tracing) this.log(`deliver ${fmtMessage(m)}`);
    n.rn.step(m);
    // The shell reports a snapshot as sent once it arrived.
    if (m.type === 'MsgSnap') {
      const from = this.nodes.get(m.from);
      from?.rn?.reportSnapshot(m.to, true);
    }
  }

  private step(): void {
    this.now++;
    for (const n of this.up()) n.rn!.tick();
    for (const n of this.up()) this.handleReady(n);
    for (const m of this.net.due(this.now)) this.deliver(m);
    for (const n of this.up()) this.handleReady(n);
    if (this.faultsOn) this.injectFaults();
    this.clientActions();
  }

  private injectFaults(): void {
    const s = this.s;
    const all = [...this.nodes.keys()];
    if (this.rng.float() < s.crashRate) {
      const up = this.up();
      if (up.length > 0) this.crash(up[this.rng.intn(up.length)]!);
    }
    if (this.rng.float() < s.leaderCrashRate) {
      const lead = this.leader();
      if (lead !== undefined) this.crash(lead);
    }
    for (const n of this.nodes.values()) {
      if (n.rn === undefined && this.rng.float() < s.restartRate) {
        this.log(`restart ${n.id}`);
        this.start(n);
      }
    }
    if (this.rng.float() < s.partitionRate) {
      const side = all.filter(() => this.rng.float() < 0.5);
      this.log(`partition (${side.join(',')}) | rest`);
      this.net.partition(side, all);
    }
    if (this.rng.float() < s.healRate) this.net.heal();
  }

  private clientActions(): void {
    const s = this.s;
    const up = this.up();
    if (up.length === 0) return;
    if (this.faultsOn && this.rng.float() < s.proposeRate) {
      const n = up[this.rng.intn(up.length)]!;
      const data = `v${this.nextData++}`;
      const res = n.rn!.propose(enc.encode(data));
      if (res.ok) this.stats.proposals++;
    }
    if (this.rng.float() < s.compactRate) {
      const n = up[this.rng.intn(up.length)]!;
      this.compact(n);
    }
    if (this.rng.float() < s.readRate) {
      const n = up[this.rng.intn(up.length)]!;
      const key = `r${this.nextRead++}`;
      if (n.rn!.readIndex(enc.encode(key)).ok) {
        n.reads.set(key, this.maxApplied);
        this.stats.reads++;
      }
    }
    const lead = this.leader();
    if (lead === undefined) return;
    if (this.rng.float() < s.confChangeRate) {
      const cc = this.pickConfChange(lead.confState);
      if (cc !== undefined && lead.rn!.proposeConfChange(cc).ok) {
        this.stats.confChanges++;
        this.log(`propose conf change ${cc.type} ${cc.nodeId} on leader ${lead.id}`);
      }
    }
    if (this.rng.float() < s.transferRate) {
      const voters = lead.confState.voters.filter((v) => v !== lead.id);
      const to = voters[this.rng.intn(Math.max(1, voters.length))];
      if (to !== undefined) {
        this.log(`transfer leadership ${lead.id} -> ${to}`);
        lead.rn!.transferLeader(to);
      }
    }
  }

  private pickConfChange(cs: ConfState): ConfChange | undefined {
    const members = new Set([...cs.voters, ...cs.learners]);
    const candidates = [...this.nodes.keys()].filter((id) => !members.has(id) && !this.removed.has(id));
    const choice = this.rng.intn(3);
    if (choice === 0 && candidates.length > 0) return { type: 'add-learner', nodeId: candidates[0]! };
    if (choice === 1 && cs.learners.length > 0) return { type: 'add-node', nodeId: cs.learners[0]! };
    if (choice === 2 && cs.voters.length > 3) return { type: 'remove-node', nodeId: cs.voters[this.rng.intn(cs.voters.length)]! };
    return undefined;
  }

  /** Snapshots the node's applied state and drops part of its log. */
  private compact(n: SimNode): void {
    const at = n.app.index;
    const snapIndex = n.storage.snapshot().meta.index;
    if (at <= snapIndex || at > n.storage.lastIndex()) return;
    const res = n.storage.createSnapshot(index(at), n.confState, encodeApp(n.app));
    if (res instanceof Error) this.fail(`createSnapshot: ${res.message}`);
    // Keep a few entries so that slightly lagging followers need no snapshot.
    const keep = this.rng.intn(5);
    if (at - keep > n.storage.firstIndex()) n.storage.compact(index(at - keep));
  }

  // ---- phases ----------------------------------------------------------------

  /** Runs the safety phase, then the liveness phase. Throws SimFailure on a violation. */
  run(): void {
    for (let i = 0; i < this.s.safetyTicks; i++) this.step();
    // Liveness: heal, restart everyone, stop faults; a new entry must commit everywhere.
    this.log('--- liveness phase: healed, no faults ---');
    this.faultsOn = false;
    this.net.heal();
    this.net.faults = { dropRate: 0, duplicateRate: this.s.duplicateRate, delayTicksMax: Math.min(this.s.delayTicksMax, 3) };
    for (const n of this.nodes.values()) if (n.rn === undefined) this.start(n);
    // The bound grows with the backlog left by the fault phase: with one
    // entry per append and one append in flight, a long log takes a while.
    let last = 0;
    let applied = Number.MAX_SAFE_INTEGER;
    for (const n of this.nodes.values()) {
      last = Math.max(last, n.storage.lastIndex());
      applied = Math.min(applied, n.app.index);
    }
    // A write still in progress holds back its member's next Ready: each
    // round trip stretches by 1 / (1 - persistDelayRate).
    const perEntry = 4 / (1 - this.s.persistDelayRate);
    const bound = this.s.livenessTicksMax + Math.ceil(perEntry * Math.max(0, last - applied));
    const marker = enc.encode(`live-${this.s.seed}`);
    let proposedAt = -1;
    let markerIndex = -1;
    for (let i = 0; i < bound; i++) {
      this.step();
      const lead = this.leader();
      if (lead === undefined) continue;
      // A member that joined after the last snapshot can only catch up from a
      // snapshot that includes it: the shell snapshots regularly.
      if (i % 20 === 0) this.compact(lead);
      if (markerIndex < 0 && (proposedAt < 0 || this.now - proposedAt > 3 * ELECTION_TICKS)) {
        if (lead.rn!.propose(marker).ok) {
          proposedAt = this.now;
          this.log(`liveness marker proposed on ${lead.id}`);
        }
      }
      if (markerIndex < 0) markerIndex = this.findMarker(lead, marker);
      if (markerIndex > 0) {
        const voters = lead.confState.voters;
        if (voters.every((v) => (this.nodes.get(v)?.app.index ?? 0) >= markerIndex)) {
          this.log(`liveness: marker at ${markerIndex} applied on voters (${voters.join(',')})`);
          return;
        }
      }
    }
    this.fail(`liveness: no new entry committed on all voters within ${bound} ticks after healing`);
  }

  /** The index of the marker once the leader has committed it, else -1. */
  private findMarker(lead: SimNode, marker: Uint8Array): number {
    const r = lead.rn!.raft;
    const lo = Math.max(r.log.firstIndex(), r.log.committed - 50);
    if (lo > r.log.committed) return -1;
    for (const e of r.log.slice(index(lo), index(r.log.committed + 1), Number.MAX_SAFE_INTEGER)) {
      if (e.term === r.term && e.data.length === marker.length && e.data.every((b, i) => b === marker[i])) return e.index;
    }
    return -1;
  }
}

export function describeSettings(s: SimSettings): string {
  return Object.entries(s)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

/** Runs one seed; returns undefined on success or the failure message with settings. */
export function runSeed(seed: number, opts: { safetyTicks?: number; trace?: boolean } = {}): { error: string | undefined; sim: Simulator } {
  const sim = new Simulator(settingsFor(seed, opts.safetyTicks), opts.trace ?? false);
  try {
    sim.run();
    return { error: undefined, sim };
  } catch (e) {
    const msg = e instanceof Error ? `${e.name}: ${e.message}${e instanceof SimFailure ? '' : `\n${e.stack ?? ''}`}` : String(e);
    return { error: `SEED=${seed} ${msg}\nsettings: ${describeSettings(sim.s)}`, sim };
  }
}
