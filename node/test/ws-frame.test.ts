// The pre-framed fan-out write (ws-frame.ts) against real ws servers and
// clients on loopback: frames written raw arrive intact and in order with
// frames ws.send wrote, and the raw path is refused whenever ws's own sender
// could still reorder or transform bytes (compression, a pending blob read,
// a closing socket).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { frameOnce, rawSocketOf } from '../src/protocol/ws-frame.js';

interface Pair {
  readonly server: WebSocket;
  readonly client: WebSocket;
  readonly got: { data: Buffer; binary: boolean }[];
  close(): Promise<void>;
}

async function pair(perMessageDeflate: boolean): Promise<Pair> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate });
  await once(wss, 'listening');
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { perMessageDeflate });
  const got: { data: Buffer; binary: boolean }[] = [];
  client.on('message', (data: Buffer, binary: boolean) => got.push({ data, binary }));
  await once(client, 'open');
  const [server] = await accepted;
  return {
    server,
    client,
    got,
    async close() {
      client.terminate();
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
    },
  };
}

async function until(cond: () => boolean): Promise<void> {
  // Bounded: 500 × 10 ms.
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), 'condition not reached in 5 s');
}

test('frames written raw arrive intact, as text or binary, in order with frames ws.send wrote', async () => {
  const p = await pair(false);
  try {
    const long = Buffer.alloc(70_000, 7); // a 64-bit length header
    const mid = Buffer.from('m'.repeat(300)); // a 16-bit length header
    p.server.send('first');
    const socket = rawSocketOf(p.server);
    assert.ok(socket !== undefined, 'an idle sender without compression must allow the raw write');
    socket.write(frameOnce(Buffer.from('second'), false));
    p.server.send('third');
    socket.write(frameOnce(mid, false));
    socket.write(frameOnce(long, true));
    p.server.send(Buffer.from([1, 2, 3]));
    await until(() => p.got.length === 6);
    assert.deepEqual(
      p.got.map((m) => [m.binary, m.binary ? m.data.length : m.data.toString()]),
      [
        [false, 'first'],
        [false, 'second'],
        [false, 'third'],
        [false, mid.toString()],
        [true, long.length],
        [true, 3],
      ],
    );
    assert.ok(p.got[4]?.data.equals(long));
  } finally {
    await p.close();
  }
});

test('no raw write while permessage-deflate is negotiated, a blob is being read, or the socket is closing', async () => {
  const deflate = await pair(true);
  try {
    assert.match(deflate.server.extensions, /permessage-deflate/);
    assert.equal(rawSocketOf(deflate.server), undefined);
  } finally {
    await deflate.close();
  }
  const p = await pair(false);
  try {
    // ws reads a Blob asynchronously and queues later sends behind it: a raw write now would overtake it.
    p.server.send(new Blob(['blob']));
    assert.equal(rawSocketOf(p.server), undefined);
    p.server.send('after');
    await until(() => p.got.length === 2);
    assert.deepEqual(
      p.got.map((m) => m.data.toString()),
      ['blob', 'after'],
    );
    assert.ok(rawSocketOf(p.server) !== undefined, 'the sender is idle again');
    p.server.close(1000);
    assert.equal(rawSocketOf(p.server), undefined);
  } finally {
    await p.close();
  }
});
