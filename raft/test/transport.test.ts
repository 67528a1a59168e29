// The wire codec, and three RaftShells over real TCP on loopback with LevelDB in temp dirs.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Message } from '../src/message.js';
import { RawNode } from '../src/raw-node.js';
import { SeededRng } from '../src/rng.js';
import { RaftShell } from '../src/shell/raft-shell.js';
import { LevelStorage } from '../src/storage/level-storage.js';
import { DecodeError, FrameDecoder, decodeMessage, encodeMessage, frame } from '../src/transport/codec.js';
import { TcpTransport } from '../src/transport/tcp-transport.js';
import type { Entry, NodeId, Snapshot } from '../src/types.js';
import { index as I, term as T } from '../src/types.js';
import { until } from './helpers/until.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Bytes as arrays (msgpackr decodes bin as Buffer), for deep comparison. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return [...v];
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

describe('transport/codec', () => {
  const ent = (t: number, i: number): Entry => ({ term: T(t), index: I(i), type: 'normal', data: enc(`e${i}`) });

  test('every network message type round-trips', () => {
    const snap: Snapshot = { meta: { index: I(9), term: T(2), confState: { voters: [1, 2], learners: [3] } }, data: enc('s') };
    const msgs: Message[] = [
      { type: 'MsgApp', from: 1, to: 2, term: T(3), index: I(4), logTerm: T(2), entries: [ent(3, 5), ent(3, 6)], commit: I(4) },
      { type: 'MsgAppResp', from: 2, to: 1, term: T(3), index: I(6), reject: true, rejectHint: I(3), logTerm: T(2) },
      { type: 'MsgVote', from: 1, to: 2, term: T(3), index: I(4), logTerm: T(2), transfer: true },
      { type: 'MsgPreVoteResp', from: 2, to: 1, term: T(3), reject: false },
      { type: 'MsgSnap', from: 1, to: 3, term: T(3), snapshot: snap },
      { type: 'MsgHeartbeat', from: 1, to: 2, term: T(3), commit: I(4), context: enc('ctx') },
      { type: 'MsgReadIndexResp', from: 1, to: 2, term: T(3), index: I(4), context: enc('r') },
      { type: 'MsgProp', from: 2, to: 1, term: T(0), entries: [{ term: T(0), index: I(0), type: 'conf-change', data: enc('{}') }] },
      { type: 'MsgTimeoutNow', from: 1, to: 2, term: T(3) },
    ];
    for (const m of msgs) {
      const got = decodeMessage(encodeMessage(m));
      assert.ok(!(got instanceof DecodeError), `${m.type}: ${got instanceof DecodeError ? got.message : ''}`);
      assert.deepEqual(plain(got), plain(m));
    }
  });

  test('the gateway rejects local types, gaps, term inversions and garbage', () => {
    const bad: unknown[] = [
      { type: 'MsgHup', from: 1, to: 1, term: 0 },
      { type: 'MsgApp', from: 1, to: 2, term: 3, index: 4, logTerm: 2, entries: [ent(3, 6)], commit: 0 },
      { type: 'MsgApp', from: 1, to: 2, term: 3, index: 4, logTerm: 3, entries: [ent(2, 5)], commit: 0 },
      { type: 'MsgApp', from: 1, to: 2, term: 2, index: 4, logTerm: 2, entries: [ent(3, 5)], commit: 0 },
      { type: 'MsgVote', from: 0, to: 2, term: 3, index: 4, logTerm: 2, transfer: false },
      { type: 'MsgNope', from: 1, to: 2, term: 3 },
    ];
    for (const b of bad) assert.ok(decodeMessage(encodeMessage(b as Message)) instanceof DecodeError, JSON.stringify(b));
    assert.ok(decodeMessage(enc('\xc1garbage')) instanceof DecodeError);
  });

  test('frames split across chunks are reassembled; oversized frames are refused', () => {
    const d = new FrameDecoder(100);
    const a = frame(enc('hello'));
    const b = frame(enc('world!'));
    const all = new Uint8Array([...a, ...b]);
    const got: string[] = [];
    for (let i = 0; i < all.length; i += 3) {
      const r = d.push(all.subarray(i, i + 3));
      assert.ok(!(r instanceof DecodeError));
      for (const f of r) got.push(dec(f));
    }
    assert.deepEqual(got, ['hello', 'world!']);
    assert.ok(new FrameDecoder(4).push(frame(enc('too long'))) instanceof DecodeError);
  });
});

