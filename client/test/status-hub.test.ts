import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatusHub } from '../src/core/status-hub.js';
import type { Status } from '../src/core/status.js';

test('callbacks and iterators see every event; iterators end after closed', async () => {
  const hub = new StatusHub();
  const seen: Status[] = [];
  const off = hub.on((s) => seen.push(s));
  const collected = (async () => {
    const out: Status[] = [];
    for await (const s of hub.iterate()) out.push(s);
    return out;
  })();
  await Promise.resolve();
  hub.publish({ type: 'connecting', url: 'ws://x' });
  off();
  hub.publish({ type: 'closed' });
  hub.publish({ type: 'connecting', url: 'after close' });
  assert.deepEqual(seen, [{ type: 'connecting', url: 'ws://x' }]);
  assert.deepEqual(await collected, [{ type: 'connecting', url: 'ws://x' }, { type: 'closed' }]);
  const late: Status[] = [];
  for await (const s of hub.iterate()) late.push(s);
  assert.deepEqual(late, [], 'an iterator made after closed ends at once');
});
