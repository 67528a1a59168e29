import { MemoryStorage } from '../../src/log/memory-storage.js';
import type { Message, MessageType } from '../../src/message.js';
import { Raft } from '../../src/raft.js';
import type { ConfigInput } from '../../src/raft.js';
import { SeededRng } from '../../src/rng.js';
import type { NodeId } from '../../src/types.js';
import { index, term } from '../../src/types.js';

export type RaftOptions = Partial<Omit<ConfigInput, 'id' | 'storage' | 'rng'>>;

/** A Raft member over a fresh MemoryStorage holding `peers` as voters. */
export function newTestRaft(id: NodeId, peers: readonly NodeId[], opts: RaftOptions = {}, storage?: MemoryStorage): Raft {
  const st = storage ?? new MemoryStorage();
  if (storage === undefined) st.bootstrap({ voters: [...peers], learners: [] });
  return new Raft({ electionTicks: 10, heartbeatTicks: 1, checkQuorum: false, preVote: false, ...opts, id, storage: st, rng: new SeededRng(id) });
}

export function takeMsgs(r: Raft): Message[] {
  const m = r.msgs;
  r.msgs = [];
  return m;
}

/**
 * Persists a member's unstable entries into its storage, as a shell would
 * after a Ready (used by tests that look at storage or restart members).
 */
export function persist(r: Raft, st: MemoryStorage): void {
  const snap = r.log.unstableSnapshot();
  if (snap !== undefined) {
    st.applySnapshot(snap);
    r.log.stableSnapTo(snap.meta.index);
  }
  const ents = r.log.unstableEntries();
  const last = ents[ents.length - 1];
  if (last !== undefined) {
    st.append(ents);
    r.log.stableTo(last.index, last.term);
  }
  st.setHardState(r.hardState());
}

/**
 * An in-memory network of Raft members that delivers messages until quiet,
 * as etcd's test network does. Members are stepped directly (no Ready).
 */
export class Network {
  readonly peers = new Map<NodeId, Raft>();
  private readonly dropped = new Set<string>();
  private readonly ignored = new Set<MessageType>();
  /** Every message delivered, in order (for assertions). */
  readonly delivered: Message[] = [];

  constructor(members: readonly (Raft | undefined)[], opts: RaftOptions = {}) {
    const ids = members.map((_, i) => i + 1);
    members.forEach((m, i) => {
      const id = i + 1;
      this.peers.set(id, m ?? newTestRaft(id, ids, opts));
    });
  }

  static of(n: number, opts: RaftOptions = {}): Network {
    return new Network(Array.from({ length: n }, () => undefined), opts);
  }

  get(id: NodeId): Raft {
    const r = this.peers.get(id);
    if (r === undefined) throw new Error(`no member ${id}`);
    return r;
  }

  send(...msgs: Message[]): void {
    const queue = [...msgs];
    for (let guard = 0; queue.length > 0; guard++) {
      if (guard > 100_000) throw new Error('network did not quiesce');
      const m = queue.shift()!;
      const p = this.peers.get(m.to);
      if (p === undefined) continue;
      this.delivered.push(m);
      p.step(m);
      queue.push(...this.filter(takeMsgs(p)));
    }
  }

  /** Delivers a local MsgHup to `id`. */
  campaign(id: NodeId): void {
    this.send({ type: 'MsgHup', from: id, to: id, term: term(0) });
  }

  propose(id: NodeId, data: string): void {
    this.send({
      type: 'MsgProp',
      from: id,
      to: id,
      term: term(0),
      entries: [{ term: term(0), index: index(0), type: 'normal', data: new TextEncoder().encode(data) }],
    });
  }

  cut(a: NodeId, b: NodeId): void {
    this.dropped.add(`${a}-${b}`);
    this.dropped.add(`${b}-${a}`);
  }

  isolate(id: NodeId): void {
    for (const other of this.peers.keys()) if (other !== id) this.cut(id, other);
  }

  ignore(t: MessageType): void {
    this.ignored.add(t);
  }

  recover(): void {
    this.dropped.clear();
    this.ignored.clear();
  }

  private filter(msgs: Message[]): Message[] {
    return msgs.filter((m) => !this.dropped.has(`${m.from}-${m.to}`) && !this.ignored.has(m.type));
  }
}
