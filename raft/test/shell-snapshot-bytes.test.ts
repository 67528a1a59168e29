// The shell's byte bounds on the in-memory log, on one real member (LevelDB
// in a temp dir): a snapshot is due once the applied entries carry
// snapshotBytes of data, however few they are, and compaction keeps at most
// compactionKeepBytes of data behind it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelStorage } from '../src/storage/level-storage.js';
import { RawNode } from '../src/raw-node.js';
import { RaftShell } from '../src/shell/raft-shell.js';
import type { RaftShellOptions } from '../src/shell/raft-shell.js';
import { SeededRng } from '../src/rng.js';
import { index } from '../src/types.js';
import { until } from './helpers/until.js';

const KIB = 1024;
const ENTRY_BYTES = 8 * KIB;
const ENTRIES = 30;

type Bounds = Pick<RaftShellOptions, 'snapshotBytes' | 'compactionKeepEntries' | 'compactionKeepBytes'>;

interface Member {
  readonly shell: RaftShell;
  readonly storage: LevelStorage;
}

/**
 * A one-voter leader whose snapshots only the bounds under test can trigger,
 * with ENTRIES entries of ENTRY_BYTES proposed one at a time (each applied
 * alone, so the triggers fire at known indexes), then stopped. Pushed to
 * `opened` before it runs.
 */
async function run(dir: string, bounds: Bounds, opened: Member[]): Promise<Member> {
  const storage = await LevelStorage.open(dir);
  await storage.bootstrap({ voters: [1], learners: [] });
  const node = new RawNode({ id: 1, storage: storage.memory, rng: new SeededRng(1), electionTicks: 10, heartbeatTicks: 1 });
  const shell = new RaftShell({
    node,
    storage,
    transport: { send: () => undefined },
    tickMs: 10,
    snapshotEntries: 1_000_000,
    ...bounds,
    stateMachine: { restore: () => undefined, apply: () => undefined, snapshot: () => new Uint8Array() },
    onFatal: (err) => {
      throw err;
    },
  });
  const m: Member = { shell, storage };
  opened.push(m);
  shell.start();
  shell.campaign();
  await until(() => node.status().state === 'leader', 'leadership');
  await until(() => shell.appliedIndex() >= 1, "the leader's empty entry applied");
  for (let i = 0; i < ENTRIES; i++) {
    assert.ok(shell.propose(new Uint8Array(ENTRY_BYTES).fill(i)).ok);
    await until(() => shell.appliedIndex() >= 2 + i, `entry ${2 + i} applied`);
  }
  // Waits for a snapshot in progress.
  await shell.stop();
  return m;
}

/** Bytes of data in the entries kept behind the snapshot. */
function keptBytes(storage: LevelStorage): number {
  const mem = storage.memory;
  const at = mem.snapshot().meta.index;
  return mem.entries(mem.firstIndex(), index(at + 1), Infinity).reduce((n, e) => n + e.data.length, 0);
}

async function close(opened: readonly Member[]): Promise<void> {
  for (const m of opened) {
    await m.shell.stop();
    await m.storage.close();
  }
}

test('a snapshot is due once the applied entries carry snapshotBytes, however far the entry count is; 0 turns it off', async () => {
  const root = mkdtempSync(join(tmpdir(), 'raft-snapshot-bytes-'));
  const opened: Member[] = [];
  try {
    // 100 KiB is 12.5 entries: snapshots at 1 + 13 and 1 + 26; the 4 after wait for the next.
    const bytes = await run(join(root, 'bytes'), { snapshotBytes: 100 * KIB, compactionKeepEntries: 1_000 }, opened);
    assert.equal(bytes.storage.memory.snapshot().meta.index, 27);
    assert.equal(bytes.storage.memory.firstIndex(), 1, 'the kept entries fit both bounds: nothing compacted');

    const off = await run(join(root, 'off'), { snapshotBytes: 0, compactionKeepEntries: 1_000 }, opened);
    assert.equal(off.storage.memory.snapshot().meta.index, 0, 'neither trigger fired');
    assert.equal(off.storage.memory.lastIndex(), 1 + ENTRIES);
  } finally {
    await close(opened);
    rmSync(root, { recursive: true, force: true });
  }
});

test('compaction keeps at most compactionKeepBytes behind the snapshot, and still at most compactionKeepEntries', async () => {
  const root = mkdtempSync(join(tmpdir(), 'raft-keep-bytes-'));
  const opened: Member[] = [];
  try {
    // 1,000 entries would keep all 27; 20 KiB keeps two of 8 KiB (a third would make 24).
    const byBytes = await run(join(root, 'bytes'), { snapshotBytes: 100 * KIB, compactionKeepEntries: 1_000, compactionKeepBytes: 20 * KIB }, opened);
    const mem = byBytes.storage.memory;
    assert.equal(mem.snapshot().meta.index, 27);
    assert.equal(mem.firstIndex(), 26);
    assert.ok(keptBytes(byBytes.storage) <= 20 * KIB);
    assert.equal(mem.lastIndex(), 1 + ENTRIES, 'the entries after the snapshot stay');

    // The byte bound is far off: the entry count decides, as before.
    const byCount = await run(join(root, 'count'), { snapshotBytes: 100 * KIB, compactionKeepEntries: 5, compactionKeepBytes: 1024 * KIB }, opened);
    assert.equal(byCount.storage.memory.snapshot().meta.index, 27);
    assert.equal(byCount.storage.memory.firstIndex(), 23);
  } finally {
    await close(opened);
    rmSync(root, { recursive: true, force: true });
  }
});
