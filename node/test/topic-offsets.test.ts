// Topic offset blocks against a real one-member keeper (LevelDB in a temp
// dir): concurrent publishes share one reservation and get consecutive
// offsets; two owners (two TopicOffsets on one keeper) never hand out the
// same offset; a change of members voids a block, a used-up block is
// followed by the next one, and a stored offset is a floor.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftKeeper } from '../../keeper/src/raft-keeper.js';
import { TOPIC_OFFSET_BLOCK, TopicOffsets, topicOffsetsKey } from '../src/topic-offsets.js';

let keeper: RaftKeeper | undefined;
let dir: string | undefined;
after(async () => {
  await keeper?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function openKeeper(): Promise<RaftKeeper> {
  dir = await mkdtemp(join(tmpdir(), 'topic-offsets-'));
  keeper = await RaftKeeper.open({
    dataDir: dir,
    member: { id: 'n1', peer: '127.0.0.1:1', api: '127.0.0.1:2', gateway: '127.0.0.1:3', zone: 'default' },
    listen: { host: '127.0.0.1', port: 0 },
    leaseCheckIntervalMs: 0,
  });
  return keeper;
}

test('topic offsets: shared reservations, distinct owners, voided and used-up blocks, stored floors', async () => {
  const k = await openKeeper();
  const a = new TopicOffsets(k, async () => 0);
  const b = new TopicOffsets(k, async () => 0);

  const first = await Promise.all(Array.from({ length: 5 }, () => a.next('app', 't', 'n1')));
  assert.deepEqual(first, [1, 2, 3, 4, 5], 'concurrent publishes share one reservation, in call order');
  assert.equal((await k.range(topicOffsetsKey('app', 't'))).kvs[0]?.value, String(TOPIC_OFFSET_BLOCK));

  // Another owner starts past every offset the first could hand out.
  assert.equal(await b.next('app', 't', 'n1,n2'), TOPIC_OFFSET_BLOCK + 1);
  // The first owner, under other members, reserves again past both; under the old ones it still held a block.
  assert.equal(await a.next('app', 't', 'n1'), 6);
  assert.equal(await a.next('app', 't', 'n1,n3'), 2 * TOPIC_OFFSET_BLOCK + 1);

  // A used-up block is followed by the next one, without a gap when nobody else reserved.
  const c = new TopicOffsets(k, async () => 0);
  let last = 0;
  for (let i = 0; i < TOPIC_OFFSET_BLOCK + 2; i++) last = await c.next('app', 'u', 'n1');
  assert.equal(last, TOPIC_OFFSET_BLOCK + 2);

  // Offsets this node stored before blocks existed are a floor.
  const d = new TopicOffsets(k, async () => 7_000);
  assert.equal(await d.next('app', 'legacy', 'n1'), 7_001);
});
