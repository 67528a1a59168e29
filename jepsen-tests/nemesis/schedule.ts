// A seeded fault schedule for one node: kill -9 and restart, SIGSTOP/SIGCONT,
// and network blips of random devices. Printed in full so a run can be
// replayed from its seed.
import type { Rng } from '../cluster/rng.js';

export type Fault =
  | { readonly at: number; readonly kind: 'kill-restart'; readonly downMs: number }
  | { readonly at: number; readonly kind: 'pause'; readonly pauseMs: number }
  | { readonly at: number; readonly kind: 'blip'; readonly devices: number };

export function makeSchedule(rng: Rng, durationMs: number, meanGapMs: number): Fault[] {
  const out: Fault[] = [];
  let t = 0;
  for (;;) {
    t += Math.floor(meanGapMs / 2 + rng.next() * meanGapMs);
    if (t >= durationMs) return out;
    const r = rng.next();
    if (r < 0.4) out.push({ at: t, kind: 'kill-restart', downMs: 100 + rng.int(400) });
    else if (r < 0.7) out.push({ at: t, kind: 'pause', pauseMs: 200 + rng.int(1200) });
    else out.push({ at: t, kind: 'blip', devices: 1 + rng.int(5) });
  }
}

export function formatSchedule(s: readonly Fault[]): string {
  return s.map((f) => `  +${f.at}ms ${f.kind} ${JSON.stringify({ ...f, at: undefined, kind: undefined })}`).join('\n');
}
