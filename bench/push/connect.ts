// Connect rounds: each round a fresh client fleet opens `connections`
// connections (connect, then hello → welcome → bind → bound) to one server,
// timed, with the server's and the client processes' CPU over the round (the
// client side of a TLS handshake runs on the same cores); then the fleet is stopped and
// the server gets a pause to take the disconnects before the next round. The
// servers are up at once and take turns, the order flipped every round (a, b,
// b, a, …), so drift on the shared machine hits all of them alike.
import { sleep } from '../lib/clock.js';
import { cpuNs } from '../lib/cpu-time.js';
import { Fleet } from '../lib/fleet.js';
import { median } from '../lib/stats.js';
import { BENCH_APP, BENCH_TOKEN_SECRET, type Target } from '../lib/target.js';

export interface ConnectConfig {
  readonly connections: number;
  readonly rounds: number;
  /** Client processes per round. */
  readonly workers: number;
  /** Handshakes in flight per client process. */
  readonly concurrency: number;
  readonly pauseMs: number;
}

export interface ConnectRound {
  readonly ms: number;
  readonly connectsPerSec: number;
  /** Server CPU (all threads) over the round, ms. */
  readonly cpuMs: number;
  /** CPU of the round's client processes over the round, ms. */
  readonly clientCpuMs: number;
}

export interface ConnectRun {
  readonly label: string;
  readonly rounds: readonly ConnectRound[];
  /** Median of the rounds' rates. */
  readonly connectsPerSec: number;
  /** Server CPU over all rounds ÷ connections opened, µs. */
  readonly cpuUsPerConnect: number;
  /** The same for the client processes. */
  readonly clientCpuUsPerConnect: number;
}

function clientCpuNs(fleet: Fleet): number {
  return fleet.pids.reduce((a, pid) => a + cpuNs(pid), 0);
}

export async function runConnect(starts: readonly (() => Promise<Target>)[], cfg: ConnectConfig, log: (s: string) => void): Promise<ConnectRun[]> {
  const targets: Target[] = [];
  try {
    for (const start of starts) targets.push(await start());
    const rounds = new Map<Target, ConnectRound[]>(targets.map((t) => [t, []]));
    for (let r = 0; r < cfg.rounds; r++) {
      for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
        const fleet = Fleet.start(cfg.workers);
        try {
          // An answer from every worker first: their start-up is not counted.
          await fleet.received();
          const c0 = cpuNs(t.pid);
          const k0 = clientCpuNs(fleet);
          const c = await fleet.connectTo(cfg.connections, { url: t.wsUrl, ca: t.ca, app: BENCH_APP, secret: BENCH_TOKEN_SECRET, concurrency: cfg.concurrency, timeoutMs: 30_000 });
          const cpuMs = (cpuNs(t.pid) - c0) / 1e6;
          const clientCpuMs = (clientCpuNs(fleet) - k0) / 1e6;
          if (c.failed > 0) throw new Error(`${t.label}: ${c.failed} of ${cfg.connections} connections failed (${c.firstFailure})\n${t.stderrTail()}`);
          rounds.get(t)?.push({ ms: c.ms, connectsPerSec: c.ok / (c.ms / 1000), cpuMs, clientCpuMs });
        } finally {
          await fleet.stop();
        }
        await sleep(cfg.pauseMs);
      }
    }
    return targets.map((t) => {
      const rs = rounds.get(t) ?? [];
      const run: ConnectRun = {
        label: t.label,
        rounds: rs,
        connectsPerSec: median(rs.map((r) => r.connectsPerSec)),
        cpuUsPerConnect: (rs.reduce((a, r) => a + r.cpuMs, 0) * 1000) / (rs.length * cfg.connections),
        clientCpuUsPerConnect: (rs.reduce((a, r) => a + r.clientCpuMs, 0) * 1000) / (rs.length * cfg.connections),
      };
      log(`${t.label}: connect ${run.connectsPerSec.toFixed(0)}/s (rounds ${rs.map((r) => r.connectsPerSec.toFixed(0)).join(' ')}), CPU per connect: server ${run.cpuUsPerConnect.toFixed(0)} µs, clients ${run.clientCpuUsPerConnect.toFixed(0)} µs`);
      return run;
    });
  } finally {
    for (const t of targets) await t.stop();
  }
}
