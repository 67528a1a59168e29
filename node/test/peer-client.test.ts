// The peer link end to end on loopback: PeerClient dialing a LinkServer on a
// plain node:http server, both with real PeerAuth. One signed upgrade, one
// connection for every call; answers out of order (a slow call holds up no
// other); every bound (in-flight calls and bytes at the caller, running
// calls per link at the server, frame size both ways); deadlines; a lost link
// failing its pending calls and the next call dialing again; a silent link
// probed and dropped; a refused upgrade counted; handler errors arriving as
// `refused` with code and status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { PeerClient, DEFAULT_PEER_LIMITS, type PeerLimits } from '../src/peer/peer-client.js';
import { PeerError } from '../src/peer/errors.js';
import { PeerAuth } from '../src/peer/peer-auth.js';
import { Auth } from '../src/center/auth.js';
import { ApiError } from '../src/center/errors.js';
import { LinkServer, DEFAULT_LINK_SERVER_LIMITS, type LinkServerLimits } from '../src/peer/link-server.js';
import type { PeerMethod } from '../src/peer/peer-methods.js';
import { freePort } from './support/node-process.js';
import { relay } from '../../keeper/test/support/freezing-relay.js';

const KEY = Buffer.alloc(32, 7);
const signer = (key = KEY): PeerAuth => new PeerAuth({ selfId: 'n1', key: () => key, isMember: () => true, now: Date.now });
const PLAIN = { https: false } as const;

interface Peer {
  readonly api: string;
  readonly refusals: string[];
  /** Connections the server accepted. */
  sockets(): number;
  /** Drops every link from the server side. */
  dropLinks(): void;
  close(): Promise<void>;
}

async function peer(methods: Record<string, PeerMethod>, limits: LinkServerLimits = DEFAULT_LINK_SERVER_LIMITS, port = 0): Promise<Peer> {
  const refusals: string[] = [];
  const verifier = new PeerAuth({ selfId: 'p1', key: () => KEY, isMember: (id) => id === 'n1', now: Date.now });
  const auth = new Auth({ lookup: () => undefined }, verifier, (reason) => refusals.push(reason));
  const links = new LinkServer({ auth, methods: new Map(Object.entries(methods)), log: pino({ level: 'silent' }), limits });
  let sockets = 0;
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('connection', () => sockets++);
  links.attach(server);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    api: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    refusals,
    sockets: () => sockets,
    dropLinks: () => links.close(),
    close: () =>
      new Promise<void>((r) => {
        links.close();
        server.close(() => r());
      }),
  };
}

function client(p: Peer, limits: Partial<PeerLimits> = {}, auth = signer()): PeerClient {
  return new PeerClient('p1', p.api, auth, PLAIN, { ...DEFAULT_PEER_LIMITS, ...limits });
}

async function failure(p: Promise<unknown>): Promise<PeerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof PeerError, `expected a PeerError, got ${String(err)}`);
  return err;
}