describe('shell over TCP', () => {
  const root = mkdtempSync(join(tmpdir(), 'raft-shell-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('three members over loopback elect a leader, replicate, and survive the loss of the leader', async () => {
    const ids: NodeId[] = [1, 2, 3];
    const members = new Map<NodeId, { node: RawNode; shell: RaftShell; transport: TcpTransport; storage: LevelStorage; applied: string[] }>();
    const ports = new Map<NodeId, number>();
    for (const id of ids) {
      const storage = await LevelStorage.open(join(root, `n${id}`));
      await storage.bootstrap({ voters: ids, learners: [] });
      const node = new RawNode({ id, storage: storage.memory, rng: new SeededRng(id), electionTicks: 20, heartbeatTicks: 2 });
      const applied: string[] = [];
      let shell: RaftShell | undefined;
      const { transport, port } = await TcpTransport.start({
        selfId: id,
        listen: { host: '127.0.0.1', port: 0 },
        rng: new SeededRng(100 + id),
        onMessage: (m) => shell?.step(m),
        onUnreachable: (peer) => node.reportUnreachable(peer),
      });
      ports.set(id, port);
      shell = new RaftShell({
        node,
        storage,
        transport,
        tickMs: 20,
        snapshotEntries: 5,
        compactionKeepEntries: 2,
        stateMachine: {
          restore: (s) => applied.splice(0, applied.length, ...(JSON.parse(dec(s.data)) as string[])),
          apply: (e) => {
            if (e.type === 'normal' && e.data.length > 0) applied.push(dec(e.data));
          },
          snapshot: () => enc(JSON.stringify(applied)),
        },
        onFatal: (err) => {
          throw err;
        },
      });
      members.set(id, { node, shell, transport, storage, applied });
    }
    for (const id of ids) for (const peer of ids) if (peer !== id) members.get(id)!.transport.setPeer(peer, { host: '127.0.0.1', port: ports.get(peer)! });
    for (const m of members.values()) m.shell.start();
    // Stopped in `finally` too: a failed assertion must not leave members ticking and keep the file alive.
    const stop = async (id: NodeId): Promise<void> => {
      const m = members.get(id)!;
      await m.shell.stop();
      await m.transport.close();
    };
    try {
      const leaderOf = (among: NodeId[]): NodeId | undefined => among.find((id) => members.get(id)!.node.status().state === 'leader');

      await until(() => leaderOf(ids) !== undefined, 'a leader');
      const l1 = leaderOf(ids)!;
      for (let i = 0; i < 8; i++) assert.ok(members.get(l1)!.shell.propose(enc(`a${i}`)).ok);
      await until(() => ids.every((id) => members.get(id)!.applied.length === 8), 'replication of 8 entries');
      // The snapshot is written after the apply, so followers may apply before the leader's snapshot is on disk.
      await until(() => members.get(l1)!.storage.memory.firstIndex() > 1, 'the leader to take a snapshot and compact');

      // The leader goes away; the other two elect a new leader and go on.
      await stop(l1);
      const rest = ids.filter((id) => id !== l1);
      await until(() => leaderOf(rest) !== undefined, 'a new leader');
      const l2 = leaderOf(rest)!;
      assert.ok(members.get(l2)!.shell.propose(enc('b')).ok);
      await until(() => rest.every((id) => members.get(id)!.applied.at(-1) === 'b'), 'replication after failover');
    } finally {
      for (const id of ids) await stop(id);
      for (const m of members.values()) await m.storage.close();
    }
  });
});

