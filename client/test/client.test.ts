// The driver (LongwireClient) on a fake transport and a fake clock: every
// timer it uses comes from the injected clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LongwireClient } from '../src/core/client.js';
import type { DeviceStore } from '../src/core/device-id.js';
import { AuthError, TimeoutError } from '../src/core/errors.js';
import type { ClientOptions, Message } from '../src/core/options.js';
import type { Status } from '../src/core/status.js';
import { FakeClock } from './support/fake-clock.js';
import { FakeTransport, settle } from './support/fake-transport.js';

function setup(options: Partial<ClientOptions> = {}, store?: DeviceStore) {
  const clock = new FakeClock();
  const net = new FakeTransport();
  const client = new LongwireClient({ urls: ['ws://a/ws'], clock, random: () => 0.5, ...options }, { transport: net.transport, deviceStore: store });
  const statuses: Status[] = [];
  client.onStatus((s) => statuses.push(s));
  return { clock, net, client, statuses };
}

async function connect(net: FakeTransport, heartbeat = 10) {
  await settle();
  const s = net.last();
  s.open();
  s.receive({ t: 'welcome', session: 's', node: 'n', heartbeat });
  return s;
}

test('hello, bind resolves on bound, acks follow handlers, up settles by reply', async () => {
  const { net, client } = setup();
  const got: Message[] = [];
  const bound = client.bind('chat', (m) => {
    got.push(m);
  }, { token: 'tok' });
  const s = await connect(net);
  await settle();
  assert.deepEqual(s.sent[0], { t: 'hello', device: client.device, apps: [{ app: 'chat', token: 'tok' }] });
  s.receive({ t: 'bound', app: 'chat', user: 'u', seq: 3 });
  await bound;
  for (const seq of [1, 2, 3]) s.receive({ t: 'msg', app: 'chat', seq, id: `m${seq}`, data: seq, ts: 0, qos: 1 });
  await settle();
  assert.deepEqual(got.map((m) => m.data), [1, 2, 3]);
  const acks = s.framesOf('ack').map((f) => f.seq);
  assert.equal(acks.at(-1), 3);
  assert.deepEqual([...acks].sort(), acks, 'acks only increase');
  const reply = client.up('chat', { q: 1 });
  await settle();
  const up = s.framesOf('up')[0];
  s.receive({ t: 'reply', id: up?.id, ok: true, data: 'fine' });
  assert.equal(await reply, 'fine');
  await client.close();
  assert.deepEqual(s.closedWith, { code: 1000, reason: 'client closed' });
});

test('heartbeat, dead connection and backoff all run on the injected clock', async () => {
  const { clock, net, client, statuses } = setup({ backoffMinMs: 1000, backoffMaxMs: 1000 });
  void client.bind('chat', () => {}, { token: 'tok' });
  const s = await connect(net, 1);
  clock.advance(1000);
  await settle();
  assert.equal(s.framesOf('ping').length, 1);
  clock.advance(1000);
  assert.deepEqual(s.closedWith, { code: 1000, reason: 'heartbeat timeout' });
  const disc = statuses.find((x) => x.type === 'disconnected');
  assert.ok(disc?.type === 'disconnected' && disc.retryInMs === 500);
  clock.advance(499);
  await settle();
  assert.equal(net.sockets.length, 1);
  clock.advance(1);
  await settle();
  assert.equal(net.sockets.length, 2, 'reconnected after the backoff');
  await client.close();
  assert.equal(clock.pending(), 0, 'no timer left after close');
});

test('up times out on the injected clock', async () => {
  const { clock, net, client } = setup({ upTimeoutMs: 2000 });
  void client.bind('chat', () => {}, { token: 'tok' });
  const s = await connect(net);
  s.receive({ t: 'bound', app: 'chat', user: 'u', seq: 0 });
  const p = client.up('chat', 1);
  clock.advance(2000);
  await assert.rejects(p, TimeoutError);
  await client.close();
});

test('4001 ends the client: bind rejects and closed() resolves with AuthError', async () => {
  const { net, client, statuses } = setup();
  const bound = client.bind('chat', () => {}, { token: 'bad' });
  const s = await connect(net);
  s.serverClose(4001, 'unauthorized');
  await assert.rejects(bound, AuthError);
  assert.ok((await client.closed()) instanceof AuthError);
  assert.deepEqual(statuses.map((x) => x.type), ['connecting', 'connected', 'disconnected', 'closed']);
});

test('a generated device id is kept in the store and reused', () => {
  let kept: string | undefined;
  const store: DeviceStore = { load: () => kept, save: (id) => (kept = id) };
  const a = setup({}, store).client;
  const b = setup({}, store).client;
  assert.match(a.device, /^d-[0-9a-f]{32}$/);
  assert.equal(b.device, a.device);
  assert.equal(setup({ device: 'mine' }, store).client.device, 'mine');
});
