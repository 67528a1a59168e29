// A seeded fault schedule for a keeper cluster of one or more nodes: kill -9
// and restart, SIGSTOP/SIGCONT, watch-stream blips, and with more than one
// node: partitions (one node isolated from the rest, or the cluster split in
// two; short ones, and long ones that outlast node leases and call
// timeouts), leader-transfer storms and membership changes (remove a member, wipe
// it, rejoin it). Faults run one after another; each one heals before the
// next starts. Printed in full so a run replays from its seed.
import type { Rng } from '../cluster/rng.js';
import { formatMemberChange, makeMemberChange, type MemberChange } from './member-change.js';
import { randomSplit } from './split.js';
import { drawFaults } from './draw-faults.js';
import { formatTransferStorm, makeTransferStorm, type TransferStorm } from './transfer-storm.js';

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
  | { readonly at: number; readonly kind: 'partition'; readonly left: readonly string[]; readonly right: readonly string[]; readonly leader: boolean; readonly healMs: number }
  | ({ readonly at: number; readonly kind: 'transfer-storm' } & TransferStorm)
  | ({ readonly at: number; readonly kind: 'member-change' } & MemberChange);

/** The nemeses a run may use (`--faults`); the multi-node ones need more than one node. */
export const KV_NEMESES = ['kill', 'pause', 'watch', 'partition', 'transfer', 'member', 'long-partition'] as const;
export type KvNemesis = (typeof KV_NEMESES)[number];

/** Relative weights of the nemeses in a schedule. */
const WEIGHTS: Readonly<Record<KvNemesis, number>> = { kill: 25, pause: 25, watch: 15, partition: 35, transfer: 15, member: 12, 'long-partition': 8 };
/** A long cut: a minority's node leases (10 s) run out and the clients' calls there time out, so leases, locks and sessions expire under it. */
const LONG_PARTITION_MS = 12_000;

export interface KvScheduleOptions {
  readonly nodes: readonly string[];
  readonly durationMs: number;
  readonly meanGapMs: number;
  /** The nemeses to draw from; partition, transfer and member are dropped with one node. */
  readonly nemeses: ReadonlySet<KvNemesis>;
}

export function makeKvSchedule(rng: Rng, o: KvScheduleOptions): KvFault[] {
  if (!(o.meanGapMs >= 1)) throw new Error(`meanGapMs must be at least 1, got ${o.meanGapMs}`);
  const multi = o.nodes.length > 1;
  return drawFaults(rng, { ...o, all: KV_NEMESES, weights: WEIGHTS }, (kind, at): KvFault => {
    const node = rng.pick(o.nodes);
    // Pauses reach 3 s and partitions 5 s: past the Raft election timeout, so leaders change under them.
    switch (kind) {
      case 'partition': {
        const { left, right } = randomSplit(rng, o.nodes);
        return { at, kind: 'partition', left, right, leader: rng.next() < 0.6, healMs: 1000 + rng.int(4000) };
      }
      case 'long-partition': {
        const { left, right } = randomSplit(rng, o.nodes);
        return { at, kind: 'partition', left, right, leader: rng.next() < 0.6, healMs: LONG_PARTITION_MS + rng.int(6000) };
      }
      case 'kill':
        return { at, kind: 'kill-restart', node, leader: multi && rng.next() < 0.5, downMs: 100 + rng.int(900) };
      case 'pause':
        return { at, kind: 'pause', node, leader: multi && rng.next() < 0.5, pauseMs: 200 + rng.int(2800) };
      case 'watch':
        return { at, kind: 'watch-blip', streams: 1 + rng.int(2) };
      case 'transfer':
        return { at, kind: 'transfer-storm', ...makeTransferStorm(rng, o.nodes) };
      case 'member':
        return { at, kind: 'member-change', ...makeMemberChange(rng, o.nodes) };
    }
  });
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
        case 'transfer-storm':
          return `  +${f.at}ms ${formatTransferStorm(f)}`;
        case 'member-change':
          return `  +${f.at}ms ${formatMemberChange(f)}`;
      }
    })
    .join('\n');
}

/** The sides of a partition once the current leader is known (see KvFault 'partition'). */
export function resolvePartition(f: { readonly left: readonly string[]; readonly right: readonly string[]; readonly leader: boolean }, leader: string | undefined): { left: string[]; right: string[] } {
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
