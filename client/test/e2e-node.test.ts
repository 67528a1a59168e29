// The Node SDK end to end against a node: the in-test fake by default, a real
// `longwire start` process with LONGWIRE_E2E_NODE=dist/node/src/cli.js.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { AuthError, createClient, KickedError, type Message, type Status, type TopicMessage, UpstreamError } from '../src/index.js';
import { startTestNode, type TestNode } from './support/test-node.js';
import { waitFor } from './support/wait.js';

describe(`Node client against a ${process.env.LONGWIRE_E2E_NODE ? 'real' : 'fake'} node`, () => {
  let node: TestNode;
  before(async () => {
    node = await startTestNode();
  });
  after(async () => {
    await node.close();
  });

  for (const protocol of ['json', 'msgpack'] as const) {
    test(`${protocol}: delivers in seq order, acks, and a new session of the device resumes after the acked seq`, async () => {
      const user = `u-${randomUUID()}`;
      const device = `d-${randomUUID()}`;
      const got: Message[] = [];
      const statuses: Status[] = [];
      const tokenCalls: string[] = [];
      const c1 = createClient({
        dispatchUrl: node.dispatchUrl,
        device,
        protocol,
        getToken: (app) => {
          tokenCalls.push(app);
          return node.token(user);
        },
      });
      c1.onStatus((s) => statuses.push(s));
      await c1.bind(node.app, async (m) => {
        await new Promise((r) => setTimeout(r, 5));
        got.push(m);
      });
      assert.deepEqual(
        statuses.map((s) => s.type),
        ['connecting', 'connected', 'bound'],
      );
      const seq1 = await node.push(user, { n: 1 });
      const seq2 = await node.push(user, { n: 2 });
      await waitFor('two messages', () => got.length === 2);
      assert.deepEqual(
        got.map((m) => [m.seq, m.data]),
        [
          [seq1, { n: 1 }],
          [seq2, { n: 2 }],
        ],
      );
      assert.equal(c1.processedSeq(node.app), seq2);
      assert.ok(tokenCalls.length >= 1);
      await new Promise((r) => setTimeout(r, 50)); // let the ack reach the node
      assert.equal(await c1.close(), undefined);

      const seq3 = await node.push(user, { n: 3 });
      const again: Message[] = [];
      const c2 = createClient({ dispatchUrl: node.dispatchUrl, device, protocol, getToken: () => node.token(user) });
      await c2.bind(node.app, (m) => {
        again.push(m);
      });
      await waitFor('the message pushed while offline', () => again.length >= 1);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(
        again.map((m) => m.seq),
        [seq3],
        'only what was not acked',
      );
      await c2.close();
    });
  }

  test('up resolves with the reply data and rejects with UpstreamError carrying the reply code', async () => {
    const user = `u-${randomUUID()}`;
    const c = createClient({ dispatchUrl: node.dispatchUrl, getToken: () => node.token(user) });
    await c.bind(node.app, () => {});
    await c.bind(node.app, () => {}); // already bound: resolves at once
    assert.deepEqual(await c.up(node.app, { q: 'hi' }), { echo: { q: 'hi' } });
    await assert.rejects(c.up(node.app, { fail: true }), (e: unknown) => e instanceof UpstreamError && typeof e.code === 'string' && e.code.length > 0);
    await c.close();
  });

  test('topics: a subscriber gets publishes with their offsets', async () => {
    const user = `u-${randomUUID()}`;
    const topic = `t-${randomUUID()}`;
    const got: TopicMessage[] = [];
    const c = createClient({ dispatchUrl: node.dispatchUrl, getToken: () => node.token(user) });
    await c.bind(node.app, () => {});
    c.subscribe(node.app, topic, (m) => {
      got.push(m);
    });
    // The sub frame has no answer of its own: an up sent after it on the same connection, answered,
    // shows the node handled it (a fixed sleep loses to a stall: timers run before the socket is read).
    assert.deepEqual(await c.up(node.app, { after: 'sub' }), { echo: { after: 'sub' } });
    const offset = await node.publish(topic, 'hello');
    await waitFor('the publish', () => got.length === 1);
    assert.equal(got[0]?.offset, offset);
    assert.equal(got[0]?.data, 'hello');
    await c.close();
  });

  test('a kick (4002) ends the client with KickedError and no reconnect', async () => {
    const user = `u-${randomUUID()}`;
    const statuses: Status[] = [];
    const c = createClient({ dispatchUrl: node.dispatchUrl, getToken: () => node.token(user) });
    c.onStatus((s) => statuses.push(s));
    await c.bind(node.app, () => {});
    await node.kick(user);
    const result = await c.closed();
    assert.ok(result instanceof KickedError);
    const disc = statuses.find((s) => s.type === 'disconnected');
    assert.ok(disc?.type === 'disconnected' && disc.code === 4002 && !disc.willReconnect);
  });

  test('an expired token (4001) ends the client with AuthError', async () => {
    const c = createClient({ dispatchUrl: node.dispatchUrl, user: 'u-expired', getToken: () => node.token('u-expired', -60) });
    const bound = c.bind(node.app, () => {});
    await assert.rejects(bound, AuthError);
    assert.ok((await c.closed()) instanceof AuthError);
  });
});
