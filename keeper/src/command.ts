// The commands the keeper's state machine applies, one per replicated write.
// A command is decided by its proposer (the leader, or RaftKeeper) and carries
// everything that is not a function of the state: lease ids, the proposer's
// clock reading (`now`), session timestamps. `apply` then stays deterministic,
// so every replica reaches the same state from the same log.

import type { KeeperErrorCode } from './errors.js';
import type { Member, RegisterOp, TxnCompare, TxnOp, TxnResponse, WatchEvent } from './keeper.js';

export type Command =
  | {
      readonly type: 'put';
      readonly key: string;
      readonly value: string;
      readonly lease?: string;
      /** Compare-and-swap on the key's modRevision; 0 means "only if absent". */
      readonly ifModRevision?: number;
    }
  | { readonly type: 'delete'; readonly key: string; readonly prefix: boolean }
  /** If every compare holds, the `success` writes, else the `failure` ones: all at one revision, or none. */
  | { readonly type: 'txn'; readonly compare: readonly TxnCompare[]; readonly success: readonly TxnOp[]; readonly failure: readonly TxnOp[] }
  /** `now` is the proposer's unix ms: the lease's deadline is now + ttl. */
  | { readonly type: 'leaseGrant'; readonly id: string; readonly ttl: number; readonly now: number }
  | { readonly type: 'leaseKeepAlive'; readonly id: string; readonly now: number }
  | { readonly type: 'leaseRevoke'; readonly id: string }
  /**
   * Proposed by the leader's timer once its clock passed the deadline. Applied
   * only if `now` is still past the deadline at apply time, so a keepalive
   * committed in between wins.
   */
  | { readonly type: 'leaseExpire'; readonly id: string; readonly now: number }
  | { readonly type: 'memberAdd'; readonly member: Member }
  | { readonly type: 'memberPromote'; readonly id: string }
  | { readonly type: 'memberRemove'; readonly id: string }
  /** Session changes of one node, all attached to that node's lease. */
  | { readonly type: 'registerBatch'; readonly lease: string; readonly ops: readonly RegisterOp[] };

/**
 * What applying a command answered. `revision` is the store's revision after
 * the command (the etcd response header), whether or not it changed anything.
 */
export type CommandResult =
  | { readonly type: 'put'; readonly revision: number }
  | { readonly type: 'delete'; readonly revision: number; readonly deleted: number }
  | { readonly type: 'txn'; readonly revision: number; readonly succeeded: boolean; readonly deleted: number; readonly responses: readonly TxnResponse[] }
  | { readonly type: 'leaseGrant'; readonly revision: number; readonly id: string; readonly ttl: number }
  | { readonly type: 'leaseKeepAlive'; readonly revision: number; readonly id: string; readonly ttl: number }
  | { readonly type: 'leaseRevoke'; readonly revision: number; readonly deleted: number; readonly sessionsRemoved: number }
  | {
      readonly type: 'leaseExpire';
      readonly revision: number;
      /** False when the lease was gone already or was kept alive past `now`. */
      readonly expired: boolean;
      readonly deleted: number;
      readonly sessionsRemoved: number;
    }
  | { readonly type: 'memberAdd'; readonly revision: number }
  | { readonly type: 'memberPromote'; readonly revision: number }
  | { readonly type: 'memberRemove'; readonly revision: number }
  | { readonly type: 'registerBatch'; readonly revision: number; readonly added: number; readonly removed: number }
  | {
      readonly type: 'error';
      readonly revision: number;
      readonly code: KeeperErrorCode;
      readonly message: string;
    };

export type ErrorResult = Extract<CommandResult, { type: 'error' }>;

export function errorResult(revision: number, code: KeeperErrorCode, message: string): ErrorResult {
  return { type: 'error', revision, code, message };
}

/** What `apply` returns: the answer for the proposer and the watch events, all at `result.revision`. */
export interface Applied {
  readonly result: CommandResult;
  /** Invariant: sorted by key, all with the same revision, which is the new state revision; empty when nothing changed. */
  readonly events: readonly WatchEvent[];
}
