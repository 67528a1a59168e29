// Why a peer call failed. `busy` is the fast failure of a full peer queue;
// `unreachable` and `timeout` leave it unknown whether the peer acted.
export type PeerErrorCode = 'busy' | 'unreachable' | 'timeout' | 'refused' | 'unknown-peer';

export class PeerError extends Error {
  constructor(
    readonly code: PeerErrorCode,
    readonly peer: string,
    message: string,
    opts?: { cause?: unknown },
  ) {
    super(`peer ${peer}: ${message}`, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PeerError';
  }
}
