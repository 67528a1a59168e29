// The keeper's handle on its Raft member running in a worker thread
// (raft-worker.ts): calls become messages, answers come back as promises, and
// the member's status is mirrored from the views the worker posts after every
// tick and role change (and the commit index after every Ready that moves
// it), so reads of it (ready(), cluster()) stay synchronous and at most one
// tick old.

import { Worker } from 'node:worker_threads';
import { index } from '../../raft/src/index.js';
import type { ConfChange, ConfState, Entry, NodeId, Snapshot, SoftState, Status, StepResult } from '../../raft/src/index.js';
import { unpackEntries } from './packed-entries.js';
import type { FromWorker, MemberView, PeerRefusal, PeerTlsPem, ToWorker, WorkerInit } from './raft-worker-messages.js';

/** What the worker's events turn into on the keeper's side, in log order. */
export interface LinkHandlers {
  restore(snapshot: Snapshot): void;
  apply(entry: Entry): void;
  confState(cs: ConfState): void;
  readState(index: number, context: Uint8Array): void;
  softState(ss: SoftState): void;
  /** The state machine's bytes now (the worker asks right after the entries it applied). */
  snapshot(): Uint8Array;
  metric(name: 'persist' | 'applied' | 'tick-lag' | 'snapshot', value: number, count: number): void;
  peerRefused(r: PeerRefusal): void;
  /** The member stopped for good (storage failure, crash of the worker). */
  fatal(err: Error): void;
}

export class RaftLink {
  private viewValue: MemberView;
  private viewAt = performance.now();
  private seq = 0;
  private readonly waiting = new Map<number, (r: StepResult) => void>();
  /** Callers of setPeerTls, oldest first: the worker answers in order. */
  private readonly tlsWaiting: ((error: string | undefined) => void)[] = [];
  private stopped: Promise<void> | undefined;
  private onStopped: (() => void) | undefined;
  private dead = false;
  /**
   * Proposals made in this turn of the event loop (every request whose bytes
   * arrived in it), posted as one message — and one MsgProp, so one append per
   * follower — once the turn's I/O callbacks have run (setImmediate).
   */
  private proposing: { readonly data: Uint8Array[]; readonly waiters: ((r: StepResult) => void)[] } | undefined;

  private constructor(
    private readonly worker: Worker,
    view: MemberView,
  ) {
    this.viewValue = view;
  }

