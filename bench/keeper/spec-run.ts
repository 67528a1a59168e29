// Issue #5's load against one started system: the keys created (not
// measured), puts at each in-flight count of the spec (1, 64, 256) with
// 100-byte values, linearizable gets at 64 in flight, then the watch
// latency; each load phase after an unmeasured warm-up until its rate
// settles (warm-up.ts), with the servers' CPU time over it.
import { runFanout, type FanoutResult } from './fanout.js';
import { runLoad, type LoadSpec } from './load.js';
import { describeWarmUp, warmUp, WARM_UP, WARM_UP_QUICK } from './warm-up.js';
import type { Options } from './options.js';
import { measured, rate, type PhaseRun } from './run-system.js';
import type { KvTarget } from './system.js';

export interface SpecSystemRun {
  /** One per in-flight count of Options.putConcurrencies, in that order. */
  readonly puts: readonly { readonly inFlight: number; readonly run: PhaseRun }[];
  readonly get: PhaseRun;
  readonly watch: FanoutResult;
}

const SETUP_TIMEOUT_MS = 120_000;

/** The clients a spec target needs: one per operation in flight in its busiest phase. */
export function specConcurrency(o: Options): number {
  return Math.max(o.concurrency, ...o.putConcurrencies);
}

export async function runSpecSystem(t: KvTarget, o: Options, log: (s: string) => void): Promise<SpecSystemRun> {
  const keys = Array.from({ length: o.keys }, (_, i) => `bench/k${String(i).padStart(6, '0')}`);
  const key = (i: number): string => keys[i % keys.length] ?? '';
  const value = (i: number): string => `v${i}:`.padEnd(o.valueBytes, 'x');
  const spec = (concurrency: number): LoadSpec => ({ concurrency, ops: o.ops, timeBoundMs: o.seconds * 1000 });
  const rule = o.quick ? WARM_UP_QUICK : WARM_UP;

  const setup = await runLoad({ concurrency: o.concurrency, ops: keys.length, timeBoundMs: SETUP_TIMEOUT_MS }, (w, i) => t.create(w, key(i), value(i)));
  if (setup.ok !== keys.length) throw new Error(`${t.system}: created ${setup.ok} of ${keys.length} keys; first error: ${setup.firstError ?? 'none (time bound)'}`);

  const put = (w: number, i: number): Promise<void> => t.put(w, key(i), value(i));
  const puts: { inFlight: number; run: PhaseRun }[] = [];
  for (const inFlight of o.putConcurrencies) {
    const warm = await warmUp(inFlight, put, rule);
    const run = await measured(t, spec(inFlight), put);
    log(`${t.system}: put at ${inFlight} in flight ${rate(run)} (${describeWarmUp(warm, rule.sliceMs)})`);
    puts.push({ inFlight, run });
  }

  // Reads spread over the keys in another order than the writes.
  const get = async (w: number, i: number): Promise<void> => {
    const v = await t.get(w, key(i * 7919));
    if (v.length !== o.valueBytes) throw new Error(`${t.system}: read ${v.length} bytes, expected ${o.valueBytes}`);
  };
  const warmGets = await warmUp(o.concurrency, get, rule);
  const gets = await measured(t, spec(o.concurrency), get);
  log(`${t.system}: linearizable get at ${o.concurrency} in flight ${rate(gets)} (${describeWarmUp(warmGets, rule.sliceMs)})`);

  const watch = await runFanout(t, { watchers: o.watchers, rounds: o.watchRounds, valueBytes: o.valueBytes, timeBoundMs: o.seconds * 1000 });
  log(`${t.system}: watch latency (${o.watchers} watcher(s)): ${watch.rounds} rounds, ${watch.missed} missed`);
  return { puts, get: gets, watch };
}
