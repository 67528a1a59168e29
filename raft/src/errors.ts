/**
 * Operating errors of the raft package: stable codes, one registry.
 * A step that could not take effect returns `{ ok: false, reason }`; the
 * reason says why and whether retrying elsewhere can help.
 */
export const DropReason = {
  /** No leader is known; retry after an election. */
  NoLeader: 'RAFT_ERR_NO_LEADER',
  /** Proposal forwarding is disabled on this follower. */
  ForwardingDisabled: 'RAFT_ERR_FORWARDING_DISABLED',
  /** A leadership transfer is in progress; proposals resume after it. */
  TransferInProgress: 'RAFT_ERR_TRANSFER_IN_PROGRESS',
  /** The leader's uncommitted entries already exceed `uncommittedBytesMax`. */
  UncommittedBytesMax: 'RAFT_ERR_UNCOMMITTED_BYTES_MAX',
  /** A configuration change is already pending (one at a time). */
  ConfChangePending: 'RAFT_ERR_CONF_CHANGE_PENDING',
  /** The configuration change is not valid against the current configuration. */
  ConfChangeInvalid: 'RAFT_ERR_CONF_CHANGE_INVALID',
  /** This node was removed from the group (or is not a member). */
  NotMember: 'RAFT_ERR_NOT_MEMBER',
  /** A candidate does not accept proposals. */
  Candidate: 'RAFT_ERR_CANDIDATE',
  /** A lease-based read was asked without CheckQuorum. */
  ReadNotReady: 'RAFT_ERR_READ_NOT_READY',
  /** A new leader already holds the maximum of ReadIndex requests waiting for its first commit. */
  LeaderNotReady: 'RAFT_ERR_LEADER_NOT_READY',
  /** The message is a local message that must not arrive from the network. */
  LocalMessage: 'RAFT_ERR_LOCAL_MESSAGE',
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

export type StepResult = { readonly ok: true } | { readonly ok: false; readonly reason: DropReason };

export const OK: StepResult = { ok: true };

export function dropped(reason: DropReason): StepResult {
  return { ok: false, reason };
}

export const StorageErrorCode = {
  /** The requested index is below the first index: it was compacted into a snapshot. */
  Compacted: 'RAFT_ERR_COMPACTED',
  /** The snapshot is older than the one already stored. */
  SnapOutOfDate: 'RAFT_ERR_SNAP_OUT_OF_DATE',
  /** The requested index is above the last index. */
  Unavailable: 'RAFT_ERR_UNAVAILABLE',
  /** The store could not be read or written. */
  Io: 'RAFT_ERR_IO',
} as const;
export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code: StorageErrorCode;
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
