// Broadcast jobs: a message stored in the app's broadcast log (so devices that
// bind within its TTL still get it) and written to every local connection of
// the app at a paced rate, with progress. The frame is encoded and framed
// once per subprotocol and the same bytes go to every socket (ws-frame.ts).
import { randomUUID } from 'node:crypto';
import type { Delivery } from './delivery.js';
import type { Hub } from './hub.js';
import type { Json, Saver } from './saver/saver.js';
import type { Metrics } from './metrics.js';
import { SharedFrame } from './protocol/codec.js';

/** The shortest pacing tick; a slow rate gets longer ticks of one connection each. */
const TICK_MS_MIN = 50;

export interface BroadcastJob {
  readonly job: string;
  readonly app: string;
  state: 'running' | 'done' | 'failed';
  delivered: number;
  /** Connections of the app on this node when the job started. */
  readonly targets: number;
  readonly startedAt: number;
  finishedAt?: number;
  error?: string;
}

export class Broadcasts {
  private readonly jobs = new Map<string, BroadcastJob>();

  constructor(
    private readonly saver: Saver,
    private readonly hub: Hub,
    private readonly delivery: Delivery,
    private readonly metrics: Metrics,
    private readonly jobsMax: number,
    private readonly now: () => number,
  ) {}

  /** `id`: the cluster-wide job id when another member started the job. */
  async start(app: string, data: Json, ttlSeconds: number, rate: number, id: string = randomUUID()): Promise<BroadcastJob> {
    const rec = await this.saver.appendBroadcast(app, id, data, ttlSeconds * 1000);
    const targets = this.hub.bindingsOfApp(app);
    const job: BroadcastJob = { job: id, app, state: 'running', delivered: 0, targets: targets.length, startedAt: this.now() };
    this.remember(job);
    this.metrics.broadcastJobs.inc();
    this.metrics.broadcastTargets.inc(targets.length);
    const frame = new SharedFrame({ t: 'msg', app, id, data, ts: rec.ts, qos: 0 });
    const tickMs = Math.max(TICK_MS_MIN, 1000 / rate);
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
    let i = 0;
    const step = (): void => {
      const end = Math.min(targets.length, i + perTick);
      let written = 0;
      for (; i < end; i++) {
        const b = targets[i];
        // Skips bindings gone since the start, and devices that already got it from the log.
        if (b === undefined || !b.active || !b.started || b.broadcastPos >= rec.pos) continue;
        b.client.writeShared(frame);
        this.delivery.noteBroadcast(b, rec.pos);
        written++;
      }
      job.delivered += written;
      this.metrics.broadcastDelivered.inc(written);
      if (i < targets.length) {
        setTimeout(step, tickMs);
      } else {
        job.state = 'done';
        job.finishedAt = this.now();
      }
    };
    step();
    return job;
  }

  get(app: string, job: string): BroadcastJob | undefined {
    const j = this.jobs.get(job);
    return j?.app === app ? j : undefined;
  }

  /** The remembered jobs of every app, newest first. */
  list(): BroadcastJob[] {
    return [...this.jobs.values()].reverse();
  }

  running(): number {
    let n = 0;
    for (const j of this.jobs.values()) if (j.state === 'running') n++;
    return n;
  }

  /** Keeps at most jobsMax jobs: the oldest are forgotten first (a Map iterates in insertion order). */
  private remember(job: BroadcastJob): void {
    this.jobs.set(job.job, job);
    while (this.jobs.size > this.jobsMax) {
      const oldest = this.jobs.keys().next();
      if (oldest.done === true) break;
      this.jobs.delete(oldest.value);
    }
  }
}
