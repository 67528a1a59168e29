// A system's figures over one or more rounds: operations and time summed,
// latencies pooled before taking percentiles, server CPU per successful
// operation.
import { percentile, sorted } from '../lib/stats.js';
import type { FanoutResult } from './fanout.js';
import type { PhaseRun, SystemRun } from './run-system.js';

export interface PhaseFigures {
  readonly ok: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly maxMs: number;
  readonly serverCpuUsPerOp: number;
  /** The load generator's CPU per successful operation (run-system.ts, clientCpuNs). */
  readonly clientCpuUsPerOp: number;
  /** Rounds ended by the time bound rather than the count. */
  readonly timeBoundRounds: number;
}

export interface FanoutFigures {
  readonly rounds: number;
  readonly deliveries: number;
  readonly missed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Median over put rounds of the time until the last watcher had the value. */
  readonly allSeenMedianMs: number;
}

export interface SystemFigures {
  readonly put: PhaseFigures;
  readonly get: PhaseFigures;
  readonly fanout: FanoutFigures;
}

export function concat(parts: readonly ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function phase(runs: readonly PhaseRun[]): PhaseFigures {
  const asc = sorted(concat(runs.map((r) => r.latenciesMs)));
  const ok = runs.reduce((n, r) => n + r.ok, 0);
  const elapsedMs = runs.reduce((n, r) => n + r.elapsedMs, 0);
  const cpuNs = runs.reduce((n, r) => n + r.serverCpuNs, 0);
  const clientNs = runs.reduce((n, r) => n + r.clientCpuNs, 0);
  const firstError = runs.find((r) => r.firstError !== undefined)?.firstError;
  return {
    ok,
    errors: runs.reduce((n, r) => n + r.errors, 0),
    ...(firstError === undefined ? {} : { firstError }),
    opsPerSec: elapsedMs > 0 ? (ok * 1000) / elapsedMs : NaN,
    p50Ms: percentile(asc, 50),
    p99Ms: percentile(asc, 99),
    meanMs: asc.length > 0 ? asc.reduce((a, b) => a + b, 0) / asc.length : NaN,
    maxMs: asc[asc.length - 1] ?? NaN,
    serverCpuUsPerOp: ok > 0 ? cpuNs / 1000 / ok : NaN,
    clientCpuUsPerOp: ok > 0 ? clientNs / 1000 / ok : NaN,
    timeBoundRounds: runs.filter((r) => r.timeBound).length,
  };
}

export function fanoutFigures(runs: readonly FanoutResult[]): FanoutFigures {
  const lat = sorted(concat(runs.map((r) => r.latenciesMs)));
  return {
    rounds: runs.reduce((n, r) => n + r.rounds, 0),
    deliveries: lat.length,
    missed: runs.reduce((n, r) => n + r.missed, 0),
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    allSeenMedianMs: percentile(sorted(concat(runs.map((r) => r.allSeenMs))), 50),
  };
}

export function summarize(runs: readonly SystemRun[]): SystemFigures {
  return {
    put: phase(runs.map((r) => r.put)),
    get: phase(runs.map((r) => r.get)),
    fanout: fanoutFigures(runs.map((r) => r.fanout)),
  };
}
