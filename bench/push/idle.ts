// Idle connections: server memory at rest. Each reading forces a full GC in
// the server (through its inspector), then takes RSS from /proc/<pid>/status
// and the V8 heap as the server reports it; a few readings a second apart, the
// median kept. Per-connection cost = (reading at N − reading at 0) / N.
import { sleep } from '../lib/clock.js';
import { cpuNs } from '../lib/cpu-time.js';
import { rssBytes } from '../lib/proc-mem.js';
import { median } from '../lib/stats.js';
import type { Target } from '../lib/target.js';

export interface Memory {
  /** Median of the RSS readings, bytes. */
  readonly rssBytes: number;
  /** Median of the heap-used readings, bytes. */
  readonly heapBytes: number;
}

export interface IdlePoint extends Memory {
  readonly connections: number;
  /** Server CPU while the connections sit idle (each pings every 20 s), ms per second. */
  readonly cpuMsPerSec: number;
  readonly rssPerConnBytes: number;
  readonly heapPerConnBytes: number;
}

export async function readMemory(t: Target, settleMs: number, samples: number): Promise<Memory> {
  await sleep(settleMs);
  const rss: number[] = [];
  const heap: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (i > 0) await sleep(1000);
    await t.collectGarbage();
    rss.push(await rssBytes(t.pid));
    heap.push(await t.heapUsed());
  }
  return { rssBytes: median(rss), heapBytes: median(heap) };
}

/** The server's CPU rate over `ms` of doing nothing but holding its connections, ms per second. */
export async function idleCpu(t: Target, ms: number): Promise<number> {
  const c0 = cpuNs(t.pid);
  const t0 = performance.now();
  await sleep(ms);
  return (cpuNs(t.pid) - c0) / 1e6 / ((performance.now() - t0) / 1000);
}

export function idlePoint(connections: number, idle: Memory, at: Memory, cpuMsPerSec: number): IdlePoint {
  return {
    connections,
    cpuMsPerSec,
    ...at,
    rssPerConnBytes: (at.rssBytes - idle.rssBytes) / connections,
    heapPerConnBytes: (at.heapBytes - idle.heapBytes) / connections,
  };
}
