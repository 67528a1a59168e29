// Faults only a test node can stage (dropped sockets, redirects, a silent
// node, dead addresses in the dispatcher's list), against the in-test fake.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClient, HeartbeatTimeoutError, type Message, type Status } from '../src/index.js';
import { FakeNode } from './support/fake-node.js';
import { waitFor } from './support/wait.js';

const FAST = { backoffMinMs: 20, backoffMaxMs: 100 };

test('a dropped connection comes back with a fresh token, resumes after the processed seq, and delivers each message once', async (t) => {
  const node = await FakeNode.start();
  t.after(() => node.close());
  const got: Message[] = [];
  const statuses: Status[] = [];
  let tokenCalls = 0;
  const c = createClient({
    dispatchUrl: node.dispatchUrl,
    device: 'dev-drop',
    getToken: () => {
      tokenCalls++;
      return node.token('alice');
    },
    ...FAST,
  });
  t.after(() => c.close());
  c.onStatus((s) => statuses.push(s));
  await c.bind(node.app, (m) => {
    got.push(m);
  });
  await node.push('alice', 1);
  await node.push('alice', 2);
  await waitFor('2 messages', () => got.length === 2);
  const callsBefore = tokenCalls;
  node.drop();
  await node.push('alice', 3); // stored while the client is away
  await waitFor('reconnect', () => statuses.filter((s) => s.type === 'bound').length === 2);
  await waitFor('message 3', () => got.length === 3);
  assert.deepEqual(
    got.map((m) => m.data),
    [1, 2, 3],
  );
  assert.ok(tokenCalls > callsBefore, 'getToken asked again on reconnect');
  const hellos = [...node.conns].flatMap((conn) => conn.received.filter((f) => f.t === 'hello'));
  const resumed = (hellos[0]?.apps as { app: string; after?: number }[] | undefined)?.map(({ app, after }) => ({ app, after }));
  assert.deepEqual(resumed, [{ app: 'chat', after: 2 }]);
  const disc = statuses.find((s) => s.type === 'disconnected');
  assert.ok(disc?.type === 'disconnected' && disc.code === 1006 && disc.willReconnect);
});

test('the dispatcher list is walked past a dead address, which is reported in tried', async (t) => {
  const node = await FakeNode.start({ dispatchTtl: 0 });
  t.after(() => node.close());
  node.listFirst(['ws://127.0.0.1:1/ws']);
  const statuses: Status[] = [];
  const c = createClient({ dispatchUrl: node.dispatchUrl, getToken: () => node.token('bob'), ...FAST });
  t.after(() => c.close());
  c.onStatus((s) => statuses.push(s));
  await c.bind(node.app, () => {});
  const connected = statuses.find((s) => s.type === 'connected');
  assert.ok(connected?.type === 'connected' && connected.url === node.wsUrl, JSON.stringify(statuses));
  // ttl 0: the list expired at once, so the second attempt asked again, naming the dead address.
  assert.equal(node.dispatchQueries[0]?.get('user'), 'bob', 'user read from the token sub');
  assert.equal(node.dispatchQueries.at(-1)?.get('tried'), '127.0.0.1:1', JSON.stringify({ queries: node.dispatchQueries.map(String), statuses }));
});

test('redirect + 4009 moves the client to the named node at once', async (t) => {
  const a = await FakeNode.start({ id: 'a' });
  const b = await FakeNode.start({ id: 'b' });
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const statuses: Status[] = [];
  const c = createClient({ urls: [a.wsUrl], getToken: () => a.token('carol'), backoffMinMs: 5000, backoffMaxMs: 5000 });
  t.after(() => c.close());
  c.onStatus((s) => statuses.push(s));
  await c.bind(a.app, () => {});
  a.redirect([b.wsUrl]);
  await waitFor('connected to b', () => statuses.some((s) => s.type === 'connected' && s.node === 'b'));
  const disc = statuses.find((s) => s.type === 'disconnected');
  assert.ok(disc?.type === 'disconnected' && disc.code === 4009 && disc.retryInMs === 0);
});

test('broadcasts without seq are delivered once per id', async (t) => {
  const node = await FakeNode.start();
  t.after(() => node.close());
  const got: Message[] = [];
  const c = createClient({ urls: [node.wsUrl], getToken: () => node.token('dave') });
  t.after(() => c.close());
  await c.bind(node.app, (m) => {
    got.push(m);
  });
  node.broadcast('hello all', 3);
  await node.push('dave', 'marker');
  await waitFor('marker', () => got.some((m) => m.data === 'marker'));
  assert.deepEqual(
    got.map((m) => m.data),
    ['hello all', 'marker'],
  );
});

test('a node that goes silent is declared dead after two heartbeats and the client reconnects', async (t) => {
  // Wide enough that event-loop lag on a loaded machine does not look like silence: the client
  // and the fake node share this process, so a stall of about one heartbeat delays both the
  // ping and its pong.
  const node = await FakeNode.start({ heartbeat: 1 });
  t.after(() => node.close());
  const statuses: Status[] = [];
  const c = createClient({ urls: [node.wsUrl], getToken: () => node.token('erin'), ...FAST });
  t.after(() => c.close());
  c.onStatus((s) => statuses.push(s));
  await c.bind(node.app, () => {});
  // Past the two heartbeats (2 s) after which a connection without pongs would be dead.
  await new Promise((r) => setTimeout(r, 3000));
  assert.ok(!statuses.some((s) => s.type === 'disconnected'), 'pongs keep it alive');
  node.silent = true;
  await waitFor('dead connection', () => statuses.some((s) => s.type === 'disconnected'), 10_000);
  const disc = statuses.find((s) => s.type === 'disconnected');
  assert.ok(disc?.type === 'disconnected' && disc.error instanceof HeartbeatTimeoutError && disc.willReconnect);
  node.silent = false;
  // Generous: on a loaded machine the reconnect may itself be judged silent once before it holds.
  await waitFor('bound again', () => statuses.filter((s) => s.type === 'bound').length >= 2, 20_000);
});

test('a failing handler gets its message redelivered, then acked', async (t) => {
  const node = await FakeNode.start();
  t.after(() => node.close());
  let attempts = 0;
  const c = createClient({ urls: [node.wsUrl], device: 'dev-retry', getToken: () => node.token('frank'), ...FAST });
  t.after(() => c.close());
  await c.bind(node.app, () => {
    attempts++;
    if (attempts === 1) throw new Error('first try fails');
  });
  await node.push('frank', 'x');
  await waitFor('second attempt', () => attempts === 2);
  await waitFor('ack', () => node.cursor('frank', 'dev-retry') === 1);
});
