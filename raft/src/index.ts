/** The public API of the raft package. */
export { RawNode } from './raw-node.js';
export type { Ready, Status } from './raw-node.js';
export { DEFAULT_CONFIG, ConfigError, validateConfig } from './raft.js';
export type { Config, ConfigInput } from './raft.js';
export type { Message, MessageType, MessageOf } from './message.js';
export { isLocalMessage, isResponseMessage } from './message.js';
export { DropReason, StorageError, StorageErrorCode } from './errors.js';
export type { StepResult } from './errors.js';
export { applyConfChange, decodeConfChange, encodeConfChange } from './confchange.js';
export type { ConfChange, ConfChangeResult } from './confchange.js';
export { ReadOnlyOption } from './read-only.js';
export { SeededRng } from './rng.js';
export type { Rng } from './rng.js';
export type { Storage } from './log/storage.js';
export { MemoryStorage } from './log/memory-storage.js';
export { ProgressState } from './tracker/progress.js';
export {
  EMPTY_HARD_STATE,
  EMPTY_SNAPSHOT,
  EntryType,
  NONE,
  StateType,
  index,
  isEmptyHardState,
  isEmptySnapshot,
  term,
} from './types.js';
export type { ConfState, Entry, HardState, Index, NodeId, ReadState, Snapshot, SnapshotMeta, SoftState, Term } from './types.js';

// I/O: the LevelDB log store, the TCP peer transport and the Ready loop.
export { LevelStorage } from './storage/level-storage.js';
export { TcpTransport } from './transport/tcp-transport.js';
export type { PeerAddress, TransportOptions } from './transport/tcp-transport.js';
export type { LinkSecurity, PeerTls } from './transport/link-security.js';
export { AuthError } from './transport/inbound-link.js';
export { DecodeError, FRAME_BYTES_MAX, decodeMessage, encodeMessage } from './transport/codec.js';
export { DEFAULT_SHELL, RaftShell } from './shell/raft-shell.js';
export type { RaftShellOptions, Sender, ShellMetrics, StateMachine } from './shell/raft-shell.js';
export { RaftWorkerHost } from './shell/raft-worker-host.js';
export type { RaftWorkerEvents } from './shell/raft-worker-host.js';
export type { CreateStateMachine, RaftWorkerConfig } from './shell/worker-protocol.js';
