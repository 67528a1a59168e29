import type { ConfChange } from '../confchange.js';
import type { StepResult } from '../errors.js';
import type { PeerAddress } from '../transport/tcp-transport.js';
import type { ConfState, Index, NodeId, StateType } from '../types.js';
import type { StateMachine } from './raft-shell.js';

/** What the host passes to a Raft worker thread (structured-clonable). */
export interface RaftWorkerConfig {
  readonly id: NodeId;
  readonly dataDir: string;
  readonly listen: PeerAddress;
  readonly peers: readonly (readonly [NodeId, PeerAddress])[];
  /** Initial membership, used only if the data dir is empty. */
  readonly bootstrap: ConfState | undefined;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly snapshotEntries: number;
  readonly compactionKeepEntries: number;
  readonly seed: number;
  /**
   * URL of an ES module exporting `createStateMachine(emit)`: the state
   * machine runs inside the worker, next to Raft, and reports to the host
   * through `emit`.
   */
  readonly stateMachineModule: string;
}

/** The contract of the module named by stateMachineModule. */
export type CreateStateMachine = (emit: (event: unknown) => void) => StateMachine;

export type HostToWorker =
  | { readonly type: 'propose'; readonly req: number; readonly data: Uint8Array }
  | { readonly type: 'propose-conf-change'; readonly req: number; readonly cc: ConfChange }
  | { readonly type: 'read-index'; readonly req: number; readonly context: Uint8Array }
  | { readonly type: 'transfer-leader'; readonly req: number; readonly to: NodeId }
  | { readonly type: 'campaign'; readonly req: number }
  | { readonly type: 'set-peer'; readonly peer: NodeId; readonly addr: PeerAddress }
  | { readonly type: 'stop'; readonly req: number };

export type WorkerToHost =
  | { readonly type: 'started'; readonly port: number }
  | { readonly type: 'result'; readonly req: number; readonly result: StepResult }
  | { readonly type: 'stopped'; readonly req: number }
  | { readonly type: 'event'; readonly event: unknown }
  | { readonly type: 'read-state'; readonly index: Index; readonly context: Uint8Array }
  | { readonly type: 'soft-state'; readonly lead: NodeId; readonly state: StateType }
  | { readonly type: 'metric'; readonly name: string; readonly value: number }
  | { readonly type: 'fatal'; readonly message: string };