/** A promise with its resolve, for handlers held until the test lets them go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

test('calls round-trip MessagePack over one signed connection, and answers come back out of order', async () => {
  const slow = gate();
  const froms: string[] = [];
  const p = await peer({
    echo: async (body, from) => {
      froms.push(from);
      return { got: body };
    },
    slow: async () => {
      await slow.promise;
      return 'slow done';
    },
  });
  const c = client(p);
  try {
    const held = c.call('slow', null);
    let heldDone = false;
    void held.then(() => (heldDone = true));
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => c.call('echo', { i, big: 2 ** 40 })));
    assert.deepEqual(answers, Array.from({ length: 20 }, (_, i) => ({ got: { i, big: 2 ** 40 } })));
    assert.equal(heldDone, false, 'the slow call, sent first, is still running while 20 later calls were answered');
    slow.open();
    assert.equal(await held, 'slow done');
    assert.equal(p.sockets(), 1, 'one connection for all calls');
    assert.ok(froms.every((f) => f === 'n1'), 'the methods are told which member called');
    assert.deepEqual(p.refusals, []);
  } finally {
    await c.close();
    await p.close();
  }
});

test('a handler\'s ApiError reaches the caller as refused with its status and code; an unknown method is refused 404', async () => {
  const p = await peer({
    owner: async () => {
      throw new ApiError('notReady', 'owner has no app a (yet)');
    },
    bug: async () => {
      throw new Error('a bug');
    },
  });
  const c = client(p);
  try {
    const notReady = await failure(c.call('owner', {}));
    assert.equal(notReady.code, 'refused');
    assert.match(notReady.message, /owner answered 503: .*"code":"not-ready".*owner has no app a/);
    assert.match((await failure(c.call('nope', {}))).message, /nope answered 404: .*not-found/);
    const bug = await failure(c.call('bug', {}));
    assert.match(bug.message, /bug answered 500: .*internal/);
    assert.doesNotMatch(bug.message, /a bug/, 'internal details stay on the serving node');
  } finally {
    await c.close();
    await p.close();
  }
});

test('a full peer queue fails the next call at once with busy; calls bounded by bytes and by frame size too', async () => {
  const release = gate();
  const p = await peer({ x: async () => (await release.promise, 'ok') });
  const c = client(p, { inflightMax: 2, inflightBytesMax: 1000, frameBytesMax: 1500 });
  try {
    const first = [c.call('x', 1), c.call('x', 2)];
    const busy = await failure(c.call('x', 3));
    assert.equal(busy.code, 'busy');
    assert.match(busy.message, /queue full \(2 calls/);
    release.open();
    assert.deepEqual(await Promise.all(first), ['ok', 'ok']);
    // Over the bytes in flight (1000), then over the frame size (1500): refused without being sent.
    assert.equal((await failure(c.call('x', 'y'.repeat(1200)))).code, 'busy');
    const big = await failure(c.call('x', 'y'.repeat(2000)));
    assert.equal(big.code, 'refused');
    assert.match(big.message, /frame limit/);
    assert.equal(await c.call('x', 4), 'ok', 'the link is still up');
  } finally {
    await c.close();
    await p.close();
  }
});

test('the server runs at most callsMax calls of a link at once; the rest wait unread and all are answered', async () => {
  const release = gate();
  const full = gate();
  let running = 0;
  let most = 0;
  const p = await peer(
    {
      held: async (body) => {
        running++;
        most = Math.max(most, running);
        if (running === 3) full.open();
        await release.promise;
        running--;
        return body;
      },
      probe: async () => running,
    },
    { ...DEFAULT_LINK_SERVER_LIMITS, callsMax: 3 },
  );
  const c = client(p);
  try {
    const calls = Array.from({ length: 10 }, (_, i) => c.call('held', i));
    // A probe queued behind the held calls is not run either until they finish.
    let probed = false;
    const probe = c.call('probe', null).then((v) => ((probed = true), v));
    await full.promise;
    assert.equal(probed, false);
    release.open();
    assert.deepEqual(await Promise.all(calls), Array.from({ length: 10 }, (_, i) => i));
    await probe;
    assert.equal(most, 3, 'never more than callsMax at once');
  } finally {
    await c.close();
    await p.close();
  }
});

test('no answer within the deadline fails with timeout; a link silent that long is redialed for the next call', async () => {
  const p = await peer({ silent: () => new Promise(() => undefined), echo: async (b) => b });
  const c = client(p, { timeoutMs: 300 });
  try {
    const t = await failure(c.call('silent', null));
    assert.equal(t.code, 'timeout');
    assert.match(t.message, /no answer within 300 ms/);
    assert.equal(await c.call('echo', 'again'), 'again');
    assert.equal(p.sockets(), 2, 'the silent link was dropped and a new one dialed');
  } finally {
    await c.close();
    await p.close();
  }
});

test('a lost link fails every pending call with unreachable; the next call dials a new link', async () => {
  const never = gate();
  const p = await peer({ hang: async () => never.promise, echo: async (b) => b });
  const c = client(p);
  try {
    assert.equal(await c.call('echo', 1), 1);
    const pending = [c.call('hang', 1), c.call('hang', 2), c.call('hang', 3)];
    await new Promise((r) => setTimeout(r, 50));
    p.dropLinks();
    for (const e of await Promise.all(pending.map(failure))) assert.equal(e.code, 'unreachable');
    assert.equal(await c.call('echo', 2), 2);
    assert.equal(p.sockets(), 2);
  } finally {
    never.open();
    await c.close();
    await p.close();
  }
});

test('a frame over the server\'s limit closes the link: the caller\'s pending calls fail unreachable', async () => {
  const p = await peer({ echo: async (b) => b }, { callsMax: 8, frameBytesMax: 1000 });
  const c = client(p);
  try {
    assert.equal(await c.call('echo', 'small'), 'small');
    assert.equal((await failure(c.call('echo', 'y'.repeat(5000)))).code, 'unreachable');
    assert.equal(await c.call('echo', 'small again'), 'small again');
  } finally {
    await c.close();
    await p.close();
  }
});

test('an upgrade signed with another key is refused 401 and counted; a dead port is unreachable, and a call made during the pause before the next dial waits for it', async () => {
  const p = await peer({ echo: async (b) => b });
  const c = client(p, {}, signer(Buffer.alloc(32, 9)));
  try {
    const refused = await failure(c.call('echo', 1));
    assert.equal(refused.code, 'refused');
    assert.match(refused.message, /link refused: 401 .*unauthorized.*bad peer signature/);
    assert.deepEqual(p.refusals, ['bad peer signature']);
  } finally {
    await c.close();
    await p.close();
  }
  // A dead port: unreachable. The peer comes back during the pause before the next dial: a call then waits for that dial (no fast failure).
  const port = await freePort();
  const dead = new PeerClient('p1', `127.0.0.1:${port}`, signer(), PLAIN, DEFAULT_PEER_LIMITS);
  const back = await failure(dead.call('echo', 1)).then((e) => {
    assert.equal(e.code, 'unreachable');
    return peer({ echo: async (b) => b }, DEFAULT_LINK_SERVER_LIMITS, port);
  });
  try {
    assert.equal(await dead.call('echo', 2), 2);
  } finally {
    await dead.close();
    await back.close();
  }
});


test('a link that goes silent while calls wait is probed: a peer that answers nothing fails them with unreachable long before their deadline, one that answers even a refusal keeps them', async () => {
  const never = gate();
  const p = await peer({ hang: async () => never.promise, echo: async (b) => b });
  const r = await relay(p.api);
  const c = new PeerClient('p1', r.api, signer(), PLAIN, { ...DEFAULT_PEER_LIMITS, probeMs: 100 });
  try {
    assert.equal(await c.call('echo', 1), 1);
    // A slow call on a running peer: probed (this server has no `ping`: its refusal is an answer too), left to wait.
    const slow = c.call('hang', 1);
    let slowDone = false;
    void slow.catch(() => undefined).finally(() => (slowDone = true));
    await new Promise((res) => setTimeout(res, 800));
    assert.equal(slowDone, false, 'a call still running on a live peer keeps waiting');
    // The peer stops answering anything: the probe goes unanswered and the link is dropped.
    r.freeze(true);
    const started = performance.now();
    const stuck = c.call('echo', 2);
    for (const e of await Promise.all([failure(slow), failure(stuck)])) {
      assert.equal(e.code, 'unreachable');
      assert.match(e.message, /no answer to a liveness probe within 200 ms/);
    }
    const waited = performance.now() - started;
    assert.ok(waited < DEFAULT_PEER_LIMITS.timeoutMs / 2, `failed after ${Math.round(waited)} ms, not at the ${DEFAULT_PEER_LIMITS.timeoutMs} ms deadline`);
    r.freeze(false);
    assert.equal(await c.call('echo', 3), 3, 'the next call dials a new link');
  } finally {
    never.open();
    await c.close();
    await r.close();
    await p.close();
  }
});
