// Ownership.refresh against a real one-member keeper: every caller gets a
// read of the drain and join records that started after its call (a record
// written before the call is seen), and callers that arrive while a read runs
// share the next one, so a move's many pulls make a few reads, not one each.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftKeeper } from '../../keeper/src/raft-keeper.js';
import type { Keeper } from '../../keeper/src/keeper.js';
import { DRAINING_PREFIX, Ownership } from '../src/ownership.js';

let keeper: RaftKeeper | undefined;
let dir: string | undefined;
after(async () => {
  await keeper?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

test('refresh: each caller sees what was written before its call; concurrent callers share reads', async () => {
  dir = await mkdtemp(join(tmpdir(), 'ownership-refresh-'));
  const k = (keeper = await RaftKeeper.open({
    dataDir: dir,
    member: { id: 'n1', peer: '127.0.0.1:1', api: '127.0.0.1:2', gateway: '127.0.0.1:3', zone: 'default' },
    listen: { host: '127.0.0.1', port: 0 },
    leaseCheckIntervalMs: 0,
  }));
  let ranges = 0;
  // The real keeper, with its prefix reads counted (drains and joins: two per refresh).
  const counted = new Proxy(k, {
    get(target, prop, receiver) {
      if (prop === 'range') {
        return (...args: Parameters<Keeper['range']>) => {
          ranges++;
          return target.range(...args);
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as Keeper;
  const o = new Ownership('n1', counted);
  await o.start();
  try {
    ranges = 0;
    const first = o.refresh();
    // Written after the first read started: the callers from here on must see it.
    await k.put(`${DRAINING_PREFIX}n9`, JSON.stringify({ mark: 'm9' }));
    const later = Array.from({ length: 20 }, () => o.refresh());
    await first;
    await Promise.all(later);
    assert.equal(o.drainOf('n9')?.mark, 'm9');
    // The first; then the first of the twenty starts one if the first was done, the rest share the one after it.
    assert.ok(ranges <= 6, `21 refreshes made ${ranges / 2} reads (at most 3)`);
    assert.ok(ranges >= 2);

    // One alone after that reads again.
    ranges = 0;
    await o.refresh();
    assert.equal(ranges, 2);
  } finally {
    o.close();
  }
});
