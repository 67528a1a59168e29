// The client side of a bench: N forked worker processes (client-worker.ts),
// connections spread evenly over them (a process here may hold at most 20,000
// open files), driven over IPC. Every wait is bounded in time.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Health, WorkerCmd, WorkerReply } from './fleet-messages.js';
import { stopChild, track } from './reaper.js';

const WORKER = fileURLToPath(new URL('./client-worker.js', import.meta.url));

type ReplyOf<T extends WorkerReply['t']> = Extract<WorkerReply, { t: T }>;

class Worker {
  private readonly waiting = new Map<string, ((r: WorkerReply) => void)[]>();
  constructor(readonly child: ChildProcess) {
    child.on('message', (r: WorkerReply) => {
      const q = this.waiting.get(r.t);
      const w = q?.shift();
      if (w !== undefined) w(r);
    });
  }

  send(cmd: WorkerCmd): void {
    this.child.send(cmd);
  }

  /** The next reply of type `t`, or an error after `timeoutMs` or when the worker exits. */
  next<T extends WorkerReply['t']>(t: T, timeoutMs: number): Promise<ReplyOf<T>> {
    return new Promise((resolve, reject) => {
      let q = this.waiting.get(t);
      if (q === undefined) this.waiting.set(t, (q = []));
      const onExit = (code: number | null): void => finish(new Error(`client worker ${this.child.pid ?? '?'} exited (${code ?? 'signal'}) while waiting for ${t}`));
      const timer = setTimeout(() => finish(new Error(`client worker ${this.child.pid ?? '?'}: no ${t} within ${timeoutMs} ms`)), timeoutMs);
      const entry = (r: WorkerReply): void => finish(undefined, r);
      const finish = (err: Error | undefined, r?: WorkerReply): void => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        const i = q.indexOf(entry);
        if (i >= 0) q.splice(i, 1);
        if (err !== undefined || r === undefined) reject(err ?? new Error('no reply'));
        else resolve(r as ReplyOf<T>);
      };
      q.push(entry);
      this.child.once('exit', onExit);
    });
  }

  ask<T extends WorkerReply['t']>(cmd: WorkerCmd, t: T, timeoutMs: number): Promise<ReplyOf<T>> {
    const p = this.next(t, timeoutMs);
    this.send(cmd);
    return p;
  }
}

export interface ConnectResult {
  readonly ok: number;
  readonly failed: number;
  readonly firstFailure: string;
  readonly ms: number;
}

export interface Broadcast {
  readonly got: number;
  readonly expected: number;
  /** Wall-clock ms when the last connection of all workers had the message. */
  readonly lastAt: number;
  /** Per delivery: receipt − the send time written into the message, ms, unsorted. */
  readonly latencies: Float64Array;
}

export interface Samples {
  readonly latencies: Float64Array;
  readonly received: number;
  readonly lastAt: number;
}

export function mergeHealth(hs: readonly Health[]): Health {
  const closes: Record<string, number> = {};
  for (const h of hs) for (const [k, v] of Object.entries(h.closes)) closes[k] = (closes[k] ?? 0) + v;
  return {
    open: hs.reduce((a, h) => a + h.open, 0),
    errorFrames: hs.reduce((a, h) => a + h.errorFrames, 0),
    lastError: hs.map((h) => h.lastError).find((e) => e !== '') ?? '',
    closes,
  };
}

function concat(parts: readonly Float64Array[]): Float64Array {
  const all = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

export class Fleet {
  private readonly workers: Worker[];
  /** Connections opened so far; the next user index. */
  private users = 0;
  health: Health = { open: 0, errorFrames: 0, lastError: '', closes: {} };

  private constructor(workers: Worker[]) {
    this.workers = workers;
  }

  static start(count: number): Fleet {
    const ws: Worker[] = [];
    for (let i = 0; i < count; i++) {
      const child = fork(WORKER, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      track(child);
      ws.push(new Worker(child));
    }
    return new Fleet(ws);
  }

  get pids(): number[] {
    return this.workers.map((w) => w.child.pid ?? -1);
  }

  /** Grows the fleet to `total` bound connections (users u0 … u<total-1>), spread evenly. */
  async connectTo(total: number, opts: { url: string; ca: string | undefined; app: string; secret: string; concurrency: number; timeoutMs: number }): Promise<ConnectResult> {
    const add = total - this.users;
    if (add <= 0) return { ok: 0, failed: 0, firstFailure: '', ms: 0 };
    const n = this.workers.length;
    const jobs: Promise<ReplyOf<'connected'>>[] = [];
    let first = this.users;
    for (let i = 0; i < n; i++) {
      const count = Math.floor(add / n) + (i < add % n ? 1 : 0);
      const w = this.workers[i];
      if (w === undefined || count === 0) continue;
      const cmd: WorkerCmd = { t: 'connect', url: opts.url, ca: opts.ca, app: opts.app, secret: opts.secret, first, count, concurrency: opts.concurrency, timeoutMs: opts.timeoutMs };
      jobs.push(w.ask(cmd, 'connected', opts.timeoutMs * Math.ceil(count / opts.concurrency) + 60_000));
      first += count;
    }
    this.users = total;
    const rs = await Promise.all(jobs);
    this.health = mergeHealth(rs.map((r) => r.health));
    return {
      ok: rs.reduce((a, r) => a + r.ok, 0),
      failed: rs.reduce((a, r) => a + r.failed, 0),
      firstFailure: rs.map((r) => r.firstFailure).find((f) => f !== '') ?? '',
      ms: Math.max(...rs.map((r) => r.ms)),
    };
  }

  /** Arms every worker for broadcast `marker`; `fire` runs once all are armed; resolves when all have it or time runs out. */
  async broadcast(marker: number, timeoutMs: number, fire: () => Promise<void>): Promise<Broadcast> {
    const dones = this.workers.map((w) => w.next('expect-done', timeoutMs + 5000));
    await Promise.all(this.workers.map((w) => w.ask({ t: 'expect', marker, timeoutMs }, 'armed', 5000)));
    await fire();
    const rs = await Promise.all(dones);
    return {
      got: rs.reduce((a, r) => a + r.got, 0),
      expected: rs.reduce((a, r) => a + r.expected, 0),
      lastAt: Math.max(...rs.map((r) => r.lastAt)),
      latencies: concat(rs.map((r) => r.latencies)),
    };
  }

  async reset(): Promise<void> {
    for (const w of this.workers) w.send({ t: 'reset' });
    await this.received();
  }

  /** Unicast messages received since the last reset, over all workers. */
  async received(): Promise<number> {
    const rs = await Promise.all(this.workers.map((w) => w.ask({ t: 'count' }, 'count', 10_000)));
    this.health = mergeHealth(rs.map((r) => r.health));
    return rs.reduce((a, r) => a + r.received, 0);
  }

  async collect(): Promise<Samples> {
    const rs = await Promise.all(this.workers.map((w) => w.ask({ t: 'collect' }, 'samples', 30_000)));
    this.health = mergeHealth(rs.map((r) => r.health));
    return { latencies: concat(rs.map((r) => r.latencies)), received: rs.reduce((a, r) => a + r.received, 0), lastAt: Math.max(...rs.map((r) => r.lastAt)) };
  }

  /** Closes every connection and stops every worker by PID. */
  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        try {
          await w.ask({ t: 'close' }, 'closed', 10_000);
        } catch {
          // stopped below either way
        }
        await stopChild(w.child, 'SIGTERM', 5000);
      }),
    );
  }
}
