// Broadcast across the cluster: the node that receives the request starts the
// job on itself and asks every other member to start it under the same job id
// (each appends to its own broadcast log and writes to its own connections at
// the paced rate). Progress is the sum over the members that answer.
import { randomUUID } from 'node:crypto';
import type { Keeper, Member } from '../../keeper/src/keeper.js';
import type { BroadcastJob, Broadcasts } from './broadcast.js';
import type { Json } from './saver/saver.js';
import type { Peers } from './peer/peers.js';
import { PeerError } from './peer/errors.js';

export interface ClusterBroadcastJob {
  readonly job: string;
  readonly state: 'running' | 'done' | 'failed';
  readonly delivered: number;
  readonly targets: number;
  readonly startedAt: number;
  readonly finishedAt?: number;
  /** Members that did not start the job or did not answer for it. */
  readonly missing: readonly string[];
}

export interface BroadcastStart {
  readonly app: string;
  readonly job: string;
  readonly data: Json;
  readonly ttl: number;
  readonly rate: number;
}

type JobView = Pick<BroadcastJob, 'job' | 'state' | 'delivered' | 'targets' | 'startedAt' | 'finishedAt'>;

export function jobView(j: BroadcastJob): JobView {
  return { job: j.job, state: j.state, delivered: j.delivered, targets: j.targets, startedAt: j.startedAt, ...(j.finishedAt === undefined ? {} : { finishedAt: j.finishedAt }) };
}

function asJobView(v: unknown): JobView | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.job !== 'string' || typeof o.delivered !== 'number' || typeof o.targets !== 'number' || typeof o.startedAt !== 'number') return undefined;
  if (o.state !== 'running' && o.state !== 'done' && o.state !== 'failed') return undefined;
  return { job: o.job, state: o.state, delivered: o.delivered, targets: o.targets, startedAt: o.startedAt, ...(typeof o.finishedAt === 'number' ? { finishedAt: o.finishedAt } : {}) };
}

export class ClusterBroadcasts {
  constructor(
    private readonly nodeId: string,
    private readonly keeper: Keeper,
    private readonly local: Broadcasts,
    private readonly peers: Peers,
  ) {}

  private others(): Member[] {
    return this.keeper.cluster().members.filter((m) => m.id !== this.nodeId);
  }

  async start(app: string, data: Json, ttl: number, rate: number): Promise<string> {
    const job = randomUUID();
    await this.local.start(app, data, ttl, rate, job);
    const req: BroadcastStart = { app, job, data, ttl, rate };
    // A member that cannot be reached now misses this job; GET reports it in `missing`.
    await Promise.all(this.others().map((m) => this.peers.of(m).call('broadcast', req).catch((err: unknown) => (err instanceof PeerError ? undefined : Promise.reject(err)))));
    return job;
  }

  async get(app: string, job: string): Promise<ClusterBroadcastJob | undefined> {
    const mine = this.local.get(app, job);
    const views: JobView[] = mine === undefined ? [] : [jobView(mine)];
    const missing: string[] = mine === undefined ? [this.nodeId] : [];
    await Promise.all(
      this.others().map(async (m) => {
        const v = await this.peers
          .of(m)
          .call('broadcastStatus', { app, job })
          .catch(() => undefined);
        const view = asJobView(v);
        if (view === undefined) missing.push(m.id);
        else views.push(view);
      }),
    );
    if (views.length === 0) return undefined;
    const running = views.some((v) => v.state === 'running');
    const failed = views.some((v) => v.state === 'failed');
    const finished = views.map((v) => v.finishedAt ?? 0);
    return {
      job,
      state: failed ? 'failed' : running ? 'running' : 'done',
      delivered: views.reduce((a, v) => a + v.delivered, 0),
      targets: views.reduce((a, v) => a + v.targets, 0),
      startedAt: Math.min(...views.map((v) => v.startedAt)),
      ...(running ? {} : { finishedAt: Math.max(...finished) }),
      missing: missing.sort(),
    };
  }
}
