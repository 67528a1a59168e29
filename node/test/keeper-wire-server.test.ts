// KeeperWireServer's bound on the calls of one connection running at once
// and its pings (a client that answers none is dropped),
// in process: a plain node:http server with the wire attached, a real
// one-member keeper (LevelDB in a temp dir) behind KeeperOps, whose puts are
// held at a gate so the test can see how many run. Past the bound the calls
// wait unread and run as others finish; every call is answered.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import WebSocket from 'ws';
import { RaftKeeper } from '../../keeper/src/raft-keeper.js';
import { KEEPER_WIRE_PATH, KEEPER_WIRE_PROTOCOL, packWire, unpackWire, type WireAnswer, type WireRequest } from '../../keeper/src/keeper-wire.js';
import { Auth } from '../src/center/auth.js';
import { KeeperOps, type PutBody, type Reach } from '../src/center/keeper-ops.js';
import { KeeperWireServer, type KeeperWireLimits } from '../src/center/keeper-wire-server.js';
import { Metrics } from '../src/metrics.js';
import { PeerAuth } from '../src/peer/peer-auth.js';

let keeper: RaftKeeper;
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keeper-wire-server-'));
  keeper = await RaftKeeper.open({
    dataDir: dir,
    member: { id: 'n1', peer: '127.0.0.1:1', api: '127.0.0.1:2', gateway: '127.0.0.1:3', zone: 'default' },
    listen: { host: '127.0.0.1', port: 0 },
    leaseCheckIntervalMs: 0,
  });
});
after(async () => {
  await keeper.close();
  await rm(dir, { recursive: true, force: true });
});

const LIMITS: KeeperWireLimits = { connectionsMax: 4, connectionsPerAddressMax: 4, connectionsPerAddressPerSecond: 100, callsMax: 3, messageBytesMax: 1 << 20, pingMs: 30_000 };

/** A KeeperWireServer on a plain node:http server on loopback, taking the token `tok`. */
async function serve(ops: KeeperOps, limits: Partial<KeeperWireLimits> = {}): Promise<{ port: number; url: string; close(): Promise<void> }> {
  const auth = new Auth({ lookup: (t) => (t === 'tok' ? { id: 'a', label: 'test', createdAt: 0 } : undefined) }, new PeerAuth({ selfId: 'n1', key: () => Buffer.alloc(32), isMember: () => false, now: Date.now }), () => undefined);
  const wire = new KeeperWireServer({ auth, ops, metrics: new Metrics(), log: pino({ level: 'silent' }), limits: { ...LIMITS, ...limits } });
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => wire.upgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}${KEEPER_WIRE_PATH}`,
    close: async () => {
      await wire.drain(0);
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** KeeperOps whose puts wait at a gate before they reach the keeper, counting how many wait at once. */
class GatedOps extends KeeperOps {
  running = 0;
  most = 0;
  private readonly held: (() => void)[] = [];
  override async put(reach: Reach, key: string, b: PutBody): Promise<{ revision: number }> {
    this.running++;
    this.most = Math.max(this.most, this.running);
    await new Promise<void>((r) => this.held.push(r));
    this.running--;
    return super.put(reach, key, b);
  }
  /** Lets every held put go on. */
  release(): number {
    const n = this.held.length;
    for (const r of this.held.splice(0)) r();
    return n;
  }
}

test('at most callsMax calls of a connection run at once; the rest wait unread and are all answered', async () => {
  const ops = new GatedOps(keeper);
  const srv = await serve(ops);
  const ws = new WebSocket(srv.url, KEEPER_WIRE_PROTOCOL, { headers: { authorization: 'Bearer tok' } });
  try {
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    const answered = new Map<number, WireAnswer>();
    ws.on('message', (d: Buffer) => {
      for (const a of unpackWire(d) as WireAnswer[]) answered.set(a.id, a);
    });
    const calls: WireRequest[] = Array.from({ length: 10 }, (_, i) => ({ id: i + 1, op: 'put', key: `/gate/${i}`, value: 'v' }));
    ws.send(packWire(calls));
    // Released a few at a time: never more than 3 held at once, and all ten get through.
    const deadline = Date.now() + 10_000;
    while (answered.size < calls.length) {
      assert.ok(Date.now() < deadline, `answered ${answered.size} of ${calls.length} within 10 s`);
      await new Promise((r) => setTimeout(r, 20));
      assert.ok(ops.running <= 3, `${ops.running} running`);
      ops.release();
    }
    assert.equal(ops.most, 3, 'the bound was reached, and not passed');
    for (const c of calls) assert.ok('ok' in (answered.get(c.id) ?? { err: 1 }), `call ${c.id} answered ok`);
    assert.equal((await keeper.range('/gate/', { prefix: true, consistency: 'linearizable' })).kvs.length, 10);
  } finally {
    ws.terminate();
    await srv.close();
  }
});

test('a client that answers no ping is dropped after a ping period or two', async () => {
  const srv = await serve(new KeeperOps(keeper), { pingMs: 100 });
  const url = srv.url;
  const dial = (autoPong: boolean): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, KEEPER_WIRE_PROTOCOL, { headers: { authorization: 'Bearer tok' }, autoPong });
      ws.once('open', () => resolve(ws)).once('error', reject);
    });
  const mute = await dial(false);
  const live = await dial(true);
  try {
    const t0 = Date.now();
    const code = await new Promise<number>((r) => {
      mute.once('close', (c) => r(c));
      setTimeout(() => r(-1), 3000).unref();
    });
    assert.ok(Date.now() - t0 < 1000, 'dropped within a few periods');
    assert.equal(code, 1006, 'terminated, no close handshake');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(live.readyState, WebSocket.OPEN, 'a client that answers pings stays');
  } finally {
    live.terminate();
    await srv.close();
  }
});

test('a handshake ws refuses as malformed gives its address place back', async () => {
  const srv = await serve(new KeeperOps(keeper), { connectionsPerAddressMax: 2 });
  const port = srv.port;
  try {
    for (let i = 0; i < 3; i++) {
      // Everything longwire checks is right; the key is not base64 of 16 bytes, which ws refuses.
      const s = connect(port, '127.0.0.1');
      s.write(`GET ${KEEPER_WIRE_PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: bad\r\nSec-WebSocket-Protocol: ${KEEPER_WIRE_PROTOCOL}\r\nAuthorization: Bearer tok\r\n\r\n`);
      const answer = await new Promise<string>((r) => {
        let got = '';
        s.on('data', (d: Buffer) => (got += d.toString()));
        s.on('close', () => r(got));
        s.on('error', () => r(got));
      });
      assert.match(answer, /^HTTP\/1\.1 400/, 'ws refused the handshake');
    }
    await new Promise((r) => setTimeout(r, 50));
    const ws = new WebSocket(srv.url, KEEPER_WIRE_PROTOCOL, { headers: { authorization: 'Bearer tok' } });
    await new Promise((r, j) => ws.once('open', r).once('unexpected-response', (_q, res) => j(new Error(`refused ${res.statusCode}`))));
    ws.terminate();
  } finally {
    await srv.close();
  }
});
