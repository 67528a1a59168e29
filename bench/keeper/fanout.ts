// Watch fan-out: N watchers on one key, spread over the members, and rounds
// of one put each (through member 0); per watcher, the time from just before
// the put is sent to its watch delivering that value. A round ends when all N
// have it (or after a timeout, counting the missing as missed), so rounds do
// not overlap and a ZooKeeper watcher has set its one-shot watch again.
import { nowMs, sleep } from '../lib/clock.js';
import type { KvTarget, Watch } from './system.js';

export interface FanoutSpec {
  readonly watchers: number;
  readonly rounds: number;
  readonly valueBytes: number;
  readonly timeBoundMs: number;
}

export interface FanoutResult {
  readonly rounds: number;
  /** Every watcher's latency in every round, ms, unsorted. */
  readonly latenciesMs: number[];
  /** Per round, the time until the last watcher had the value, ms. */
  readonly allSeenMs: number[];
  readonly missed: number;
}

const KEY = 'bench/watched';
const ROUND_TIMEOUT_MS = 5000;
const WARMUP_TRIES = 3;

interface Round {
  readonly n: number;
  readonly t0: number;
  readonly seen: Set<number>;
  readonly latencies: number[];
  done: () => void;
}

export async function runFanout(target: KvTarget, spec: FanoutSpec): Promise<FanoutResult> {
  const valueOf = (n: number): string => `round-${n}:`.padEnd(spec.valueBytes, 'w');
  await target.create(0, KEY, valueOf(0));
  let current: Round | undefined;
  const watches: Watch[] = [];
  try {
    for (let w = 0; w < spec.watchers; w++) {
      watches.push(
        await target.watch(w, KEY, (at, value) => {
          const r = current;
          if (r === undefined || value !== valueOf(r.n) || r.seen.has(w)) return;
          r.seen.add(w);
          r.latencies.push(at - r.t0);
          if (r.seen.size === spec.watchers) r.done();
        }),
      );
    }
    let n = 0;
    /** One put and its fan-out; resolves with the round once all have it or it timed out. */
    const round = async (): Promise<Round> => {
      n++;
      let done!: () => void;
      const all = new Promise<void>((resolve) => (done = resolve));
      const r: Round = { n, t0: nowMs(), seen: new Set(), latencies: [], done };
      current = r;
      await target.put(0, KEY, valueOf(n));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, ROUND_TIMEOUT_MS)))]);
      clearTimeout(timer);
      current = undefined;
      return r;
    };
    // Not measured: the first rounds prove every watch delivers (and warm up both ends).
    for (let tries = 1; ; tries++) {
      const r = await round();
      if (r.seen.size === spec.watchers) break;
      if (tries >= WARMUP_TRIES) throw new Error(`watch fan-out: ${spec.watchers - r.seen.size} of ${spec.watchers} watchers saw no put in ${WARMUP_TRIES} warm-up rounds`);
    }
    const deadline = nowMs() + spec.timeBoundMs;
    const latenciesMs: number[] = [];
    const allSeenMs: number[] = [];
    let missed = 0;
    let rounds = 0;
    while (rounds < spec.rounds && nowMs() < deadline) {
      const r = await round();
      rounds++;
      latenciesMs.push(...r.latencies);
      missed += spec.watchers - r.seen.size;
      if (r.seen.size === spec.watchers) allSeenMs.push(Math.max(...r.latencies));
      // A short gap, so that one round's tail (socket writes, GC) is not the next round's start.
      await sleep(5);
    }
    return { rounds, latenciesMs, allSeenMs, missed };
  } finally {
    for (const w of watches) w.close();
  }
}
