// Broadcast: one 256-byte message to every bound connection, timed from just
// before the HTTP request until the last connection (over all client
// processes) has it. One unmeasured warm-up round, then `rounds` measured ones.
import { nowMs, sleep } from '../lib/clock.js';
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
  /** connections / median time. */
  readonly deliveriesPerSec: number;
  /** Deliveries that did not arrive within the timeout, over all rounds. */
  readonly missing: number;
}

let nextMarker = 1;

async function once(t: Target, fleet: Fleet, timeoutMs: number): Promise<BroadcastRound> {
  const marker = nextMarker++;
  const data = padded({ k: 'b', m: marker }, BROADCAST_BYTES);
  let t0 = 0;
  const r = await fleet.broadcast(marker, timeoutMs, async () => {
    t0 = nowMs();
    await t.broadcast(data);
  });
  return { ms: r.lastAt - t0, got: r.got, expected: r.expected };
}

export async function runBroadcasts(t: Target, fleet: Fleet, connections: number, rounds: number, timeoutMs: number, pauseMs: number): Promise<BroadcastPoint> {
  await once(t, fleet, timeoutMs);
  const done: BroadcastRound[] = [];
  for (let i = 0; i < rounds; i++) {
    await sleep(pauseMs);
    done.push(await once(t, fleet, timeoutMs));
  }
  const medianMs = median(done.map((r) => r.ms));
  return {
    connections,
    rounds: done,
    medianMs,
    deliveriesPerSec: connections / (medianMs / 1000),
    missing: done.reduce((a, r) => a + (r.expected - r.got) + (connections - r.expected), 0),
  };
}
