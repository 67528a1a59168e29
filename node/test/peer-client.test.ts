// PeerClient against a stand-in peer (node:http on loopback): MessagePack
// round trip with the request id echoed, one connection for pipelined calls,
// and each failure with its code: busy (a full queue fails at once), timeout,
// refused (non-200, or an answer for another request), unreachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PeerClient, RPC_ID_HEADER, DEFAULT_PEER_LIMITS } from '../src/peer/peer-client.js';
import { PeerError } from '../src/peer/errors.js';
import { packPeer, unpackPeer, PEER_CONTENT_TYPE } from '../src/peer/codec.js';
import { freePort } from './support/node-process.js';
import { PeerAuth } from '../src/peer/peer-auth.js';

type Handler = (req: IncomingMessage, body: unknown, res: ServerResponse, raw: Buffer) => void;

const KEY = Buffer.alloc(32, 7);
const signer = (): PeerAuth => new PeerAuth({ selfId: 'n1', key: () => KEY, isMember: () => true, now: Date.now });
const PLAIN = { https: false } as const;

async function peer(handler: Handler): Promise<{ api: string; sockets: () => number; close: () => Promise<void> }> {
  let sockets = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      handler(req, unpackPeer(raw), res, raw);
    });
  });
  server.on('connection', () => sockets++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    api: `127.0.0.1:${port}`,
    sockets: () => sockets,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function answer(req: IncomingMessage, res: ServerResponse, value: unknown, id = req.headers[RPC_ID_HEADER]): void {
  res.writeHead(200, { 'content-type': PEER_CONTENT_TYPE, [RPC_ID_HEADER]: String(id) });
  res.end(packPeer(value));
}

async function failure(p: Promise<unknown>): Promise<PeerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof PeerError, `expected a PeerError, got ${String(err)}`);
  return err;
}

test('calls round-trip MessagePack signed as this node (no admin token) with a request id, pipelined on one connection', async () => {
  const verifier = new PeerAuth({ selfId: 'p1', key: () => KEY, isMember: (id) => id === 'n1', now: Date.now });
  const p = await peer((req, body, res, raw) => {
    assert.equal(req.headers.authorization, undefined);
    assert.equal(req.url, '/internal/v1/rpc/echo');
    assert.deepEqual(verifier.verify(req.headers, 'POST', req.url, raw), { ok: true, peer: 'n1' });
    answer(req, res, { got: body });
  });
  const c = new PeerClient('p1', p.api, signer(), PLAIN, DEFAULT_PEER_LIMITS);
  try {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => c.call('echo', { i, big: 2 ** 40 })));
    assert.deepEqual(answers, Array.from({ length: 20 }, (_, i) => ({ got: { i, big: 2 ** 40 } })));
    assert.equal(p.sockets(), 1);
  } finally {
    await c.close();
    await p.close();
  }
});

test('a full peer queue fails the next call at once with busy; calls bounded by bytes too', async () => {
  // The first answer is held until the busy check; the peer reads pipelined requests one at a time.
  let release: (() => void) | undefined;
  const released = new Promise<void>((r) => (release = r));
  const p = await peer((req, _body, res) => void released.then(() => answer(req, res, 'ok')));
  const c = new PeerClient('p1', p.api, signer(), PLAIN, { ...DEFAULT_PEER_LIMITS, inflightMax: 2, inflightBytesMax: 1000 });
  try {
    const first = [c.call('x', 1), c.call('x', 2)];
    const busy = await failure(c.call('x', 3));
    assert.equal(busy.code, 'busy');
    assert.match(busy.message, /queue full/);
    release?.();
    assert.deepEqual(await Promise.all(first), ['ok', 'ok']);
    // One call larger than the byte bound is refused without being sent.
    assert.equal((await failure(c.call('x', 'y'.repeat(2000)))).code, 'busy');
  } finally {
    await c.close();
    await p.close();
  }
});

test('no answer within the deadline fails with timeout; a non-200 or a foreign id with refused; a dead port with unreachable', async () => {
  const p = await peer((req, body, res) => {
    if (body === 'silent') return;
    if (body === 'bad') {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'unauthorized', message: 'peer call refused' } }));
      return;
    }
    answer(req, res, 'x', 'someone-else');
  });
  const c = new PeerClient('p1', p.api, signer(), PLAIN, { ...DEFAULT_PEER_LIMITS, timeoutMs: 300 });
  try {
    assert.equal((await failure(c.call('x', 'silent'))).code, 'timeout');
    const refused = await failure(c.call('x', 'bad'));
    assert.equal(refused.code, 'refused');
    assert.match(refused.message, /401.*unauthorized/);
    assert.equal((await failure(c.call('x', 'other'))).code, 'refused');
  } finally {
    await c.close();
    await p.close();
  }
  const dead = new PeerClient('p2', `127.0.0.1:${await freePort()}`, signer(), PLAIN, DEFAULT_PEER_LIMITS);
  try {
    assert.equal((await failure(dead.call('x', 1))).code, 'unreachable');
  } finally {
    await dead.close();
  }
});
