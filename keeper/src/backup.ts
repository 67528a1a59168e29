// Disaster recovery, as etcd's `snapshot save` and `snapshot restore`: a
// backup is the keeper's state taken from any member (RaftKeeper.backup,
// GET /v1/keeper/backup); restoring (restore-backup.ts) writes it, offline,
// as the first snapshot of an empty Raft log whose only voter is the member
// that will start on it. That member then opens a new one-member cluster
// holding the backup's keys, leases and register at its revision; the
// others join it. This is the pure part: the state the new cluster starts
// from.

import { deleteKeys, matchingKeys } from './kv.js';
import { restore, snapshot } from './snapshot.js';

/** The log index the restored state sits at: the first of the new cluster's log. */
export const RESTORED_INDEX = 1;

/**
 * The backup's state for a new cluster: without the old cluster's members
 * (the new member records itself when it starts) and without the keys under
 * `dropPrefixes` (records of work the old cluster's members were doing).
 * Throws KeeperError 'corrupt' when the bytes are not a keeper snapshot.
 */
export function restoredState(backup: Uint8Array, dropPrefixes: readonly string[] = []): { readonly bytes: Uint8Array; readonly revision: number; readonly keys: number } {
  const state = restore(backup);
  state.members.clear();
  for (const prefix of dropPrefixes) deleteKeys(state, matchingKeys(state, prefix, true), state.revision);
  state.appliedIndex = RESTORED_INDEX;
  return { bytes: snapshot(state), revision: state.revision, keys: state.kvs.size };
}
