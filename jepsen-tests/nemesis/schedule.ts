// A seeded fault schedule for the delivery workload: kill -9 and restart,
// SIGSTOP/SIGCONT, network blips of random devices, and with more than one
// node partitions (short ones, and long ones that outlast the peer links'
// call timeout, so a node misses topic pubs and must fill the hole from the
// history), leader-transfer storms and membership changes (remove a
// member, which drains its inboxes to the others, wipe it and rejoin it,
// which moves its users' inboxes back to it). Printed in full so a run can be
// replayed from its seed.
import type { Rng } from '../cluster/rng.js';
import { formatMemberChange, makeMemberChange, type MemberChange } from './member-change.js';
import { randomSplit } from './split.js';
import { drawFaults } from './draw-faults.js';
import { formatTransferStorm, makeTransferStorm, type TransferStorm } from './transfer-storm.js';

export type Fault =
  | { readonly at: number; readonly kind: 'kill-restart'; readonly node: string; readonly downMs: number }
  | { readonly at: number; readonly kind: 'pause'; readonly node: string; readonly pauseMs: number }
  | { readonly at: number; readonly kind: 'blip'; readonly devices: number }
  /** Cuts every link between the sides; with `leader`, the current leader takes the place of left's first node. */
  | { readonly at: number; readonly kind: 'partition'; readonly left: readonly string[]; readonly right: readonly string[]; readonly leader: boolean; readonly healMs: number }
  | ({ readonly at: number; readonly kind: 'transfer-storm' } & TransferStorm)
  | ({ readonly at: number; readonly kind: 'member-change' } & MemberChange);

export const DELIVERY_NEMESES = ['kill', 'pause', 'blip', 'partition', 'transfer', 'member', 'long-partition'] as const;
export type DeliveryNemesis = (typeof DELIVERY_NEMESES)[number];

const WEIGHTS: Readonly<Record<DeliveryNemesis, number>> = { kill: 30, pause: 25, blip: 25, partition: 30, transfer: 15, member: 12, 'long-partition': 8 };
/** Past the peer links' 10 s call timeout: a pub sent across the cut is given up, not delivered late. */
const LONG_PARTITION_MS = 12_000;

export interface ScheduleOptions {
  readonly nodes: readonly string[];
  readonly durationMs: number;
  readonly meanGapMs: number;
  /** partition, transfer and member are dropped with one node. */
  readonly nemeses: ReadonlySet<DeliveryNemesis>;
}

export function makeSchedule(rng: Rng, o: ScheduleOptions): Fault[] {
  return drawFaults(rng, { ...o, all: DELIVERY_NEMESES, weights: WEIGHTS }, (kind, at): Fault => {
    switch (kind) {
      case 'kill':
        return { at, kind: 'kill-restart', node: rng.pick(o.nodes), downMs: 100 + rng.int(400) };
      case 'pause':
        return { at, kind: 'pause', node: rng.pick(o.nodes), pauseMs: 200 + rng.int(1200) };
      case 'blip':
        return { at, kind: 'blip', devices: 1 + rng.int(5) };
      case 'partition': {
        const { left, right } = randomSplit(rng, o.nodes);
        return { at, kind: 'partition', left, right, leader: rng.next() < 0.5, healMs: 1000 + rng.int(3000) };
      }
      case 'long-partition': {
        const { left, right } = randomSplit(rng, o.nodes);
        return { at, kind: 'partition', left, right, leader: rng.next() < 0.5, healMs: LONG_PARTITION_MS + rng.int(4000) };
      }
      case 'transfer':
        return { at, kind: 'transfer-storm', ...makeTransferStorm(rng, o.nodes) };
      case 'member':
        return { at, kind: 'member-change', ...makeMemberChange(rng, o.nodes) };
    }
  });
}

export function formatSchedule(s: readonly Fault[]): string {
  if (s.length === 0) return '  (no faults)';
  return s
    .map((f) => {
      switch (f.kind) {
        case 'kill-restart':
          return `  +${f.at}ms kill -9 ${f.node}, restart after ${f.downMs}ms`;
        case 'pause':
          return `  +${f.at}ms SIGSTOP ${f.node}, SIGCONT after ${f.pauseMs}ms`;
        case 'blip':
          return `  +${f.at}ms drop ${f.devices} device connection(s)`;
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
