// Unmeasured load before a measured phase, until the rate settles. A JIT
// runtime reaches its steady rate only after seconds of load (longwire on V8:
// 2,000/s in the first second of 256 puts in flight, ~10,000/s from the sixth
// on; ZooKeeper on the JVM likewise), a native binary (etcd) almost at once.
// Every system gets the same rule, so none is measured while still compiling.
import { runLoad } from './load.js';

export interface WarmUpRule {
  /** Length of one slice of load whose rate is compared. */
  readonly sliceMs: number;
  /** The rate has settled when this many last slices are within `tolerance` of their mean. */
  readonly settledSlices: number;
  readonly tolerance: number;
  /** Give up waiting (the phase is measured anyway) after this long. */
  readonly maxMs: number;
}

export const WARM_UP: WarmUpRule = { sliceMs: 1000, settledSlices: 3, tolerance: 0.1, maxMs: 20_000 };
/** Quick runs: a short fixed warm-up, as before the rule. */
export const WARM_UP_QUICK: WarmUpRule = { sliceMs: 1000, settledSlices: 2, tolerance: 0.15, maxMs: 2000 };

/** Ops/s of each slice run. */
export async function warmUp(concurrency: number, op: (w: number, i: number) => Promise<void>, rule: WarmUpRule): Promise<number[]> {
  const rates: number[] = [];
  let spent = 0;
  while (spent < rule.maxMs) {
    const r = await runLoad({ concurrency, ops: Number.MAX_SAFE_INTEGER, timeBoundMs: rule.sliceMs }, op);
    spent += r.elapsedMs;
    rates.push(r.elapsedMs > 0 ? (r.ok * 1000) / r.elapsedMs : 0);
    if (settled(rates, rule)) break;
  }
  return rates;
}

export function settled(rates: readonly number[], rule: WarmUpRule): boolean {
  if (rates.length < rule.settledSlices) return false;
  const last = rates.slice(-rule.settledSlices);
  const mean = last.reduce((a, b) => a + b, 0) / last.length;
  return mean > 0 && last.every((r) => Math.abs(r - mean) <= rule.tolerance * mean);
}

/** "2,041 → 10,532/s in 6 s" for the log. */
export function describeWarmUp(rates: readonly number[], sliceMs: number): string {
  const f = (n: number): string => Math.round(n).toLocaleString('en-US');
  return `warm-up ${f(rates[0] ?? 0)} → ${f(rates[rates.length - 1] ?? 0)}/s in ${((rates.length * sliceMs) / 1000).toFixed(0)} s`;
}
