// The keeper's operating errors, each with a stable code.
export const KeeperErrorCode = {
  compareFailed: 'compare-failed',
  leaseNotFound: 'lease-not-found',
  compacted: 'compacted',
  /** No leader took the write (or read) in time: a write was not proposed, so it is safe to retry. */
  noLeader: 'no-leader',
  /** A write was proposed but not seen applied in time (lost in a leader change, or the member stopped): it may or may not take effect. */
  timeout: 'timeout',
  /** A membership call reached a member that is not the leader. */
  notLeader: 'not-leader',
  /** A membership change conflicts with the configuration (one pending, last voter, quorum). */
  conflict: 'conflict',
  invalid: 'invalid',
  closed: 'closed',
  /** No member with that id (memberPromote, memberRemove). */
  memberNotFound: 'member-not-found',
  /** A write would take the keys and values past the keeper's space quota. */
  noSpace: 'no-space',
  /** Stored bytes (snapshot, log entry) do not decode to a valid value. */
  corrupt: 'corrupt',
} as const;
export type KeeperErrorCode = (typeof KeeperErrorCode)[keyof typeof KeeperErrorCode];

export class KeeperError extends Error {
  readonly code: KeeperErrorCode;
  /** For 'compacted': the oldest revision still watchable minus one. */
  readonly compactRevision: number | undefined;
  constructor(code: KeeperErrorCode, message: string, opts?: { cause?: unknown; compactRevision?: number }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'KeeperError';
    this.code = code;
    this.compactRevision = opts?.compactRevision;
  }
}
