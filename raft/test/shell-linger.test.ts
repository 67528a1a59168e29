// The shell's group-commit window on one real member (LevelDB in a temp
// dir): once a Ready persisted enough entries, the next one waits and takes
// every proposal made meanwhile in one persist; entries stay in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelStorage } from '../src/storage/level-storage.js';
import { RawNode } from '../src/raw-node.js';
import { RaftShell } from '../src/shell/raft-shell.js';
import { SeededRng } from '../src/rng.js';
import { until } from './helpers/until.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

interface Member {
  readonly shell: RaftShell;
  readonly node: RawNode;
  readonly storage: LevelStorage;
  readonly applied: string[];
  /** Entry counts of the persists that wrote entries, in order. */
  readonly persists: number[];
}

/** A one-voter member, leader, with its own empty entry applied (so nothing else is in flight). Pushed to `opened` before anything can fail. */
async function member(dir: string, linger: { minEntries: number; ms: number } | undefined, opened: Member[]): Promise<Member> {
  const storage = await LevelStorage.open(dir);
  await storage.bootstrap({ voters: [1], learners: [] });
  const node = new RawNode({ id: 1, storage: storage.memory, rng: new SeededRng(1), electionTicks: 10, heartbeatTicks: 1 });
  const applied: string[] = [];
  const persists: number[] = [];
  const shell = new RaftShell({
    node,
    storage,
    transport: { send: () => undefined },
    tickMs: 10,
    snapshotEntries: 0,
    compactionKeepEntries: 0,
    ...(linger === undefined ? {} : { linger }),
    metrics: { persistSeconds: (_s, entries) => void (entries > 0 && persists.push(entries)) },
    stateMachine: {
      restore: () => undefined,
      apply: (e) => void (e.type === 'normal' && e.data.length > 0 && applied.push(dec(e.data))),
      snapshot: () => new Uint8Array(),
    },
    onFatal: (err) => {
      throw err;
    },
  });
  const m: Member = { shell, node, storage, applied, persists };
  opened.push(m);
  shell.start();
  shell.campaign();
  await until(() => node.status().state === 'leader', 'leadership');
  // The leader's empty entry (index 1) goes alone; once applied, the next proposal starts a fresh Ready.
  await until(() => shell.appliedIndex() >= 1, 'the leader\'s empty entry applied');
  assert.deepEqual(persists, [1]);
  return m;
}

async function close(opened: readonly Member[]): Promise<void> {
  for (const m of opened) {
    await m.shell.stop();
    await m.storage.close();
  }
}

const all = ['b0', 'b1', ...Array.from({ length: 8 }, (_, i) => `t${i}`)];

test('with a window, the proposals made while it waits share one persist; without, each goes alone', async () => {
  const root = mkdtempSync(join(tmpdir(), 'raft-linger-'));
  const opened: Member[] = [];
  try {
    // Without a window: each of the eight proposals is made once the previous one
    // was persisted, so nothing else is pending when it arrives, and it goes alone.
    const plain = await member(join(root, 'without'), undefined, opened);
    const p0 = plain.persists.length;
    assert.ok(plain.shell.proposeBatch([enc('b0'), enc('b1')]).ok);
    await until(() => plain.persists.length > p0, 'the two persisted');
    for (let i = 0; i < 8; i++) {
      const n = plain.persists.length;
      assert.ok(plain.shell.propose(enc(`t${i}`)).ok);
      await until(() => plain.persists.length > n, `t${i} persisted`);
    }
    await until(() => plain.applied.length >= 10, 'ten entries applied');
    assert.deepEqual(plain.applied, all, 'every entry applied once, in order');
    assert.deepEqual(plain.persists.slice(p0), [2, 1, 1, 1, 1, 1, 1, 1, 1], 'without a window, a proposal arriving alone is persisted alone');

    // With a window: the two make a Ready of minEntries, so the next Ready (the
    // one t0 starts) waits 1 s, far longer than eight event-loop turns even on a
    // loaded machine. The eight arrive one per turn, as above with no persist in
    // flight, and all go in the one persist the window ends with.
    const slow = await member(join(root, 'with'), { minEntries: 2, ms: 1_000 }, opened);
    const s0 = slow.persists.length;
    assert.ok(slow.shell.proposeBatch([enc('b0'), enc('b1')]).ok);
    await until(() => slow.persists.length > s0, 'the two persisted');
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setImmediate(r));
      assert.ok(slow.shell.propose(enc(`t${i}`)).ok);
    }
    assert.equal(slow.persists.length, s0 + 1, 'all eight were proposed while the window was open');
    await until(() => slow.applied.length >= 10, 'ten entries applied');
    assert.deepEqual(slow.applied, all, 'every entry applied once, in order');
    assert.deepEqual(slow.persists.slice(s0), [2, 8], 'the window gathered the eight into one persist');
  } finally {
    await close(opened);
    rmSync(root, { recursive: true, force: true });
  }
});
