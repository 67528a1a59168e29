// A seeded fault schedule for a keeper cluster of one or more nodes: kill -9
// and restart, SIGSTOP/SIGCONT, watch-stream blips, and (with more than one
// node and iptables available) partitions: one node isolated from the rest,
// or the cluster split in two. Faults run one after another; each one heals
// before the next starts. Printed in full so a run replays from its seed.
import type { Rng } from '../cluster/rng.js';

export type KvFault =
  /** With `leader`, the node that is leader when the fault starts takes the place of `node` (logged). */
  | { readonly at: number; readonly kind: 'kill-restart'; readonly node: string; readonly leader: boolean; readonly downMs: number }
  /** A paused leader that wakes up still believing it leads is the classic test of leader leases. */
  | { readonly at: number; readonly kind: 'pause'; readonly node: string; readonly leader: boolean; readonly pauseMs: number }
  /** Closes this many watch streams from the client side; each resumes from its last revision + 1. */
  | { readonly at: number; readonly kind: 'watch-blip'; readonly streams: number }
  /**
   * Cuts every link between `left` and `right`. With `leader`, the node that is
   * leader when the fault starts takes the place of left's first node (a
   * minority with the leader in it is the interesting case); the run logs the
   * resolved sides.
   */
  | { readonly at: number; readonly kind: 'partition'; readonly left: readonly string[]; readonly right: readonly string[]; readonly leader: boolean; readonly healMs: number };

export interface KvScheduleOptions {
  readonly nodes: readonly string[];
  readonly durationMs: number;
  readonly meanGapMs: number;
  readonly partitions: boolean;
}

export function makeKvSchedule(rng: Rng, o: KvScheduleOptions): KvFault[] {
  if (!(o.meanGapMs >= 1)) throw new Error(`meanGapMs must be at least 1, got ${o.meanGapMs}`);
  const out: KvFault[] = [];
  const canPartition = o.partitions && o.nodes.length > 1;
  let t = 0;
  for (;;) {
    t += Math.floor(o.meanGapMs / 2 + rng.next() * o.meanGapMs);
    if (t >= o.durationMs) return out;
    const r = rng.next();
    const node = rng.pick(o.nodes);
    // Pauses reach 3 s and partitions 5 s: past the Raft election timeout (1-2 s), so leaders change under them.
    if (canPartition && r < 0.35) {
      const shuffled = [...o.nodes];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const a = shuffled[i];
        const b = shuffled[j];
        if (a === undefined || b === undefined) throw new Error('shuffle out of range');
        shuffled[i] = b;
        shuffled[j] = a;
      }
      // Half the partitions isolate one node, half split into a majority and a minority.
      const cut = rng.next() < 0.5 ? 1 : Math.max(1, Math.floor(o.nodes.length / 2));
      out.push({ at: t, kind: 'partition', left: shuffled.slice(0, cut), right: shuffled.slice(cut), leader: rng.next() < 0.6, healMs: 1000 + rng.int(4000) });
    } else if (r < 0.6) out.push({ at: t, kind: 'kill-restart', node, leader: o.nodes.length > 1 && rng.next() < 0.5, downMs: 100 + rng.int(900) });
    else if (r < 0.85) out.push({ at: t, kind: 'pause', node, leader: o.nodes.length > 1 && rng.next() < 0.5, pauseMs: 200 + rng.int(2800) });
    else out.push({ at: t, kind: 'watch-blip', streams: 1 + rng.int(2) });
  }
}

export function formatKvSchedule(s: readonly KvFault[]): string {
  if (s.length === 0) return '  (no faults)';
  return s
    .map((f) => {
      switch (f.kind) {
        case 'kill-restart':
          return `  +${f.at}ms kill -9 ${f.leader ? 'the leader' : f.node}, restart after ${f.downMs}ms`;
        case 'pause':
          return `  +${f.at}ms SIGSTOP ${f.leader ? 'the leader' : f.node}, SIGCONT after ${f.pauseMs}ms`;
        case 'watch-blip':
          return `  +${f.at}ms close ${f.streams} watch stream(s)`;
        case 'partition':
          return `  +${f.at}ms partition [${f.left.join(',')}] | [${f.right.join(',')}]${f.leader ? ' (the leader in place of the first)' : ''}, heal after ${f.healMs}ms`;
      }
    })
    .join('\n');
}

/** The sides of a partition once the current leader is known (see KvFault 'partition'). */
export function resolvePartition(f: Extract<KvFault, { kind: 'partition' }>, leader: string | undefined): { left: string[]; right: string[] } {
  const left = [...f.left];
  const right = [...f.right];
  if (!f.leader || leader === undefined || left[0] === leader) return { left, right };
  const first = left[0];
  const li = left.indexOf(leader);
  const ri = right.indexOf(leader);
  if (first === undefined) return { left, right };
  if (li >= 0) {
    left[li] = first;
    left[0] = leader;
  } else if (ri >= 0) {
    right[ri] = first;
    left[0] = leader;
  }
  return { left, right };
}
