import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClientFrame } from '../src/core/frames.js';
import { Outbox } from '../src/core/outbox.js';

test('frames go out together at the end of the microtask; acks per app coalesce into the newest', async () => {
  const written: ClientFrame[] = [];
  const o = new Outbox((f) => written.push(f));
  o.push({ t: 'ack', app: 'a', seq: 1 });
  o.push({ t: 'ping' });
  o.push({ t: 'ack', app: 'b', seq: 9 });
  o.push({ t: 'ack', app: 'a', seq: 2 });
  o.push({ t: 'ack', app: 'a', seq: 3 });
  assert.deepEqual(written, [], 'nothing written synchronously');
  await Promise.resolve();
  assert.deepEqual(written, [
    { t: 'ping' },
    { t: 'ack', app: 'b', seq: 9 },
    { t: 'ack', app: 'a', seq: 3 },
  ]);
});

test('clear drops frames meant for a socket that is gone', async () => {
  const written: ClientFrame[] = [];
  const o = new Outbox((f) => written.push(f));
  o.push({ t: 'ping' });
  o.clear();
  o.push({ t: 'unbind', app: 'x' });
  await Promise.resolve();
  assert.deepEqual(written, [{ t: 'unbind', app: 'x' }]);
});
