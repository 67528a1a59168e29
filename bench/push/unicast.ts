// Unicast (qos 1, or qos 0 for longwire): every server is up at once with its
// own `clients` connections (one user each). The bench pushes one message per
// request to the users round-robin with at most `inflight` requests open;
// every client acks each seq (qos 1 messages carry one); end-to-end latency is (client receive time − push send time
// written into the message). After an unmeasured warm-up per server, short
// measured slices rotate between the servers (a, b, c, c, b, a, …) so a burst
// of other load on this shared machine hits all of them alike. Each slice is
// drained (every pushed message received) before the next starts.
import { nowMs, sleep } from '../lib/clock.js';
import { cpuNs } from '../lib/cpu-time.js';
import { Fleet } from '../lib/fleet.js';
import type { Health } from '../lib/fleet-messages.js';
import { padded } from '../lib/payload.js';
import { BENCH_APP, BENCH_TOKEN_SECRET, type Target } from '../lib/target.js';

export const UNICAST_BYTES = 256;

export interface UnicastConfig {
  /** qos 1: stored, then delivered and acked; qos 0: written to the open connection only. */
  readonly qos: 0 | 1;
  readonly clients: number;
  /** Client processes per server. */
  readonly workers: number;
  readonly inflight: number;
  readonly warmupSeconds: number;
  readonly slices: number;
  readonly sliceSeconds: number;
  readonly drainTimeoutMs: number;
}

export interface UnicastRun {
  readonly label: string;
  readonly pushed: number;
  readonly received: number;
  readonly pushErrors: number;
  readonly firstPushError: string;
  /** Sum over slices of (last message received − first push sent), ms. */
  readonly spanMs: number;
  readonly msgsPerSec: number;
  /** Server CPU (all threads) over the measured slices per message received, µs. */
  readonly cpuUsPerMsg: number;
  /** msgs/s of each slice, in order: the spread shows the machine's noise. */
  readonly sliceMsgsPerSec: readonly number[];
  /** End-to-end latencies of the measured slices, ms, unsorted. */
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
        await t.push(user, padded({ k: 'u', s: nowMs() }, UNICAST_BYTES), cfg.qos);
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

/** Waits until the clients received `pushed` messages since the last reset, or the timeout. */
async function drain(fleet: Fleet, pushed: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let got = await fleet.received();
  while (got < pushed && Date.now() < deadline) {
    await sleep(50);
    got = await fleet.received();
  }
  return got;
}

interface Side {
  readonly t: Target;
  readonly fleet: Fleet;
  pushed: number;
  received: number;
  errors: number;
  firstError: string;
  spanMs: number;
  cpuNs: number;
  readonly slices: number[];
  readonly latencies: Float64Array[];
}

export async function runUnicast(starts: readonly (() => Promise<Target>)[], cfg: UnicastConfig, log: (s: string) => void): Promise<UnicastRun[]> {
  const sides: Side[] = [];
  try {
    for (const start of starts) {
      const t = await start();
      const side: Side = { t, fleet: Fleet.start(cfg.workers), pushed: 0, received: 0, errors: 0, firstError: '', spanMs: 0, cpuNs: 0, slices: [], latencies: [] };
      sides.push(side);
      const c = await side.fleet.connectTo(cfg.clients, { url: t.wsUrl, ca: t.ca, app: BENCH_APP, secret: BENCH_TOKEN_SECRET, concurrency: 50, timeoutMs: 30_000 });
      if (c.failed > 0) throw new Error(`${t.label}: ${c.failed} of ${cfg.clients} connections failed (${c.firstFailure})\n${t.stderrTail()}`);
    }
    for (const s of sides) {
      await s.fleet.reset();
      const warm = await pushFor(s.t, cfg, cfg.warmupSeconds);
      await drain(s.fleet, warm.pushed, cfg.drainTimeoutMs);
    }
    for (let r = 0; r < cfg.slices; r++) {
      for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
        await s.fleet.reset();
        const c0 = cpuNs(s.t.pid);
        const p = await pushFor(s.t, cfg, cfg.sliceSeconds);
        const received = await drain(s.fleet, p.pushed, cfg.drainTimeoutMs);
        s.cpuNs += cpuNs(s.t.pid) - c0;
        const samples = await s.fleet.collect();
        const span = samples.lastAt - p.startAt;
        s.pushed += p.pushed;
        s.received += received;
        s.errors += p.errors;
        if (s.firstError === '') s.firstError = p.firstError;
        s.spanMs += span;
        s.slices.push(received / (span / 1000));
        s.latencies.push(samples.latencies);
      }
    }
    return sides.map((s) => {
      const all = new Float64Array(s.latencies.reduce((a, l) => a + l.length, 0));
      let at = 0;
      for (const l of s.latencies) {
        all.set(l, at);
        at += l.length;
      }
      const run: UnicastRun = {
        label: s.t.label,
        pushed: s.pushed,
        received: s.received,
        pushErrors: s.errors,
        firstPushError: s.firstError,
        spanMs: s.spanMs,
        msgsPerSec: s.received / (s.spanMs / 1000),
        cpuUsPerMsg: s.cpuNs / 1000 / s.received,
        sliceMsgsPerSec: s.slices,
        latencies: all,
        health: s.fleet.health,
      };
      log(`${s.t.label}: unicast ${run.msgsPerSec.toFixed(0)} msgs/s, server CPU ${run.cpuUsPerMsg.toFixed(0)} µs/msg (slices ${s.slices.map((x) => x.toFixed(0)).join(' ')}), pushed ${s.pushed}, received ${s.received}, push errors ${s.errors}${s.firstError === '' ? '' : ` (${s.firstError})`}`);
      return run;
    });
  } finally {
    for (const s of sides) {
      await s.fleet.stop();
      await s.t.stop();
    }
  }
}
