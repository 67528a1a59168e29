// Broadcast: one 256-byte message to every bound connection, timed from just
// before the HTTP request until the last connection (over all client
// processes) has it; the figure is the median over several rounds.
import { nowMs } from '../lib/clock.js';
import type { Fleet } from '../lib/fleet.js';
import { padded } from '../lib/payload.js';
import { median } from '../lib/stats.js';
import type { Target } from '../lib/target.js';

export const BROADCAST_BYTES = 256;

export interface BroadcastRound {
  readonly ms: number;
  readonly got: number;
  readonly expected: number;
}

export interface BroadcastPoint {
  readonly connections: number;
  readonly rounds: readonly BroadcastRound[];
  readonly medianMs: number;
  /** The fastest round: the least disturbed by other load on the machine. */
  readonly bestMs: number;
  /** connections / median time. */
  readonly deliveriesPerSec: number;
  /** Deliveries that did not arrive within the timeout, over all rounds. */
  readonly missing: number;
}

let nextMarker = 1;

/** One broadcast to every connection of `fleet`, timed from just before the request until the last delivery. */
export async function broadcastOnce(t: Target, fleet: Fleet, timeoutMs: number): Promise<BroadcastRound> {
  const marker = nextMarker++;
  const data = padded({ k: 'b', m: marker }, BROADCAST_BYTES);
  let t0 = 0;
  const r = await fleet.broadcast(marker, timeoutMs, async () => {
    t0 = nowMs();
    await t.broadcast(data);
  });
  return { ms: r.lastAt - t0, got: r.got, expected: r.expected };
}

export function broadcastPoint(connections: number, rounds: readonly BroadcastRound[]): BroadcastPoint {
  const medianMs = median(rounds.map((r) => r.ms));
  return {
    connections,
    rounds,
    medianMs,
    bestMs: Math.min(...rounds.map((r) => r.ms)),
    deliveriesPerSec: connections / (medianMs / 1000),
    missing: rounds.reduce((a, r) => a + (r.expected - r.got) + (connections - r.expected), 0),
  };
}
