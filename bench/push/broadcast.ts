// Broadcast: one 256-byte message to every bound connection, timed from just
// before the HTTP request until the last connection (over all client
// processes) has it; the figure is the median over several rounds. Each
// delivery's latency (receipt − send time written into the message) gives the
// round's p50 and p99.
import { nowMs } from '../lib/clock.js';
import { cpuNs } from '../lib/cpu-time.js';
import type { Fleet } from '../lib/fleet.js';
import { padded } from '../lib/payload.js';
import { median, percentile, sorted } from '../lib/stats.js';
import type { Target } from '../lib/target.js';

export const BROADCAST_BYTES = 256;

export interface BroadcastRound {
  readonly ms: number;
  /** Server CPU (all threads) from the request until every connection had the message. */
  readonly cpuMs: number;
  /** CPU of the client processes over the same time (they share the cores, and decrypt under TLS), ms. */
  readonly clientCpuMs: number;
  readonly got: number;
  readonly expected: number;
  /** Delivery latency over this round's deliveries, ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface BroadcastPoint {
  readonly connections: number;
  readonly rounds: readonly BroadcastRound[];
  readonly medianMs: number;
  /** The fastest round: the least disturbed by other load on the machine. */
  readonly bestMs: number;
  /** Server CPU per delivered message over all rounds, µs. */
  readonly cpuUsPerDelivery: number;
  /** Client processes' CPU per delivered message over all rounds, µs. */
  readonly clientCpuUsPerDelivery: number;
  /** The same less the server's idle background (pings, timers) over the rounds' wall time, µs. */
  readonly netCpuUsPerDelivery: number;
  /** Median over the rounds of each round's delivery latency p50 and p99, ms. */
  readonly deliveryP50Ms: number;
  readonly deliveryP99Ms: number;
  /** connections / median time. */
  readonly deliveriesPerSec: number;
  /** Deliveries that did not arrive within the timeout, over all rounds. */
  readonly missing: number;
}

let nextMarker = 1;

/** One broadcast to every connection of `fleet`, timed from just before the request until the last delivery. */
export async function broadcastOnce(t: Target, fleet: Fleet, timeoutMs: number): Promise<BroadcastRound> {
  const marker = nextMarker++;
  const clientCpuNs = (): number => fleet.pids.reduce((a, pid) => a + cpuNs(pid), 0);
  let t0 = 0;
  let c0 = 0;
  let k0 = 0;
  const r = await fleet.broadcast(marker, timeoutMs, async () => {
    c0 = cpuNs(t.pid);
    k0 = clientCpuNs();
    t0 = nowMs();
    await t.broadcast(padded({ k: 'b', m: marker, s: t0 }, BROADCAST_BYTES));
  });
  const asc = sorted(r.latencies);
  return { ms: r.lastAt - t0, cpuMs: (cpuNs(t.pid) - c0) / 1e6, clientCpuMs: (clientCpuNs() - k0) / 1e6, got: r.got, expected: r.expected, p50Ms: percentile(asc, 50), p99Ms: percentile(asc, 99) };
}

/** `idleCpuMsPerSec`: the server's CPU rate with the same connections open and no broadcast. */
export function broadcastPoint(connections: number, rounds: readonly BroadcastRound[], idleCpuMsPerSec: number): BroadcastPoint {
  const medianMs = median(rounds.map((r) => r.ms));
  const got = rounds.reduce((a, r) => a + r.got, 0);
  const cpuMs = rounds.reduce((a, r) => a + r.cpuMs, 0);
  const idleMs = (rounds.reduce((a, r) => a + r.ms, 0) / 1000) * idleCpuMsPerSec;
  return {
    connections,
    rounds,
    medianMs,
    bestMs: Math.min(...rounds.map((r) => r.ms)),
    deliveryP50Ms: median(rounds.map((r) => r.p50Ms)),
    deliveryP99Ms: median(rounds.map((r) => r.p99Ms)),
    cpuUsPerDelivery: (cpuMs * 1000) / got,
    clientCpuUsPerDelivery: (rounds.reduce((a, r) => a + r.clientCpuMs, 0) * 1000) / got,
    netCpuUsPerDelivery: (Math.max(0, cpuMs - idleMs) * 1000) / got,
    deliveriesPerSec: connections / (medianMs / 1000),
    missing: rounds.reduce((a, r) => a + (r.expected - r.got) + (connections - r.expected), 0),
  };
}
