import { Worker } from 'node:worker_threads';
import type { ConfChange } from '../confchange.js';
import type { StepResult } from '../errors.js';
import type { PeerAddress } from '../transport/tcp-transport.js';
import type { NodeId } from '../types.js';
import type { HostToWorker, RaftWorkerConfig, WorkerToHost } from './worker-protocol.js';

export interface RaftWorkerEvents {
  readonly onEvent?: (event: unknown) => void;
  readonly onReadState?: (index: number, context: Uint8Array) => void;
  readonly onSoftState?: (lead: NodeId, state: string) => void;
  readonly onMetric?: (name: string, value: number) => void;
  readonly onFatal: (message: string) => void;
}

type Req = Extract<HostToWorker, { req: number }>;
type ReqWithout<T> = T extends unknown ? Omit<T, 'req'> : never;

/** The main-thread handle of a Raft member running in a worker thread (raft-worker.js). */
export class RaftWorkerHost {
  private readonly worker: Worker;
  private nextReq = 1;
  private readonly pending = new Map<number, (v: StepResult | undefined) => void>();
  /** The port the member's Raft transport listens on. */
  readonly port: Promise<number>;

  constructor(cfg: RaftWorkerConfig, ev: RaftWorkerEvents) {
    this.worker = new Worker(new URL('./raft-worker.js', import.meta.url), { workerData: cfg });
    let started: (port: number) => void = () => undefined;
    this.port = new Promise((resolve) => (started = resolve));
    this.worker.on('message', (m: WorkerToHost) => {
      switch (m.type) {
        case 'started':
          started(m.port);
          break;
        case 'result':
          this.settle(m.req, m.result);
          break;
        case 'stopped':
          this.settle(m.req, undefined);
          break;
        case 'event':
          ev.onEvent?.(m.event);
          break;
        case 'read-state':
          ev.onReadState?.(m.index, m.context);
          break;
        case 'soft-state':
          ev.onSoftState?.(m.lead, m.state);
          break;
        case 'metric':
          ev.onMetric?.(m.name, m.value);
          break;
        case 'fatal':
          ev.onFatal(m.message);
          break;
      }
    });
    this.worker.on('error', (err) => ev.onFatal(err.message));
  }

  private settle(req: number, v: StepResult | undefined): void {
    const p = this.pending.get(req);
    this.pending.delete(req);
    p?.(v);
  }

  private request(m: ReqWithout<Req>): Promise<StepResult | undefined> {
    const req = this.nextReq++;
    return new Promise((resolve) => {
      this.pending.set(req, resolve);
      this.worker.postMessage({ ...m, req });
    });
  }

  private async step(m: ReqWithout<Req>): Promise<StepResult> {
    const r = await this.request(m);
    return r ?? { ok: false, reason: 'RAFT_ERR_NOT_MEMBER' };
  }

  propose(data: Uint8Array): Promise<StepResult> {
    return this.step({ type: 'propose', data });
  }

  proposeConfChange(cc: ConfChange): Promise<StepResult> {
    return this.step({ type: 'propose-conf-change', cc });
  }

  readIndex(context: Uint8Array): Promise<StepResult> {
    return this.step({ type: 'read-index', context });
  }

  transferLeader(to: NodeId): Promise<StepResult> {
    return this.step({ type: 'transfer-leader', to });
  }

  campaign(): Promise<StepResult> {
    return this.step({ type: 'campaign' });
  }

  setPeer(peer: NodeId, addr: PeerAddress): void {
    this.worker.postMessage({ type: 'set-peer', peer, addr } satisfies HostToWorker);
  }

  /** Stops the member (flushes the Ready in progress, closes storage) and ends the thread. */
  async stop(): Promise<void> {
    await this.request({ type: 'stop' });
    await this.worker.terminate();
  }
}
