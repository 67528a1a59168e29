// The messages between the keeper (main thread) and its Raft member (a worker
// thread, raft-worker.ts), over the worker's MessagePort. The port keeps
// order, which the protocol relies on: the entries of a Ready reach the
// keeper before any later event, so a snapshot asked for after them is taken
// exactly at the worker's applied index.

import type { ConfChange, ConfState, NodeId, Snapshot, SoftState, Status, StepResult } from '../../raft/src/index.js';

export interface WorkerInit {
  readonly dataDir: string;
  readonly raftId: NodeId;
  readonly listen: { readonly host: string; readonly port: number };
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly snapshotEntries: number;
  readonly compactionKeepEntries: number;
  /** The group-commit wait in ms (RaftKeeperOptions.groupCommitMs); 0: none. */
  readonly groupCommitMs: number;
  readonly security: PeerSecurity;
}

/**
 * How peer links authenticate (raft/src/transport/link-security.ts), in a form
 * that crosses to the worker: certificates name members by their keeper id (CN).
 */
export interface PeerSecurity {
  readonly tls?: PeerTlsPem;
  readonly secret?: Uint8Array;
}

/** PEM: the cluster CA, this member's certificate and key. */
export interface PeerTlsPem {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** A peer connection the transport closed: `auth` for a failed authentication, else a protocol error. */
export interface PeerRefusal {
  readonly auth: boolean;
  readonly reason: string;
  readonly remote: string;
}

/** Keeper → worker. */
export type ToWorker =
  /** Answer to 'opened' when the log was empty: the configuration to bootstrap with. */
  | { readonly t: 'bootstrap'; readonly confState: ConfState }
  /** The proposals made in one turn of the keeper's event loop, proposed as one (all accepted or all dropped). */
  | { readonly t: 'propose'; readonly id: number; readonly data: readonly Uint8Array[] }
  | { readonly t: 'read-index'; readonly id: number; readonly context: Uint8Array }
  | { readonly t: 'conf-change'; readonly id: number; readonly cc: ConfChange }
  | { readonly t: 'transfer-leader'; readonly id: number; readonly to: NodeId }
  | { readonly t: 'campaign' }
  | { readonly t: 'peers'; readonly peers: readonly (readonly [NodeId, string])[] }
  | { readonly t: 'snapshot-data'; readonly id: number; readonly data: Uint8Array }
  /** New peer TLS material for links made from now on (a certificate rotation); answered by a 'peer-tls' event. */
  | { readonly t: 'peer-tls'; readonly tls: PeerTlsPem }
  | { readonly t: 'stop' };

/** What the keeper mirrors of the member: its status plus when each peer was last heard from. */
export interface MemberView {
  readonly status: Status;
  readonly pendingConfIndex: number;
  /** Milliseconds since the last message from each peer, measured in the worker. */
  readonly heardAgoMs: readonly (readonly [NodeId, number])[];
}

/** One event of the worker's outbox; a batch of them travels in one 'events' message. */
export type WorkerEvent =
  | { readonly t: 'restore'; readonly snapshot: Snapshot }
  /** Entries applied in a row, packed (packed-entries.ts) into a buffer the port transfers. */
  | { readonly t: 'entries'; readonly packed: ArrayBuffer }
  /** The member's commit index moved (between views, which come with ticks and role changes). */
  | { readonly t: 'commit'; readonly commit: number }
  | { readonly t: 'conf-state'; readonly confState: ConfState }
  | { readonly t: 'read-state'; readonly index: number; readonly context: Uint8Array }
  | { readonly t: 'soft-state'; readonly softState: SoftState }
  | { readonly t: 'result'; readonly id: number; readonly result: StepResult }
  | { readonly t: 'snapshot-request'; readonly id: number }
  | { readonly t: 'view'; readonly view: MemberView }
  | { readonly t: 'peer-refused'; readonly refusal: PeerRefusal }
  /** The answer to a 'peer-tls' message: `error` if the material was refused (the old stays). */
  | { readonly t: 'peer-tls'; readonly error?: string }
  /** `count`: for 'persist', the entries in the persisted Ready. */
  | { readonly t: 'metric'; readonly name: 'persist' | 'applied' | 'tick-lag' | 'snapshot'; readonly value: number; readonly count?: number };

/** Worker → keeper. */
export type FromWorker =
  /** Storage is open; `empty` asks for a 'bootstrap'. */
  | { readonly t: 'opened'; readonly empty: boolean }
  /** The member runs: transport listening, shell ticking. */
  | { readonly t: 'started'; readonly view: MemberView }
  | { readonly t: 'events'; readonly events: readonly WorkerEvent[] }
  | { readonly t: 'fatal'; readonly message: string }
  | { readonly t: 'stopped' };
