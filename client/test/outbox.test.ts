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

test('flush writes at once, e.g. the last acks before a close', () => {
  const written: ClientFrame[] = [];
  const o = new Outbox((f) => written.push(f));
  o.push({ t: 'ack', app: 'a', seq: 5 });
  o.flush();
  assert.deepEqual(written, [{ t: 'ack', app: 'a', seq: 5 }]);
});
