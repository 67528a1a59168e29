// The part both workloads' schedules share: fault times (gaps of half to one
// and a half mean gaps) and, at each, a nemesis drawn by weight; each
// workload turns the drawn nemesis into its fault. The draws come in a fixed
// order from the seeded RNG, so a seed replays its schedule.
import type { Rng } from '../cluster/rng.js';

/** Nemeses that need more than one node; dropped from a one-node run. */
const MULTI_NODE: ReadonlySet<string> = new Set(['partition', 'long-partition', 'transfer', 'member']);

export interface DrawOptions<K extends string> {
  readonly nodes: readonly string[];
  readonly durationMs: number;
  readonly meanGapMs: number;
  /** All nemeses of the workload, in a fixed order; `nemeses` picks the ones this run uses. */
  readonly all: readonly K[];
  readonly nemeses: ReadonlySet<K>;
  readonly weights: Readonly<Record<K, number>>;
}

export function drawFaults<K extends string, F>(rng: Rng, o: DrawOptions<K>, make: (kind: K, at: number) => F): F[] {
  const kinds = o.all.filter((k) => o.nemeses.has(k) && (o.nodes.length > 1 || !MULTI_NODE.has(k)));
  const total = kinds.reduce((a, k) => a + o.weights[k], 0);
  const out: F[] = [];
  if (kinds.length === 0) return out;
  for (let t = 0; ; ) {
    t += Math.floor(o.meanGapMs / 2 + rng.next() * o.meanGapMs);
    if (t >= o.durationMs) return out;
    let r = rng.next() * total;
    const kind = kinds.find((k) => (r -= o.weights[k]) < 0) ?? (kinds[kinds.length - 1] as K);
    out.push(make(kind, t));
  }
}
