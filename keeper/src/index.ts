// The keeper's public API: the Keeper interface node components use, its
// Raft-backed implementation, and the pure state machine with its snapshots
// and watch hub.

export type {
  ClusterMember,
  ClusterStatus,
  JoinInfo,
  Consistency,
  Keeper,
  KeyValue,
  Lease,
  Member,
  PutOptions,
  RangeResult,
  RegisterOp,
  Session,
  WatchEvent,
  WatchMessage,
  WatchRequest,
  Watcher,
  WatchListener,
} from './keeper.js';
export { KeeperError, KeeperErrorCode } from './errors.js';
export type { Applied, Command, CommandResult } from './command.js';
export { apply } from './state-machine.js';
export { emptyState } from './state.js';
export type { KeeperState, LeaseRecord, RegisteredSession } from './state.js';
export { range } from './kv.js';
export { expiredLeases } from './leases.js';
export { sessionsOf } from './register.js';
export { restore, snapshot, SNAPSHOT_FORMAT } from './snapshot.js';
export { decodeCommand, encodeCommand } from './codec.js';
export { DEFAULT_WATCH_HUB_OPTIONS, WatchHub } from './watch-hub.js';
export type { WatchHubOptions } from './watch-hub.js';
export { DEFAULT_RAFT_KEEPER_OPTIONS, nodeLeaseKey, RaftKeeper } from './raft-keeper.js';
export type { RaftKeeperOptions } from './raft-keeper.js';
export { raftIdOf } from './raft-id.js';
