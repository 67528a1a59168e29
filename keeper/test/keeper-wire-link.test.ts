// WireLink (the keeper client's side of the keeper wire) against small real
// servers on loopback standing in for a member: a `ws` server speaking the
// wire, one refusing the upgrade, one that accepts TCP and never answers, and
// a closed port. What is checked is what KeeperClient's failover relies on:
// each call ends once, with the member's answer or with a failure that says
// truly whether the call could have reached the member, and a silent
// connection is probed and dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { KEEPER_WIRE_PROTOCOL, packWire, unpackWire, type WireAnswer, type WireRequest } from '../src/keeper-wire.js';
import { WireLink, type WireOutcome } from '../src/keeper-wire-link.js';
import { relay } from './support/freezing-relay.js';

interface Member {
  readonly url: string;
  /** Messages received, each the calls it carried. */
  readonly messages: WireRequest[][];
  /** Headers of the upgrades received. */
  readonly upgrades: IncomingMessage['headers'][];
  sockets(): WebSocket[];
  close(): Promise<void>;
}

/** A member that answers each call with `answer(call)` (undefined: no answer), the answers of a message in reverse order. */
async function member(answer: (c: WireRequest) => WireAnswer | undefined): Promise<Member> {
  const messages: WireRequest[][] = [];
  const upgrades: IncomingMessage['headers'][] = [];
  const server: Server = createServer();
  const wss = new WebSocketServer({ server, handleProtocols: (p) => (p.has(KEEPER_WIRE_PROTOCOL) ? KEEPER_WIRE_PROTOCOL : false) });
  wss.on('connection', (ws, req) => {
    upgrades.push(req.headers);
    ws.on('message', (d: Buffer) => {
      const calls = unpackWire(d) as WireRequest[];
      messages.push(calls);
      const out = calls.map(answer).filter((a): a is WireAnswer => a !== undefined).reverse();
      if (out.length > 0) ws.send(packWire(out));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    messages,
    upgrades,
    sockets: () => [...wss.clients],
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const echo = (c: WireRequest): WireAnswer => ({ id: c.id, ok: { revision: c.id, op: c.op } });

test('the calls of one turn leave in one message, with the token; answers in any order reach their calls', async () => {
  const m = await member(echo);
  const link = new WireLink(m.url, 'Bearer t0k');
  try {
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => link.call({ op: 'put', key: `/k${i}`, value: 'v' }, 2000)));
    assert.equal(m.messages.length, 1, 'one message');
    assert.equal(m.messages[0]?.length, 10);
    assert.equal(m.upgrades[0]?.authorization, 'Bearer t0k');
    outcomes.forEach((o, i) => {
      assert.equal(o.kind, 'answer');
      const a = (o as Extract<WireOutcome, { kind: 'answer' }>).answer;
      assert.ok('ok' in a);
      assert.equal(m.messages[0]?.[i]?.id, a.id, 'each call got the answer to its own id');
    });
    // The next turn reuses the connection.
    await link.call({ op: 'range', key: '/k1' }, 2000);
    assert.equal(m.upgrades.length, 1);
  } finally {
    link.close();
    await m.close();
  }
});

test('a member without the wire (404) is unsupported, and is not asked again at once; other refusals are answers', async () => {
  const status = { code: 404 };
  const server = createServer((_req, res) => res.writeHead(404).end());
  let upgrades = 0;
  server.on('upgrade', (_req, socket: Socket) => {
    upgrades++;
    const body = JSON.stringify({ error: { code: status.code === 401 ? 'unauthorized' : 'not-found', message: 'refused here' } });
    socket.end(`HTTP/1.1 ${status.code} X\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const link = new WireLink(url, 'Bearer x');
    assert.deepEqual(await link.call({ op: 'range', key: '/a' }, 2000), { kind: 'unsupported' });
    assert.deepEqual(await link.call({ op: 'range', key: '/a' }, 2000), { kind: 'unsupported' });
    assert.equal(upgrades, 1, 'the second call did not try again');
    status.code = 401;
    const o = await new WireLink(url, 'Bearer x').call({ op: 'put', key: '/a', value: 'v' }, 2000);
    assert.equal(o.kind, 'answer');
    const a = (o as Extract<WireOutcome, { kind: 'answer' }>).answer;
    assert.ok('err' in a && a.err.status === 401 && a.err.code === 'unauthorized', JSON.stringify(a));
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('a call written to a connection that is then lost may have been applied; one never written surely was not', async () => {
  // Written, never answered, connection dropped: not unsent.
  const m = await member(() => undefined);
  const link = new WireLink(m.url, 'Bearer x');
  const pending = link.call({ op: 'put', key: '/a', value: 'v', ifModRevision: 0 }, 5000);
  while (m.messages.length === 0) await new Promise((r) => setTimeout(r, 5));
  for (const s of m.sockets()) s.terminate();
  const lost = await pending;
  assert.equal(lost.kind, 'failed');
  assert.equal((lost as Extract<WireOutcome, { kind: 'failed' }>).unsent, false);
  // The next call dials again.
  const again = link.call({ op: 'range', key: '/a' }, 300);
  const timedOut = await again;
  assert.equal(timedOut.kind, 'failed', 'written, no answer within the timeout');
  assert.equal((timedOut as Extract<WireOutcome, { kind: 'failed' }>).unsent, false);
  assert.equal(m.upgrades.length, 2);
  link.close();
  await m.close();

  // Refused connection: unsent.
  const refused = await new WireLink(m.url, 'Bearer x').call({ op: 'put', key: '/a', value: 'v' }, 2000);
  assert.equal(refused.kind, 'failed');
  assert.equal((refused as Extract<WireOutcome, { kind: 'failed' }>).unsent, true);

  // TCP accepted, upgrade never answered (a hung member): the call waits for the upgrade and was never written.
  const held: Socket[] = [];
  const mute = createNetServer((s) => held.push(s));
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  try {
    const t0 = Date.now();
    const o = await new WireLink(`http://127.0.0.1:${(mute.address() as AddressInfo).port}`, 'Bearer x').call({ op: 'put', key: '/a', value: 'v' }, 300);
    assert.equal(o.kind, 'failed');
    assert.equal((o as Extract<WireOutcome, { kind: 'failed' }>).unsent, true);
    assert.ok(Date.now() - t0 < 3000, 'ended by the timeout');
  } finally {
    for (const s of held) s.destroy();
    await new Promise<void>((r) => mute.close(() => r()));
  }
});

test('a connection that goes silent while a call waits is probed and dropped in ~3 s, not at the call timeout; the next call dials anew', async () => {
  const m = await member(echo);
  const r = await relay(m.url.replace('http://', ''));
  const link = new WireLink(`http://${r.api}`, 'Bearer x');
  try {
    assert.equal((await link.call({ op: 'range', key: '/a' }, 2000)).kind, 'answer');
    r.freeze(true);
    const t0 = Date.now();
    const o = await link.call({ op: 'put', key: '/a', value: 'v' }, 20_000);
    const took = Date.now() - t0;
    assert.equal(o.kind, 'failed');
    assert.match((o as Extract<WireOutcome, { kind: 'failed' }>).why, /ping/);
    assert.equal((o as Extract<WireOutcome, { kind: 'failed' }>).unsent, false, 'written before the freeze was seen');
    assert.ok(took >= 2500 && took < 6000, `dropped after ${took} ms`);
    r.freeze(false);
    assert.equal((await link.call({ op: 'range', key: '/a' }, 2000)).kind, 'answer');
    assert.equal(m.upgrades.length, 2, 'a new connection');
  } finally {
    link.close();
    await r.close();
    await m.close();
  }
});
