import type { Message } from '../../src/message.js';
import type { SeededRng } from '../../src/rng.js';
import type { NodeId } from '../../src/types.js';

/** Per-run network faults, derived from the seed and printed on failure. */
export interface NetworkFaults {
  /** Probability that a message is lost. */
  readonly dropRate: number;
  /** Probability that a message is delivered twice. */
  readonly duplicateRate: number;
  /** Messages arrive after 1..delayTicksMax ticks; different delays reorder them. */
  readonly delayTicksMax: number;
}

interface InFlight {
  readonly m: Message;
  readonly at: number;
  /** Tie-breaker among messages due the same tick (random: reorders). */
  readonly order: number;
}

/** A seeded lossy, duplicating, delaying and reordering network with partitions. */
export class SimNetwork {
  private queue: InFlight[] = [];
  /** Directed links that drop everything ("from-to"). */
  private readonly cut = new Set<string>();
  faults: NetworkFaults;

  /** `onLost` hears of every lost message (a transport reports failed sends). */
  constructor(
    private readonly rng: SeededRng,
    faults: NetworkFaults,
    private readonly onLost: (m: Message) => void,
  ) {
    this.faults = faults;
  }

  send(m: Message, now: number): void {
    if (this.cut.has(`${m.from}-${m.to}`) || this.rng.float() < this.faults.dropRate) {
      this.onLost(m);
      return;
    }
    const copies = this.rng.float() < this.faults.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.queue.push({ m, at: now + 1 + this.rng.intn(this.faults.delayTicksMax), order: this.rng.next() });
    }
  }

  /** Messages due at `now`, in a random order; partitions also cut messages already in flight. */
  due(now: number): Message[] {
    const ready: InFlight[] = [];
    const rest: InFlight[] = [];
    for (const f of this.queue) (f.at <= now ? ready : rest).push(f);
    this.queue = rest;
    ready.sort((a, b) => a.order - b.order);
    const out: Message[] = [];
    for (const f of ready) {
      if (this.cut.has(`${f.m.from}-${f.m.to}`)) this.onLost(f.m);
      else out.push(f.m);
    }
    return out;
  }

  /** Splits the members into two sides that cannot talk to each other. */
  partition(side: readonly NodeId[], all: readonly NodeId[]): void {
    for (const a of side) {
      for (const b of all) {
        if (side.includes(b)) continue;
        this.cut.add(`${a}-${b}`);
        this.cut.add(`${b}-${a}`);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Drops every message to `id` (it crashed). */
  dropTo(id: NodeId): void {
    for (const f of this.queue) if (f.m.to === id) this.onLost(f.m);
    this.queue = this.queue.filter((f) => f.m.to !== id);
  }

  pending(): number {
    return this.queue.length;
  }
}
