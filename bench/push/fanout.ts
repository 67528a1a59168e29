// The idle and broadcast scenario, run on all servers at once so the noisy
// machine treats them alike: each server gets its own client fleet; at each
// size every fleet grows to that many bound connections, each server's memory
// is read at rest, then broadcast rounds alternate between the servers (one
// unmeasured warm-up round each). Everything started is stopped at the end,
// also on failure.
import { sleep } from '../lib/clock.js';
import { Fleet } from '../lib/fleet.js';
import type { Health } from '../lib/fleet-messages.js';
import { BENCH_APP, BENCH_TOKEN_SECRET, type Target } from '../lib/target.js';
import { broadcastOnce, broadcastPoint, type BroadcastPoint, type BroadcastRound } from './broadcast.js';
import { idleCpu, idlePoint, readMemory, type IdlePoint, type Memory } from './idle.js';

export interface FanoutConfig {
  readonly sizes: readonly number[];
  /** Client processes per server. */
  readonly workers: number;
  readonly connectConcurrency: number;
  readonly settleMs: number;
  readonly memorySamples: number;
  /** How long the idle CPU rate is measured at each size. */
  readonly idleCpuMs: number;
  readonly broadcastRounds: number;
  readonly broadcastTimeoutMs: number;
  readonly broadcastPauseMs: number;
}

export interface FanoutStep {
  readonly connections: number;
  readonly connectMs: number;
  readonly idle: IdlePoint;
  readonly broadcast: BroadcastPoint;
  readonly health: Health;
}

export interface FanoutResult {
  readonly label: string;
  readonly empty: Memory;
  /** Server CPU with no connection at all, ms per second. */
  readonly emptyCpuMsPerSec: number;
  readonly steps: readonly FanoutStep[];
}

interface Side {
  readonly t: Target;
  readonly fleet: Fleet;
  readonly empty: Memory;
  readonly emptyCpuMsPerSec: number;
  readonly steps: FanoutStep[];
}

export async function runFanout(starts: readonly (() => Promise<Target>)[], cfg: FanoutConfig, log: (s: string) => void): Promise<FanoutResult[]> {
  const started: { t: Target; fleet: Fleet }[] = [];
  try {
    for (const start of starts) started.push({ t: await start(), fleet: Fleet.start(cfg.workers) });
    await sleep(cfg.settleMs);
    const sides: Side[] = [];
    for (const { t, fleet } of started) {
      const empty = await readMemory(t, 0, cfg.memorySamples);
      const emptyCpuMsPerSec = await idleCpu(t, cfg.idleCpuMs);
      log(`${t.label}: pid ${t.pid}, empty RSS ${(empty.rssBytes / 2 ** 20).toFixed(1)} MiB, idle CPU ${emptyCpuMsPerSec.toFixed(1)} ms/s`);
      sides.push({ t, fleet, empty, emptyCpuMsPerSec, steps: [] });
    }
    for (const n of cfg.sizes) {
      const connectMs = new Map<Side, number>();
      for (const s of sides) {
        const c = await s.fleet.connectTo(n, { url: s.t.wsUrl, ca: s.t.ca, app: BENCH_APP, secret: BENCH_TOKEN_SECRET, concurrency: cfg.connectConcurrency, timeoutMs: 30_000 });
        if (c.failed > 0) throw new Error(`${s.t.label}: ${c.failed} of ${n} connections failed (${c.firstFailure})\n${s.t.stderrTail()}`);
        log(`${s.t.label}: ${n} connections bound (the last ${c.ok} in ${(c.ms / 1000).toFixed(1)} s)`);
        connectMs.set(s, c.ms);
      }
      await sleep(cfg.settleMs);
      const idle = new Map<Side, IdlePoint>();
      for (const s of sides) {
        const mem = await readMemory(s.t, 0, cfg.memorySamples);
        idle.set(s, idlePoint(n, s.empty, mem, await idleCpu(s.t, cfg.idleCpuMs)));
      }
      const rounds = new Map<Side, BroadcastRound[]>(sides.map((s) => [s, []]));
      for (let r = 0; r <= cfg.broadcastRounds; r++) {
        for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
          await sleep(cfg.broadcastPauseMs);
          const round = await broadcastOnce(s.t, s.fleet, cfg.broadcastTimeoutMs);
          if (r > 0) rounds.get(s)?.push(round);
        }
      }
      for (const s of sides) {
        const i = idle.get(s);
        if (i === undefined) continue;
        const b = broadcastPoint(n, rounds.get(s) ?? [], i.cpuMsPerSec);
        await s.fleet.received();
        s.steps.push({ connections: n, connectMs: connectMs.get(s) ?? 0, idle: i, broadcast: b, health: s.fleet.health });
        log(`${s.t.label}: ${n} conns: RSS/conn ${i.rssPerConnBytes.toFixed(0)} B, heap/conn ${i.heapPerConnBytes.toFixed(0)} B, broadcast median ${b.medianMs.toFixed(1)} ms, server CPU ${b.cpuUsPerDelivery.toFixed(1)} µs/delivery (${b.netCpuUsPerDelivery.toFixed(1)} net of idle ${i.cpuMsPerSec.toFixed(1)} ms/s), missing ${b.missing}`);
      }
    }
    return sides.map((s) => ({ label: s.t.label, empty: s.empty, emptyCpuMsPerSec: s.emptyCpuMsPerSec, steps: s.steps }));
  } finally {
    for (const { t, fleet } of started) {
      await fleet.stop();
      await t.stop();
    }
  }
}