  /**
   * Starts the worker. `bootstrap` is called only when the log is empty and
   * answers the configuration to start with (this member alone, or the one a
   * join call answered).
   */
  static async open(init: WorkerInit, h: LinkHandlers, bootstrap: () => Promise<ConfState>): Promise<RaftLink> {
    const worker = new Worker(new URL('./raft-worker.js', import.meta.url), { workerData: init });
    let link: RaftLink | undefined;
    return new Promise<RaftLink>((resolve, reject) => {
      const fail = (err: Error): void => {
        if (link === undefined) {
          void worker.terminate();
          reject(err);
        } else if (!link.dead) {
          link.dead = true;
          link.onStopped?.();
          h.fatal(err);
        }
      };
      worker.on('error', fail);
      worker.on('exit', (code) => {
        if (link !== undefined && link.stopped !== undefined) return;
        fail(new Error(`raft worker exited with ${code}`));
      });
      worker.on('message', (m: FromWorker) => {
        try {
          switch (m.t) {
            case 'opened':
              if (m.empty) {
                bootstrap().then(
                  (confState) => worker.postMessage({ t: 'bootstrap', confState } satisfies ToWorker),
                  (err: unknown) => fail(err instanceof Error ? err : new Error(String(err))),
                );
              }
              return;
            case 'started':
              link = new RaftLink(worker, m.view);
              resolve(link);
              return;
            case 'events':
              for (const e of m.events) {
                switch (e.t) {
                  case 'restore':
                    h.restore(e.snapshot);
                    break;
                  case 'entries':
                    for (const entry of unpackEntries(e.packed)) h.apply(entry);
                    break;
                  case 'commit':
                    link?.setCommit(e.commit);
                    break;
                  case 'conf-state':
                    h.confState(e.confState);
                    break;
                  case 'read-state':
                    h.readState(e.index, e.context);
                    break;
                  case 'soft-state':
                    h.softState(e.softState);
                    break;
                  case 'result': {
                    const w = link?.waiting.get(e.id);
                    link?.waiting.delete(e.id);
                    w?.(e.result);
                    break;
                  }
                  case 'snapshot-request':
                    worker.postMessage({ t: 'snapshot-data', id: e.id, data: new Uint8Array(h.snapshot()) } satisfies ToWorker);
                    break;
                  case 'view':
                    if (link !== undefined) {
                      link.viewValue = e.view;
                      link.viewAt = performance.now();
                    }
                    break;
                  case 'metric':
                    h.metric(e.name, e.value, e.count ?? 0);
                    break;
                  case 'peer-refused':
                    h.peerRefused(e.refusal);
                    break;
                  case 'peer-tls':
                    link?.tlsWaiting.shift()?.(e.error);
                    break;
                }
              }
              return;
            case 'fatal':
              fail(new Error(m.message));
              return;
            case 'stopped':
              link?.onStopped?.();
              return;
          }
        } catch (err) {
          fail(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
  }

  status(): Status {
    return this.viewValue.status;
  }

  /** The commit index between views (it never goes back). */
  private setCommit(commit: number): void {
    const v = this.viewValue;
    if (commit <= v.status.commit) return;
    this.viewValue = { ...v, status: { ...v.status, commit: index(commit) } };
  }

  pendingConfIndex(): number {
    return this.viewValue.pendingConfIndex;
  }

  /** Milliseconds since the member last heard from `id` (Infinity if never). */
  heardAgoMs(id: NodeId): number {
    for (const [peer, ago] of this.viewValue.heardAgoMs) if (peer === id) return ago + (performance.now() - this.viewAt);
    return Infinity;
  }

  private call(m: (id: number) => ToWorker): Promise<StepResult> {
    if (this.dead || this.stopped !== undefined) return Promise.resolve({ ok: false, reason: 'RAFT_ERR_NOT_MEMBER' });
    const id = (this.seq += 1);
    return new Promise<StepResult>((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.postMessage(m(id));
    });
  }

  // Both copy their bytes first: msgpackr hands out views into one large
  // shared buffer, and postMessage would clone all of it into the worker,
  // where the log entry keeps it (~12 KiB pinned per register write).
  propose(data: Uint8Array): Promise<StepResult> {
    const exact = new Uint8Array(data);
    const batch = this.proposing ?? this.startBatch();
    batch.data.push(exact);
    return new Promise<StepResult>((resolve) => batch.waiters.push(resolve));
  }

  private startBatch(): { readonly data: Uint8Array[]; readonly waiters: ((r: StepResult) => void)[] } {
    const b = (this.proposing = { data: [] as Uint8Array[], waiters: [] as ((r: StepResult) => void)[] });
    setImmediate(() => {
      this.proposing = undefined;
      void this.call((id) => ({ t: 'propose', id, data: b.data })).then((r) => {
        for (const w of b.waiters) w(r);
      });
    });
    return b;
  }

  readIndex(context: Uint8Array): Promise<StepResult> {
    const exact = new Uint8Array(context);
    return this.call((id) => ({ t: 'read-index', id, context: exact }));
  }

  proposeConfChange(cc: ConfChange): Promise<StepResult> {
    return this.call((id) => ({ t: 'conf-change', id, cc }));
  }

  transferLeader(to: NodeId): Promise<StepResult> {
    return this.call((id) => ({ t: 'transfer-leader', id, to }));
  }

  campaign(): void {
    if (!this.dead) this.worker.postMessage({ t: 'campaign' } satisfies ToWorker);
  }

  setPeers(peers: readonly (readonly [NodeId, string])[]): void {
    if (!this.dead) this.worker.postMessage({ t: 'peers', peers } satisfies ToWorker);
  }

  /** Peer links made from now on use this TLS material; rejects (the old stays) if the member refused it. */
  setPeerTls(tls: PeerTlsPem): Promise<void> {
    if (this.dead) return Promise.reject(new Error('the Raft member has stopped'));
    return new Promise<void>((resolve, reject) => {
      this.tlsWaiting.push((error) => (error === undefined ? resolve() : reject(new Error(error))));
      this.worker.postMessage({ t: 'peer-tls', tls } satisfies ToWorker);
    });
  }

  /** Stops ticking, waits for the Ready in progress, closes the transport and the log, ends the thread. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      if (!this.dead) {
        await new Promise<void>((resolve) => {
          this.onStopped = resolve;
          this.worker.postMessage({ t: 'stop' } satisfies ToWorker);
        });
      }
      for (const w of this.waiting.values()) w({ ok: false, reason: 'RAFT_ERR_NOT_MEMBER' });
      this.waiting.clear();
      for (const w of this.tlsWaiting.splice(0)) w('the Raft member has stopped');
      await this.worker.terminate();
    })();
    return this.stopped;
  }
}
