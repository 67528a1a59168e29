// Runs every phase against one started system: the keys created (not
// measured), then puts, linearizable reads and the watch fan-out, each after a
// warm-up until its rate settles (warm-up.ts), with the servers' CPU time over each phase.
import { cpuNs } from '../lib/cpu-time.js';
import { runFanout, type FanoutResult } from './fanout.js';
import { runLoad, type LoadResult, type LoadSpec } from './load.js';
import { describeWarmUp, warmUp, WARM_UP, WARM_UP_QUICK } from './warm-up.js';
import type { Options } from './options.js';
import type { KvTarget } from './system.js';

export interface PhaseRun extends LoadResult {
  /** CPU time of all server processes (every member, all threads) over the phase. */
  readonly serverCpuNs: number;
  /**
   * CPU time of this process (the load generator: HTTP or ZooKeeper clients)
   * over the phase. It shares the machine's cores with the servers, so a
   * CPU-bound phase's ops/s is at most cores ÷ (server + client CPU per op).
   */
  readonly clientCpuNs: number;
}

/** One system's raw results in one round. */
export interface SystemRun {
  readonly put: PhaseRun;
  readonly get: PhaseRun;
  readonly fanout: FanoutResult;
}

const SETUP_TIMEOUT_MS = 120_000;

function serverCpuNs(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuNs(pid), 0);
}

/** A load phase with the servers' CPU time over it. */
export async function measured(t: KvTarget, spec: LoadSpec, op: (w: number, i: number) => Promise<void>): Promise<PhaseRun> {
  const cpu0 = serverCpuNs(t.pids);
  const own0 = process.cpuUsage();
  const r = await runLoad(spec, op);
  const own = process.cpuUsage(own0);
  return { ...r, serverCpuNs: serverCpuNs(t.pids) - cpu0, clientCpuNs: (own.user + own.system) * 1000 };
}

export const rate = (r: LoadResult): string => `${((r.ok * 1000) / r.elapsedMs).toFixed(0)}/s, ${r.errors} errors`;

export async function runSystem(t: KvTarget, o: Options, log: (s: string) => void): Promise<SystemRun> {
  const keys = Array.from({ length: o.keys }, (_, i) => `bench/k${String(i).padStart(6, '0')}`);
  const key = (i: number): string => keys[i % keys.length] ?? '';
  const value = (i: number): string => `v${i}:`.padEnd(o.valueBytes, 'x');
  const spec: LoadSpec = { concurrency: o.concurrency, ops: o.ops, timeBoundMs: o.seconds * 1000 };
  const rule = o.quick ? WARM_UP_QUICK : WARM_UP;

  const setup = await runLoad({ concurrency: o.concurrency, ops: keys.length, timeBoundMs: SETUP_TIMEOUT_MS }, (w, i) => t.create(w, key(i), value(i)));
  if (setup.ok !== keys.length) throw new Error(`${t.system}: created ${setup.ok} of ${keys.length} keys; first error: ${setup.firstError ?? 'none (time bound)'}`);

  const put = (w: number, i: number): Promise<void> => t.put(w, key(i), value(i));
  const warmPuts = await warmUp(o.concurrency, put, rule);
  const puts = await measured(t, spec, put);
  log(`${t.system}: put ${rate(puts)} (${describeWarmUp(warmPuts, rule.sliceMs)})`);

  // Reads spread over the keys in another order than the writes.
  const get = async (w: number, i: number): Promise<void> => {
    const v = await t.get(w, key(i * 7919));
    if (v.length !== o.valueBytes) throw new Error(`${t.system}: read ${v.length} bytes, expected ${o.valueBytes}`);
  };
  const warmGets = await warmUp(o.concurrency, get, rule);
  const gets = await measured(t, spec, get);
  log(`${t.system}: linearizable get ${rate(gets)} (${describeWarmUp(warmGets, rule.sliceMs)})`);

  const fanout = await runFanout(t, { watchers: o.watchers, rounds: o.watchRounds, valueBytes: o.valueBytes, timeBoundMs: o.seconds * 1000 });
  log(`${t.system}: watch fan-out to ${o.watchers}: ${fanout.rounds} rounds, ${fanout.missed} missed`);
  return { put: puts, get: gets, fanout };
}
