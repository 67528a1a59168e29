// Restoring a keeper backup (backup.ts) into an empty Raft data dir: the
// I/O half, offline, before the member starts on it.

import { LevelStorage } from '../../raft/src/index.js';
import { restoredState } from './backup.js';
import { KeeperError } from './errors.js';
import { raftIdOf } from './raft-id.js';

/**
 * Writes the backup into the empty Raft data dir `dataDir` for member
 * `memberId`. Throws KeeperError 'conflict' when the dir holds a Raft log
 * already, 'corrupt' when the bytes are not a keeper snapshot (both before
 * anything is written).
 */
export async function restoreBackup(dataDir: string, memberId: string, backup: Uint8Array, dropPrefixes: readonly string[] = []): Promise<{ revision: number; keys: number }> {
  const restored = restoredState(backup, dropPrefixes);
  const storage = await LevelStorage.open(dataDir);
  try {
    const mem = storage.memory;
    if (mem.lastIndex() !== 0 || mem.snapshot().meta.index !== 0 || mem.initialState().confState.voters.length !== 0) {
      throw new KeeperError('conflict', `${dataDir} holds a Raft log already: a backup is restored only into an empty data dir`);
    }
    await storage.bootstrap({ voters: [raftIdOf(memberId)], learners: [] }, restored.bytes);
  } finally {
    await storage.close();
  }
  return { revision: restored.revision, keys: restored.keys };
}
