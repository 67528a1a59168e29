// Unicast qos 1: `clients` connections, one user each; the bench pushes one
// message per request to the users round-robin with at most `inflight`
// requests open, every client acks each seq, and end-to-end latency is
// (client receive time − push send time written into the message). One
// unmeasured warm-up phase, then a measured one; each phase is drained (every
// pushed message received) before it is counted.
import { nowMs, sleep } from '../lib/clock.js';
import { Fleet } from '../lib/fleet.js';
import type { Health } from '../lib/fleet-messages.js';
import { padded } from '../lib/payload.js';
import { BENCH_APP, BENCH_TOKEN_SECRET, type Target } from '../lib/target.js';

export const UNICAST_BYTES = 256;

export interface UnicastConfig {
  readonly clients: number;
  readonly workers: number;
  readonly inflight: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
  readonly drainTimeoutMs: number;
}

export interface UnicastRun {
  readonly label: string;
  readonly pushed: number;
  readonly received: number;
  readonly pushErrors: number;
  readonly firstPushError: string;
  /** From the first push sent to the last message received, ms. */
  readonly spanMs: number;
  readonly msgsPerSec: number;
  /** End-to-end latencies of the measured phase, ms, unsorted. */
  readonly latencies: Float64Array;
  readonly health: Health;
}

interface Phase {
  readonly pushed: number;
  readonly errors: number;
  readonly firstError: string;
  readonly startAt: number;
}

async function pushFor(t: Target, cfg: UnicastConfig, seconds: number): Promise<Phase> {
  const startAt = nowMs();
  const deadline = startAt + seconds * 1000;
  let next = 0;
  let pushed = 0;
  let errors = 0;
  let firstError = '';
  const lane = async (): Promise<void> => {
    while (nowMs() < deadline && errors < 100) {
      const user = `u${next++ % cfg.clients}`;
      try {
        await t.push(user, padded({ k: 'u', s: nowMs() }, UNICAST_BYTES));
        pushed++;
      } catch (err) {
        errors++;
        if (firstError === '') firstError = err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: cfg.inflight }, lane));
  return { pushed, errors, firstError, startAt };
}

/** Waits until the clients received `pushed` messages, or the timeout. */
async function drain(fleet: Fleet, pushed: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let got = await fleet.received();
  while (got < pushed && Date.now() < deadline) {
    await sleep(100);
    got = await fleet.received();
  }
  return got;
}

export async function runUnicast(start: () => Promise<Target>, cfg: UnicastConfig, log: (s: string) => void): Promise<UnicastRun> {
  const t = await start();
  const fleet = Fleet.start(cfg.workers);
  try {
    const c = await fleet.connectTo(cfg.clients, { url: t.wsUrl, app: BENCH_APP, secret: BENCH_TOKEN_SECRET, concurrency: 50, timeoutMs: 30_000 });
    if (c.failed > 0) throw new Error(`${t.label}: ${c.failed} of ${cfg.clients} connections failed (${c.firstFailure})\n${t.stderrTail()}`);
    const warm = await pushFor(t, cfg, cfg.warmupSeconds);
    await drain(fleet, warm.pushed, cfg.drainTimeoutMs);
    await fleet.reset();
    const p = await pushFor(t, cfg, cfg.seconds);
    const received = await drain(fleet, p.pushed, cfg.drainTimeoutMs);
    const s = await fleet.collect();
    const spanMs = s.lastAt - p.startAt;
    const run: UnicastRun = {
      label: t.label,
      pushed: p.pushed,
      received,
      pushErrors: p.errors,
      firstPushError: p.firstError,
      spanMs,
      msgsPerSec: received / (spanMs / 1000),
      latencies: s.latencies,
      health: fleet.health,
    };
    log(`${t.label}: unicast ${run.msgsPerSec.toFixed(0)} msgs/s, pushed ${p.pushed}, received ${received}, push errors ${p.errors}${p.firstError === '' ? '' : ` (${p.firstError})`}`);
    return run;
  } finally {
    await fleet.stop();
    await t.stop();
  }
}
