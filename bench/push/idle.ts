// Idle connections: server memory at rest. Each reading forces a full GC in
// the server (through its inspector), then takes RSS from /proc/<pid>/status
// and the V8 heap as the server reports it; a few readings a second apart, the
// median kept. Per-connection cost = (reading at N − reading at 0) / N.
import { sleep } from '../lib/clock.js';
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

export function idlePoint(connections: number, idle: Memory, at: Memory): IdlePoint {
  return {
    connections,
    ...at,
    rssPerConnBytes: (at.rssBytes - idle.rssBytes) / connections,
    heapPerConnBytes: (at.heapBytes - idle.heapBytes) / connections,
  };
}
