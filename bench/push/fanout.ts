// The idle and broadcast scenario for one server: start it, read its memory
// with no connections, then for each size grow the client fleet to that many
// bound connections, read memory at rest, and time broadcasts. Everything it
// starts is stopped at the end, also on failure.
import { Fleet } from '../lib/fleet.js';
import type { Health } from '../lib/fleet-messages.js';
import { BENCH_APP, BENCH_TOKEN_SECRET, type Target } from '../lib/target.js';
import { runBroadcasts, type BroadcastPoint } from './broadcast.js';
import { idlePoint, readMemory, type IdlePoint, type Memory } from './idle.js';

export interface FanoutConfig {
  readonly sizes: readonly number[];
  readonly workers: number;
  readonly connectConcurrency: number;
  readonly settleMs: number;
  readonly memorySamples: number;
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
  readonly steps: readonly FanoutStep[];
}

export async function runFanout(start: () => Promise<Target>, cfg: FanoutConfig, log: (s: string) => void): Promise<FanoutResult> {
  const t = await start();
  const fleet = Fleet.start(cfg.workers);
  try {
    const empty = await readMemory(t, cfg.settleMs, cfg.memorySamples);
    log(`${t.label}: pid ${t.pid}, empty RSS ${(empty.rssBytes / 2 ** 20).toFixed(1)} MiB`);
    const steps: FanoutStep[] = [];
    for (const n of cfg.sizes) {
      const c = await fleet.connectTo(n, { url: t.wsUrl, app: BENCH_APP, secret: BENCH_TOKEN_SECRET, concurrency: cfg.connectConcurrency, timeoutMs: 30_000 });
      if (c.failed > 0) throw new Error(`${t.label}: ${c.failed} of ${n} connections failed (${c.firstFailure})\n${t.stderrTail()}`);
      log(`${t.label}: ${n} connections bound (last batch of ${c.ok} in ${(c.ms / 1000).toFixed(1)} s)`);
      const idle = idlePoint(n, empty, await readMemory(t, cfg.settleMs, cfg.memorySamples));
      const broadcast = await runBroadcasts(t, fleet, n, cfg.broadcastRounds, cfg.broadcastTimeoutMs, cfg.broadcastPauseMs);
      log(`${t.label}: ${n} conns: RSS/conn ${idle.rssPerConnBytes.toFixed(0)} B, broadcast median ${broadcast.medianMs.toFixed(1)} ms, missing ${broadcast.missing}`);
      await fleet.received();
      steps.push({ connections: n, connectMs: c.ms, idle, broadcast, health: fleet.health });
    }
    return { label: t.label, empty, steps };
  } finally {
    await fleet.stop();
    await t.stop();
  }
}