describe('transport/link security', () => {
  const heartbeat = (from: NodeId, to: NodeId): Message => ({ type: 'MsgHeartbeat', from, to, term: T(1), commit: I(0), context: enc('') });

  /** A transport on a free loopback port that counts what it is given and keeps what it refused. */
  async function endpoint(id: NodeId, secret?: string): Promise<{ t: TcpTransport; port: number; delivered: () => number; refused: string[]; disconnected: NodeId[] }> {
    let delivered = 0;
    const refused: string[] = [];
    const disconnected: NodeId[] = [];
    const { transport, port } = await TcpTransport.start({
      selfId: id,
      listen: { host: '127.0.0.1', port: 0 },
      rng: new SeededRng(id),
      onMessage: () => delivered++,
      onUnreachable: () => undefined,
      onProtocolError: (err) => refused.push(err.message),
      onDisconnected: (peer) => disconnected.push(peer),
      ...(secret === undefined ? {} : { security: { secret: enc(secret) } }),
    });
    return { t: transport, port, delivered: () => delivered, refused, disconnected };
  }

  /**
   * `a` (id `from`) sends heartbeats to `b` (id 2) until one arrives or `b` refuses the link; else for
   * at least `ms`, and on until either end refused it (a handshake on a loaded machine may take longer), up to 10 s.
   */
  async function exchange(from: NodeId, secretA: string | undefined, secretB: string | undefined, ms = 1500): Promise<{ delivered: number; refusedAtB: string[]; refusedAtA: string[] }> {
    const b = await endpoint(2, secretB);
    try {
      const a = await endpoint(from, secretA);
      try {
        b.t.setPeer(1, { host: '127.0.0.1', port: a.port });
        a.t.setPeer(2, { host: '127.0.0.1', port: b.port });
        const start = Date.now();
        while (b.delivered() === 0 && b.refused.length === 0 && (Date.now() < start + ms || a.refused.length === 0) && Date.now() < start + 10_000) {
          a.t.send([heartbeat(from, 2)]);
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        await a.t.close();
      }
      return { delivered: b.delivered(), refusedAtA: a.refused, refusedAtB: b.refused };
    } finally {
      await b.t.close();
    }
  }

  test('a peer that goes away is reported disconnected, on both of its links; closing our own transport reports nothing', async () => {
    const a = await endpoint(1, 'same-secret-123456');
    const b = await endpoint(2, 'same-secret-123456');
    // Closed in `finally` too (closing twice is harmless): a failed assertion must not leave links redialing.
    try {
      a.t.setPeer(2, { host: '127.0.0.1', port: b.port });
      b.t.setPeer(1, { host: '127.0.0.1', port: a.port });
      const deadline = Date.now() + 5000;
      while ((a.delivered() === 0 || b.delivered() === 0) && Date.now() < deadline) {
        a.t.send([heartbeat(1, 2)]);
        b.t.send([heartbeat(2, 1)]);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(a.delivered() > 0 && b.delivered() > 0, 'both links open');
      assert.deepEqual(b.disconnected, []);
      await a.t.close();
      while (b.disconnected.length < 2 && Date.now() < deadline + 5000) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(b.disconnected, [1, 1], 'b saw its link to a and a\'s link to it close');
      assert.deepEqual(a.disconnected, [], 'a closed its own transport: nothing to report');
      await b.t.close();
      assert.deepEqual(b.disconnected, [1, 1]);
    } finally {
      await a.t.close();
      await b.t.close();
    }
  });

  test('a peer that comes back and dials us gets our link at once, not after the reconnect backoff', async () => {
    const start = async (id: NodeId, port: number, got: { n: number; disconnected: number }): Promise<{ transport: TcpTransport; port: number }> =>
      TcpTransport.start({
        selfId: id,
        listen: { host: '127.0.0.1', port },
        rng: new SeededRng(id),
        onMessage: () => got.n++,
        onUnreachable: () => undefined,
        onDisconnected: () => got.disconnected++,
        // Without the prompt, a link that lost its peer would wait a minute before dialing again.
        backoff: { minMs: 60_000, maxMs: 60_000 },
      });
    const gotA = { n: 0, disconnected: 0 };
    const gotB = { n: 0, disconnected: 0 };
    const { transport: a, port: aPort } = await start(1, 0, gotA);
    const opened = [a];
    try {
      const first = await start(2, 0, gotB);
      opened.push(first.transport);
      let b = first.transport;
      const bPort = first.port;
      a.setPeer(2, { host: '127.0.0.1', port: bPort });
      b.setPeer(1, { host: '127.0.0.1', port: aPort });
      /** Heartbeats both ways until `cond` holds (about 5 s at most). */
      const pumpUntil = async (cond: () => boolean): Promise<boolean> => {
        for (let i = 0; i < 250 && !cond(); i++) {
          a.send([heartbeat(1, 2)]);
          b.send([heartbeat(2, 1)]);
          await new Promise((r) => setTimeout(r, 20));
        }
        return cond();
      };
      assert.ok(await pumpUntil(() => gotA.n > 0 && gotB.n > 0), 'both links open');
      // b goes away; a's link to it fails and waits out its (one-minute) backoff. Both of a's
      // links to b (its own and b's) report the close: from then on a's own one is in its backoff.
      await b.close();
      assert.ok(await pumpUntil(() => gotA.disconnected >= 2), 'a saw both links to b close');
      // b comes back on the same port (a dials that address). Another process may hold the port
      // for a moment after the close: retry the bind on EADDRINUSE for a few seconds.
      const gotB2 = { n: 0, disconnected: 0 };
      const bindBy = Date.now() + 5_000;
      for (;;) {
        try {
          b = (await start(2, bPort, gotB2)).transport;
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > bindBy) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      opened.push(b);
      b.setPeer(1, { host: '127.0.0.1', port: aPort });
      const before = gotA.n;
      assert.ok(await pumpUntil(() => gotA.n > before), 'b dialed a');
      assert.ok(await pumpUntil(() => gotB2.n > 0), 'a dialed the returned b at once');
    } finally {
      // Closing one already closed is harmless.
      for (const t of opened) await t.close();
    }
  });

  test('with the same cluster secret on both ends, messages flow after the challenge–response', async () => {
    const r = await exchange(1, 'same-secret-123456', 'same-secret-123456');
    assert.ok(r.delivered > 0);
    assert.deepEqual(r.refusedAtB, []);
  });

  test('a different secret, or none against a secret, is refused before any message reaches Raft', async () => {
    const wrong = await exchange(1, 'secret-of-a-000000', 'secret-of-b-000000');
    assert.equal(wrong.delivered, 0);
    assert.ok(wrong.refusedAtA.some((m) => /failed the cluster-secret challenge/.test(m)), `dialer sees the listener fail: ${wrong.refusedAtA.join('; ')}`);
    const none = await exchange(1, undefined, 'secret-of-b-000000');
    assert.equal(none.delivered, 0);
    assert.ok(none.refusedAtB.some((m) => /sent no challenge/.test(m)), none.refusedAtB.join('; '));
  });

  test('a link from a node id that is not a peer is refused', async () => {
    const r = await exchange(7, undefined, undefined);
    assert.equal(r.delivered, 0);
    assert.ok(r.refusedAtB.some((m) => /7 is not a member/.test(m)), r.refusedAtB.join('; '));
  });
});
