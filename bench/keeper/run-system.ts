// Runs every phase against one started system: the keys created (not
// measured), then puts, linearizable reads and the watch fan-out, each after a
// short unmeasured warm-up, with the servers' CPU time over each phase.
import { cpuNs } from '../lib/cpu-time.js';
import { percentile, sorted } from '../lib/stats.js';
import { runFanout } from './fanout.js';
import { runLoad, type LoadResult, type LoadSpec } from './load.js';
import type { Options } from './options.js';
import type { KvTarget } from './system.js';

export interface PhaseFigures {
  readonly ok: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly maxMs: number;
  /** CPU time of all server processes (every member, all threads) per successful operation. */
  readonly serverCpuUsPerOp: number;
  readonly endedBy: 'count' | 'time';
}

export interface FanoutFigures {
  readonly watchers: number;
  readonly rounds: number;
  readonly deliveries: number;
  readonly missed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Median over rounds of the time until the last watcher had the value. */
  readonly allSeenMedianMs: number;
}

export interface SystemFigures {
  readonly put: PhaseFigures;
  readonly get: PhaseFigures;
  readonly fanout: FanoutFigures;
}

const SETUP_TIMEOUT_MS = 120_000;
const WARMUP_MS = 2000;

function serverCpuNs(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuNs(pid), 0);
}

function figures(r: LoadResult, cpuNsUsed: number): PhaseFigures {
  const asc = sorted(r.latenciesMs);
  const sum = asc.reduce((a, b) => a + b, 0);
  return {
    ok: r.ok,
    errors: r.errors,
    ...(r.firstError === undefined ? {} : { firstError: r.firstError }),
    opsPerSec: r.elapsedMs > 0 ? (r.ok * 1000) / r.elapsedMs : NaN,
    p50Ms: percentile(asc, 50),
    p99Ms: percentile(asc, 99),
    meanMs: asc.length > 0 ? sum / asc.length : NaN,
    maxMs: asc[asc.length - 1] ?? NaN,
    serverCpuUsPerOp: r.ok > 0 ? cpuNsUsed / 1000 / r.ok : NaN,
    endedBy: r.timeBound ? 'time' : 'count',
  };
}

export async function runSystem(t: KvTarget, o: Options, log: (s: string) => void): Promise<SystemFigures> {
  const keys = Array.from({ length: o.keys }, (_, i) => `bench/k${String(i).padStart(6, '0')}`);
  const key = (i: number): string => keys[i % keys.length] ?? '';
  const value = (i: number): string => `v${i}:`.padEnd(o.valueBytes, 'x');
  const spec: LoadSpec = { concurrency: o.concurrency, ops: o.ops, timeBoundMs: o.seconds * 1000 };
  const warm: LoadSpec = { concurrency: o.concurrency, ops: Math.max(1, Math.ceil(o.ops / 10)), timeBoundMs: WARMUP_MS };

  const setup = await runLoad({ concurrency: o.concurrency, ops: keys.length, timeBoundMs: SETUP_TIMEOUT_MS }, (w, i) => t.create(w, key(i), value(i)));
  if (setup.ok !== keys.length) throw new Error(`${t.system}: created ${setup.ok} of ${keys.length} keys; first error: ${setup.firstError ?? 'none (time bound)'}`);

  const put = (w: number, i: number): Promise<void> => t.put(w, key(i), value(i));
  await runLoad(warm, put);
  let cpu0 = serverCpuNs(t.pids);
  const puts = await runLoad(spec, put);
  const putF = figures(puts, serverCpuNs(t.pids) - cpu0);
  log(`${t.system}: put ${putF.opsPerSec.toFixed(0)}/s, p50 ${putF.p50Ms.toFixed(2)} ms, p99 ${putF.p99Ms.toFixed(2)} ms, ${putF.errors} errors`);

  // Reads spread over the keys in a different order than the writes.
  const get = async (w: number, i: number): Promise<void> => {
    const v = await t.get(w, key(i * 7919));
    if (v.length !== o.valueBytes) throw new Error(`${t.system}: read ${v.length} bytes, expected ${o.valueBytes}`);
  };
  await runLoad(warm, get);
  cpu0 = serverCpuNs(t.pids);
  const gets = await runLoad(spec, get);
  const getF = figures(gets, serverCpuNs(t.pids) - cpu0);
  log(`${t.system}: linearizable get ${getF.opsPerSec.toFixed(0)}/s, p50 ${getF.p50Ms.toFixed(2)} ms, p99 ${getF.p99Ms.toFixed(2)} ms, ${getF.errors} errors`);

  const f = await runFanout(t, { watchers: o.watchers, rounds: o.watchRounds, valueBytes: o.valueBytes, timeBoundMs: o.seconds * 1000 });
  const asc = sorted(f.latenciesMs);
  const fanout: FanoutFigures = {
    watchers: o.watchers,
    rounds: f.rounds,
    deliveries: f.latenciesMs.length,
    missed: f.missed,
    p50Ms: percentile(asc, 50),
    p99Ms: percentile(asc, 99),
    allSeenMedianMs: percentile(sorted(f.allSeenMs), 50),
  };
  log(`${t.system}: watch fan-out to ${o.watchers}: p50 ${fanout.p50Ms.toFixed(2)} ms, p99 ${fanout.p99Ms.toFixed(2)} ms, all seen (median) ${fanout.allSeenMedianMs.toFixed(2)} ms, ${fanout.missed} missed`);
  return { put: putF, get: getF, fanout };
}
