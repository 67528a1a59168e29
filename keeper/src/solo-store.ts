// Durable storage of the one-member keeper, in one LevelDB: the state-machine
// snapshot (the same bytes as snapshot()) plus the commands applied since it,
// as an append-only log. Opening restores the snapshot and hands back the log
// to replay through `apply`. Compaction writes a new snapshot, then drops the
// log it covers; a crash between the two only leaves entries that replay skips.
//
// Layout:
//   'snapshot'                 → snapshot(state) bytes; absent on a new store
//   'log/<index, 16 digits>'   → encodeCommand(command), index > snapshot's appliedIndex

import { Level } from 'level';
import { assert } from './assert.js';
import { corrupt, decodeCommand, encodeCommand } from './codec.js';
import type { Command } from './command.js';
import { restore, snapshot } from './snapshot.js';
import { emptyState } from './state.js';
import type { KeeperState } from './state.js';

export interface LogEntry {
  readonly index: number;
  readonly command: Command;
}

const SNAPSHOT_KEY = 'snapshot';
const LOG_PREFIX = 'log/';
/** Zero-padded so that key order is index order. */
const LOG_INDEX_DIGITS = 16;

function logKey(index: number): string {
  assert(Number.isSafeInteger(index) && index > 0, `log index ${index}`);
  return LOG_PREFIX + String(index).padStart(LOG_INDEX_DIGITS, '0');
}

export class SoloStore {
  private constructor(private readonly db: Level<string, Uint8Array>) {}

  /**
   * Opens (creating if missing) the store in `dir`. Returns the snapshot's
   * state and the log entries after it, in order. Throws KeeperError 'corrupt'
   * when the stored bytes do not decode or the log has a gap.
   */
  static async open(dir: string): Promise<{ store: SoloStore; state: KeeperState; log: LogEntry[] }> {
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.open();
    try {
      const bytes = await db.get(SNAPSHOT_KEY);
      const state = bytes === undefined ? emptyState() : restore(bytes);
      const log: LogEntry[] = [];
      let expected = state.appliedIndex + 1;
      // '~' sorts after every digit, so this bounds the log keys.
      for await (const [key, value] of db.iterator({ gte: logKey(expected), lt: `${LOG_PREFIX}~` })) {
        const index = Number(key.slice(LOG_PREFIX.length));
        if (index !== expected) throw corrupt(`log gap: entry ${index} where ${expected} was expected`);
        log.push({ index, command: decodeCommand(value) });
        expected += 1;
      }
      return { store: new SoloStore(db), state, log };
    } catch (e) {
      await db.close();
      throw e;
    }
  }

  /** Appends entries (contiguous, after the last one) in one synced write. */
  async append(entries: readonly LogEntry[]): Promise<void> {
    const ops = entries.map((e) => ({ type: 'put' as const, key: logKey(e.index), value: encodeCommand(e.command) }));
    await this.db.batch(ops, { sync: true });
  }

  /** Stores snapshot(state) and drops the log entries it covers. */
  async compact(state: KeeperState): Promise<void> {
    const bytes = snapshot(state);
    await this.db.put(SNAPSHOT_KEY, bytes, { sync: true });
    if (state.appliedIndex > 0) await this.db.clear({ gte: LOG_PREFIX, lte: logKey(state.appliedIndex) });
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
