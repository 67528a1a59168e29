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

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

async function member(dir: string, linger: { minEntries: number; ms: number } | undefined): Promise<{ shell: RaftShell; node: RawNode; storage: LevelStorage; applied: string[]; persists: number[] }> {
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
  shell.start();
  shell.campaign();
  for (let i = 0; i < 500 && node.status().state !== 'leader'; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(node.status().state, 'leader');
  return { shell, node, storage, applied, persists };
}

/** Two proposals at once (a busy Ready), then eight more 2 ms apart; answers the entry counts of the persists since. */
async function burst(m: Awaited<ReturnType<typeof member>>): Promise<number[]> {
  const before = m.persists.length;
  assert.ok(m.shell.proposeBatch([enc('b0'), enc('b1')]).ok);
  for (let i = 0; i < 8; i++) {
    await new Promise((r) => setTimeout(r, 2));
    assert.ok(m.shell.propose(enc(`t${i}`)).ok);
  }
  for (let i = 0; i < 500 && m.applied.length < 10; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(m.applied, ['b0', 'b1', ...Array.from({ length: 8 }, (_, i) => `t${i}`)], 'every entry applied once, in order');
  return m.persists.slice(before);
}

test('with a window, the proposals made while it waits share one persist; without, each goes alone', async () => {
  const root = mkdtempSync(join(tmpdir(), 'raft-linger-'));
  try {
    // A window far longer than the burst (16 ms, or a few times that on a busy machine).
    const slow = await member(join(root, 'with'), { minEntries: 2, ms: 150 });
    const gathered = await burst(slow);
    await slow.shell.stop();
    await slow.storage.close();
    // The leader's own empty entry may be among them; then the two, then the eight together.
    assert.ok(gathered.length <= 3, `ten entries took ${gathered.length} persists (${gathered.join(', ')})`);

    const plain = await member(join(root, 'without'), undefined);
    const alone = await burst(plain);
    await plain.shell.stop();
    await plain.storage.close();
    assert.ok(alone.length >= gathered.length + 3, `without a window: ${alone.length} persists (${alone.join(', ')})`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
