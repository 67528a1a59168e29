// The load generator every system gets: a closed loop of `concurrency`
// workers, each starting its next operation when the last one answered,
// until `ops` operations are started or the time bound passes. Worker w
// always passes w to the operation (so it keeps to one member / session).
import { nowMs } from '../lib/clock.js';

export interface LoadSpec {
  readonly concurrency: number;
  readonly ops: number;
  readonly timeBoundMs: number;
}

export interface LoadResult {
  readonly ok: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  /** First start to last answer. */
  readonly elapsedMs: number;
  /** Whether the time bound, not the count, ended the phase. */
  readonly timeBound: boolean;
  /** Latency of each successful operation, ms, unsorted. */
  readonly latenciesMs: Float64Array;
}

/** Past the time bound, operations in flight get this long to answer before the phase is abandoned as hung. */
const HUNG_AFTER_MS = 20_000;

export async function runLoad(spec: LoadSpec, op: (worker: number, i: number) => Promise<void>): Promise<LoadResult> {
  // Grown by doubling: a time-bound phase may name no useful count.
  let lat = new Float64Array(Math.min(spec.ops, 1 << 16));
  let next = 0;
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  const t0 = nowMs();
  const deadline = t0 + spec.timeBoundMs;
  let timeBound = false;
  const worker = async (w: number): Promise<void> => {
    for (;;) {
      if (next >= spec.ops) return;
      const start = nowMs();
      if (start >= deadline) {
        timeBound = true;
        return;
      }
      const i = next++;
      try {
        await op(w, i);
        if (ok === lat.length) {
          const grown = new Float64Array(lat.length * 2);
          grown.set(lat);
          lat = grown;
        }
        lat[ok++] = nowMs() - start;
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  let hung: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(Array.from({ length: spec.concurrency }, (_, w) => worker(w))),
    new Promise((_, reject) => {
      hung = setTimeout(() => reject(new Error(`load phase: operations still pending ${HUNG_AFTER_MS} ms past the ${spec.timeBoundMs} ms bound`)), spec.timeBoundMs + HUNG_AFTER_MS);
    }),
  ]).finally(() => clearTimeout(hung));
  return { ok, errors, firstError, elapsedMs: nowMs() - t0, timeBound, latenciesMs: lat.slice(0, ok) };
}
