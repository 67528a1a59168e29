import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClosedError, HandlerError, HeartbeatTimeoutError, ProtocolError, TimeoutError, UpstreamError } from '../src/core/errors.js';
import type { MsgFrame } from '../src/core/frames.js';
import { ConnectionMachine, SUB_RETRY_MAX_MS, SUB_RETRY_MIN_MS } from '../src/core/connection-machine.js';
import { CONFIG, connects, delivered, machine, open, reopen, sends, statuses } from './machine-harness.js';

const msg = (seq: number | undefined, id = `m${seq ?? 'x'}`): MsgFrame =>
  seq === undefined ? { t: 'msg', app: 'chat', id, data: id, ts: 1, qos: 0 } : { t: 'msg', app: 'chat', seq, id, data: id, ts: 1, qos: 1 };

describe('handshake', () => {
  test('a started machine without apps waits for the first bind', () => {
    const m = new ConnectionMachine({ ...CONFIG });
    assert.deepEqual(m.start(0), []);
    assert.deepEqual(connects(m.bind(1, 'chat', 't')), ['ws://a:1/ws']);
  });

  test('hello first, with the device and every app with its token; connected on welcome', () => {
    const m = machine();
    m.bind(0, 'chat', 'tok-old');
    const started = m.start(0);
    assert.deepEqual(connects(started), ['ws://a:1/ws']);
    assert.deepEqual(statuses(started), [{ type: 'connecting', url: 'ws://a:1/ws' }]);
    const opened = m.onSocketOpen(5, new Map([['chat', 'tok-new']]));
    assert.deepEqual(sends(opened), [{ t: 'hello', device: 'dev-1', apps: [{ app: 'chat', token: 'tok-new' }] }]);
    const welcomed = m.onFrame(6, { t: 'welcome', session: 's1', node: 'n1', heartbeat: 10 });
    assert.deepEqual(statuses(welcomed), [{ type: 'connected', url: 'ws://a:1/ws', node: 'n1', session: 's1' }]);
  });

  test('an app bound while open is sent as bind; several apps share the connection', () => {
    const m = machine();
    m.bind(0, 'chat', 't1');
    open(m, 0);
    assert.deepEqual(sends(m.bind(0, 'feed', 't2', 7)), [{ t: 'bind', app: 'feed', token: 't2', after: 7 }]);
    assert.deepEqual(sends(m.unbind('feed')), [{ t: 'unbind', app: 'feed' }]);
  });

  test('a frame before welcome other than error/redirect is a protocol error (close 4000)', () => {
    const m = machine();
    m.bind(0, 'chat', 't');
    m.start(0);
    m.onSocketOpen(0, new Map());
    const out = m.onFrame(1, msg(1));
    assert.deepEqual(out.find((a) => a.type === 'close'), { type: 'close', code: 4000, reason: 'msg before welcome' });
    const st = statuses(out).find((s) => s.type === 'disconnected');
    assert.ok(st?.type === 'disconnected' && st.error instanceof ProtocolError && st.willReconnect);
  });

  test('a malformed frame closes with 4000 and reconnects with backoff', () => {
    const m = machine();
    open(m, 0);
    const out = m.onFrame(1, { t: 'bound', app: 'chat' });
    assert.equal(out.find((a) => a.type === 'close')?.type, 'close');
    assert.ok(m.nextDeadline() !== undefined);
  });

  test('no welcome within connectTimeoutMs fails the attempt', () => {
    const m = machine();
    m.start(0);
    assert.equal(m.nextDeadline(), 3000);
    const out = m.onTick(3000);
    const st = statuses(out).find((s) => s.type === 'disconnected');
    assert.ok(st?.type === 'disconnected' && st.error instanceof HeartbeatTimeoutError);
  });
});

describe('backoff', () => {
  test('full jitter: delay in [0, min(max, min*2^attempt)], growing per failed attempt and reset by welcome', () => {
    for (const r of [0, 0.25, 0.999999]) {
      const m = machine({ random: () => r });
      m.start(0);
      let now = 0;
      const delays: number[] = [];
      for (let i = 0; i < 6; i++) {
        const st = statuses(m.onSocketClosed(now, 1006, '')).find((s) => s.type === 'disconnected');
        assert.ok(st?.type === 'disconnected' && st.retryInMs !== undefined);
        delays.push(st.retryInMs);
        const at = m.nextDeadline() ?? assert.fail('no retry');
        assert.equal(at - now, st.retryInMs);
        now = at;
        m.onTick(now);
      }
      const ceilings = [100, 200, 400, 800, 1000, 1000];
      delays.forEach((d, i) => {
        const c = ceilings[i] ?? 0;
        assert.ok(d >= 0 && d < c, `attempt ${i}: ${d} not in [0, ${c})`);
        assert.equal(d, Math.floor(r * c));
      });
      m.onSocketOpen(now, new Map());
      m.onFrame(now, { t: 'welcome', session: 's', node: 'n', heartbeat: 10 });
      const after = statuses(m.onSocketClosed(now, 1006, '')).find((s) => s.type === 'disconnected');
      assert.ok(after?.type === 'disconnected');
      assert.equal(after.retryInMs, Math.floor(r * 100), 'welcome resets the attempt counter');
    }
  });

  test('retryNow skips the rest of the backoff, and does nothing when not waiting', () => {
    const m = machine();
    open(m, 0);
    assert.deepEqual(m.retryNow(1), []);
    m.onSocketClosed(10, 1006, '');
    assert.deepEqual(connects(m.retryNow(11)), ['ws://b:2/ws']);
  });

  test('reconnects walk the URL list', () => {
    const m = machine();
    m.start(0);
    m.onSocketClosed(1, 1006, '');
    assert.deepEqual(connects(m.onTick(m.nextDeadline() ?? 0)), ['ws://b:2/ws']);
    m.onSocketClosed(2, 1006, '');
    assert.deepEqual(connects(m.onTick(m.nextDeadline() ?? 0)), ['ws://a:1/ws']);
  });
});

describe('heartbeat', () => {
  test('pings every heartbeat interval and declares the connection dead after 2x silence', () => {
    const m = machine();
    open(m, 0, 1);
    assert.equal(m.nextDeadline(), 1000);
    assert.deepEqual(sends(m.onTick(1000)), [{ t: 'ping' }]);
    assert.deepEqual(sends(m.onTick(1999)), []);
    const out = m.onTick(2000);
    assert.deepEqual(out.find((a) => a.type === 'close'), { type: 'close', code: 1000, reason: 'heartbeat timeout' });
    const st = statuses(out).find((s) => s.type === 'disconnected');
    assert.ok(st?.type === 'disconnected' && st.code === 1006 && st.willReconnect && st.error instanceof HeartbeatTimeoutError);
  });

  test('any frame (a pong) keeps the connection alive', () => {
    const m = machine();
    open(m, 0, 1);
    m.onTick(1000);
    m.onFrame(1500, { t: 'pong' });
    const at2000 = m.onTick(2000);
    assert.deepEqual(statuses(at2000), []);
    assert.deepEqual(sends(at2000), [{ t: 'ping' }]);
    assert.equal(m.nextDeadline(), 3000);
    assert.equal(statuses(m.onTick(3499)).length, 0);
    assert.equal(statuses(m.onTick(3500)).find((s) => s.type === 'disconnected')?.type, 'disconnected');
  });
});

describe('delivery and acks', () => {
  test('one message at a time per app; ack only after the handler resolves, in seq order, cumulative', () => {
    const m = machine();
    m.bind(0, 'chat', 't');
    open(m, 0);
    m.onFrame(1, { t: 'bound', app: 'chat', user: 'u', seq: 3 });
    const d1 = delivered(m.onFrame(2, msg(1)));
    assert.equal(d1.length, 1);
    assert.deepEqual(delivered(m.onFrame(3, msg(2))), [], 'seq 2 waits for seq 1');
    assert.deepEqual(delivered(m.onFrame(3, msg(3))), []);
    const h1 = m.onHandled('chat', msg(1), 0, undefined, 4);
    assert.deepEqual(sends(h1), [{ t: 'ack', app: 'chat', seq: 1 }]);
    const d2 = delivered(h1);
    assert.equal(d2[0]?.kind === 'msg' ? d2[0].msg.seq : -1, 2);
    const h2 = m.onHandled('chat', msg(2), 0, undefined, 5);
    assert.deepEqual(sends(h2), [{ t: 'ack', app: 'chat', seq: 2 }]);
    assert.deepEqual(sends(m.onHandled('chat', msg(3), 0, undefined, 6)), [{ t: 'ack', app: 'chat', seq: 3 }]);
    assert.equal(m.processedSeq('chat'), 3);
  });

  test('duplicates (seq <= last delivered) are dropped; an already processed one is re-acked', () => {
    const m = machine();
    m.bind(0, 'chat', 't');
    open(m, 0);
    m.onFrame(1, { t: 'bound', app: 'chat', user: 'u', seq: 1 });
    m.onFrame(2, msg(1));
    m.onHandled('chat', msg(1), 0, undefined, 3);
    const dup = m.onFrame(4, msg(1));
    assert.deepEqual(delivered(dup), []);
    assert.deepEqual(sends(dup), [{ t: 'ack', app: 'chat', seq: 1 }]);
    m.onFrame(5, msg(2));
    assert.deepEqual(delivered(m.onFrame(6, msg(2))), [], 'in the handler: dropped, not re-acked');
  });

  test('seq-less messages (qos 0, broadcast) are delivered at once and deduped by id in a bounded window', () => {
    const m = machine({ dedupIdsMax: 2 });
    m.bind(0, 'chat', 't');
    open(m, 0);
    assert.equal(delivered(m.onFrame(1, msg(undefined, 'b1'))).length, 1);
    assert.equal(delivered(m.onFrame(1, msg(undefined, 'b1'))).length, 0);
    assert.deepEqual(sends(m.onFrame(1, msg(undefined, 'b2'))), [], 'never acked');
    m.onFrame(1, msg(undefined, 'b3'));
    assert.equal(delivered(m.onFrame(1, msg(undefined, 'b1'))).length, 1, 'b1 fell out of the window');
  });

  test('a gap is surfaced in order and advances the processed seq', () => {
    const m = machine();
    m.bind(0, 'chat', 't');
    open(m, 0);
    m.onFrame(1, { t: 'bound', app: 'chat', user: 'u', seq: 9 });
    m.onFrame(2, msg(1));
    const g = m.onFrame(3, { t: 'gap', app: 'chat', from: 2, to: 5, reason: 'expired' });
    assert.deepEqual(statuses(g), [], 'waits behind seq 1');
    const h = m.onHandled('chat', msg(1), 0, undefined, 4);
    assert.deepEqual(statuses(h), [{ type: 'gap', app: 'chat', from: 2, to: 5, reason: 'expired' }]);
    // Two acks from one step; the driver's outbox coalesces them into the last.
    assert.deepEqual(sends(h), [
      { t: 'ack', app: 'chat', seq: 1 },
      { t: 'ack', app: 'chat', seq: 5 },
    ]);
    assert.equal(m.processedSeq('chat'), 5);
    assert.deepEqual(delivered(m.onFrame(5, msg(4))), [], 'covered by the gap');
  });

  test('a failed handler is not acked; the client reconnects from the last processed seq to get it again', () => {
    const m = machine();
    m.bind(0, 'chat', 't');
    open(m, 0);
    m.onFrame(1, { t: 'bound', app: 'chat', user: 'u', seq: 2 });
    m.onFrame(2, msg(1));
    m.onHandled('chat', msg(1), 0, undefined, 3);
    m.onFrame(4, msg(2));
    const failed = m.onHandled('chat', msg(2), 0, new Error('boom'), 5);
    assert.deepEqual(sends(failed), []);
    const err = statuses(failed).find((s) => s.type === 'error');
    assert.ok(err?.type === 'error' && err.error instanceof HandlerError);
    assert.equal(failed.find((a) => a.type === 'close')?.type, 'close');
    const { actions } = reopen(m);
    assert.deepEqual(sends(actions)[0], { t: 'hello', device: 'dev-1', apps: [{ app: 'chat', token: 't', after: 1 }] });
    const again = delivered(m.onFrame(10, msg(2)));
    assert.equal(again.length, 1, 'redelivery accepted');
    assert.deepEqual(sends(m.onHandled('chat', msg(2), 0, undefined, 11)), [], 'a result from the old epoch is ignored');
  });
});

describe('resume', () => {
  test('hello after a reconnect carries after = last processed seq per app', () => {
    const m = machine();
    m.bind(0, 'chat', 't');
    m.bind(0, 'feed', 'f', 40);
    open(m, 0);
    m.onFrame(1, { t: 'bound', app: 'chat', user: 'u', seq: 2 });
    m.onFrame(2, msg(1));
    m.onHandled('chat', msg(1), 0, undefined, 3);
    m.onFrame(4, msg(2)); // delivered, handler still running
    m.onSocketClosed(5, 1006, '');
    const { actions } = reopen(m);
    assert.deepEqual(sends(actions)[0], {
      t: 'hello',
      device: 'dev-1',
      apps: [
        { app: 'chat', token: 't', after: 1 },
        { app: 'feed', token: 'f', after: 40 },
      ],
    });
    m.onFrame(20, { t: 'bound', app: 'chat', user: 'u', seq: 2 });
    assert.deepEqual(delivered(m.onFrame(21, msg(2))), [], 'still in the handler from before');
    assert.deepEqual(sends(m.onHandled('chat', msg(2), 0, undefined, 22)), [{ t: 'ack', app: 'chat', seq: 2 }], 'acked on the new connection');
  });

  test('a handler finishing after a reconnect is acked only once the server has resent that seq', () => {
    // The node refuses acks beyond what it sent on the connection (invalid-ack).
    const m = machine();
    open(m, 0);
    m.onFrame(1, { t: 'bound', app: 'chat', user: 'u', seq: 2 });
    m.onFrame(2, msg(1));
    m.onSocketClosed(3, 1006, '');
    reopen(m);
    m.onFrame(20, { t: 'bound', app: 'chat', user: 'u', seq: 1 });
    assert.deepEqual(sends(m.onHandled('chat', msg(1), 0, undefined, 21)), [], 'seq 1 not resent on this connection yet');
    assert.deepEqual(sends(m.onFrame(22, msg(1))), [{ t: 'ack', app: 'chat', seq: 1 }]);
  });

  test('topics: sub after bound, pubs deduped by offset, resubscribed after the last offset seen', () => {
    const m = machine();
    m.bind(0, 'chat', 't');
    m.subscribe('chat', 'news');
    open(m, 0);
    assert.deepEqual(sends(m.onFrame(1, { t: 'bound', app: 'chat', user: 'u', seq: 0 })), [{ t: 'sub', app: 'chat', topic: 'news' }]);
    const pub = { t: 'pub', app: 'chat', topic: 'news', offset: 4, data: 'x', ts: 1 } as const;
    assert.equal(delivered(m.onFrame(2, pub)).length, 1);
    assert.equal(delivered(m.onFrame(3, pub)).length, 0);
    m.onSocketClosed(4, 1006, '');
    reopen(m);
    assert.deepEqual(sends(m.onFrame(30, { t: 'bound', app: 'chat', user: 'u', seq: 0 })), [{ t: 'sub', app: 'chat', topic: 'news', after: 4 }]);
    assert.deepEqual(sends(m.unsubscribe('chat', 'news')), [{ t: 'unsub', app: 'chat', topic: 'news' }]);
  });

  test("topics: a sub the server could not make (owner-unavailable) is asked for again after a backoff, on the same connection", () => {
    const m = machine();
    m.subscribe('chat', 'news');
    m.subscribe('chat', 'sport');
    open(m, 0, 100);
    assert.equal(sends(m.onFrame(1, { t: 'bound', app: 'chat', user: 'u', seq: 0 })).length, 2);
    const refused = { t: 'error', code: 'owner-unavailable', message: 'unreachable', app: 'chat', topic: 'news' } as const;
    m.onFrame(10, refused);
    assert.equal(m.nextDeadline(), 10 + SUB_RETRY_MIN_MS, 'the retry is the next deadline (the heartbeat is 100 s away)');
    assert.deepEqual(sends(m.onTick(10 + SUB_RETRY_MIN_MS - 1)), [], 'not before its time');
    assert.deepEqual(sends(m.onTick(10 + SUB_RETRY_MIN_MS)), [{ t: 'sub', app: 'chat', topic: 'news' }], 'only the refused topic');
    assert.deepEqual(sends(m.onTick(10 + 4 * SUB_RETRY_MIN_MS)), [], 'once');
    // Refused again: twice the wait; a pub of the topic resets the backoff.
    m.onFrame(2000, refused);
    assert.equal(m.nextDeadline(), 2000 + 2 * SUB_RETRY_MIN_MS);
    assert.deepEqual(sends(m.onTick(2000 + 2 * SUB_RETRY_MIN_MS)), [{ t: 'sub', app: 'chat', topic: 'news' }]);
    assert.equal(delivered(m.onFrame(3500, { t: 'pub', app: 'chat', topic: 'news', offset: 7, data: 'x', ts: 1 })).length, 1);
    m.onFrame(4000, refused);
    assert.deepEqual(sends(m.onTick(4000 + SUB_RETRY_MIN_MS)), [{ t: 'sub', app: 'chat', topic: 'news', after: 7 }], 'from the last offset seen');
    // An error naming no topic (or another code) changes nothing.
    m.onFrame(5000, { t: 'error', code: 'owner-unavailable', message: 'x' });
    m.onFrame(5000, { t: 'error', code: 'rate-limited', message: 'x', app: 'chat', topic: 'sport' });
    assert.deepEqual(sends(m.onTick(5000 + SUB_RETRY_MAX_MS)), []);
  });
});

describe('redirect and close codes', () => {
  test('redirect then 4009 reconnects at once to the named nodes', () => {
    const m = machine();
    open(m, 0);
    m.onFrame(1, { t: 'redirect', reason: 'ring', nodes: [{ id: 'n9', url: 'ws://z:9/ws', zone: 'z' }] });
    const st = statuses(m.onSocketClosed(2, 4009, 'moved')).find((s) => s.type === 'disconnected');
    assert.ok(st?.type === 'disconnected');
    assert.equal(st.retryInMs, 0);
    assert.equal(m.nextDeadline(), 2);
    assert.deepEqual(connects(m.onTick(2)), ['ws://z:9/ws']);
  });

  test('redirect loops fall back to backoff after redirectsInRowMax', () => {
    const m = machine({ redirectsInRowMax: 1 });
    open(m, 0);
    const nodes = [{ id: 'n9', url: 'ws://z:9/ws', zone: 'z' }];
    m.onFrame(1, { t: 'redirect', reason: 'ring', nodes });
    m.onSocketClosed(2, 4009, '');
    reopen(m);
    m.onFrame(3, { t: 'redirect', reason: 'ring', nodes });
    const st = statuses(m.onSocketClosed(4, 4009, '')).find((s) => s.type === 'disconnected');
    assert.ok(st?.type === 'disconnected' && st.retryInMs === 50);
  });

  const table: [number, 'never' | 'backoff' | 'limit' | 'now-ish'][] = [
    [4000, 'backoff'],
    [4001, 'never'],
    [4002, 'never'],
    [4003, 'backoff'],
    [4008, 'limit'],
    [4009, 'backoff'], // no redirect frame came: next node, normal backoff
    [4010, 'backoff'],
    [4011, 'backoff'],
    [4029, 'limit'],
    [1009, 'backoff'],
    [1013, 'limit'],
    [1006, 'backoff'],
    [1000, 'backoff'],
  ];
  for (const [code, decision] of table) {
    test(`close ${code} → ${decision}`, () => {
      const m = machine({ random: () => 0.999 });
      open(m, 0);
      const out = m.onSocketClosed(10, code, '');
      const st = statuses(out);
      const disc = st.find((s) => s.type === 'disconnected');
      assert.ok(disc?.type === 'disconnected');
      if (decision === 'never') {
        assert.equal(disc.willReconnect, false);
        const closed = st.find((s) => s.type === 'closed');
        assert.ok(closed?.type === 'closed' && closed.error?.name === (code === 4001 ? 'AuthError' : 'KickedError'));
        assert.equal(m.nextDeadline(), undefined);
        return;
      }
      assert.equal(disc.willReconnect, true);
      const max = decision === 'limit' ? 5000 : 100;
      assert.equal(disc.retryInMs, Math.floor(0.999 * max));
    });
  }
});

describe('dispatcher', () => {
  test('the list is cached for its ttl and walked on failure; tried addresses go back to the dispatcher', () => {
    const m = machine({ urls: undefined });
    m.bind(0, 'chat', 't');
    const first = m.start(0);
    assert.deepEqual(first, [{ type: 'dispatch', app: 'chat', tried: [] }]);
    const nodes = [
      { id: 'n1', url: 'ws://a:1/ws', zone: 'z1' },
      { id: 'n2', url: 'ws://b:2/ws', zone: 'z2' },
    ];
    assert.deepEqual(connects(m.onDispatched(1, nodes, 10)), ['ws://a:1/ws']);
    m.onSocketClosed(2, 1006, '');
    assert.deepEqual(connects(m.onTick(m.nextDeadline() ?? 0)), ['ws://b:2/ws']);
    m.onSocketClosed(3, 1006, '');
    assert.deepEqual(m.onTick(m.nextDeadline() ?? 0), [{ type: 'dispatch', app: 'chat', tried: ['a:1', 'b:2'] }]);
    m.onDispatched(500, nodes, 10);
    m.onSocketOpen(501, new Map());
    m.onFrame(502, { t: 'welcome', session: 's', node: 'n1', heartbeat: 60 });
    // Within the ttl a drop walks on without asking; after it, the dispatcher is asked again, with tried cleared by the welcome.
    m.onSocketClosed(600, 1006, '');
    assert.deepEqual(connects(m.onTick(m.nextDeadline() ?? 0)), ['ws://b:2/ws']);
    m.onSocketOpen(700, new Map());
    m.onFrame(700, { t: 'welcome', session: 's', node: 'n2', heartbeat: 60 });
    m.onSocketClosed(20_000, 1006, '');
    assert.deepEqual(m.onTick(m.nextDeadline() ?? 0), [{ type: 'dispatch', app: 'chat', tried: ['b:2'] }]);
  });

  test('a list with ttl 0 is still tried once before the dispatcher is asked again', () => {
    const m = machine({ urls: undefined });
    m.start(0);
    assert.deepEqual(connects(m.onDispatched(5, [{ id: 'n1', url: 'ws://a:1/ws', zone: 'z' }], 0)), ['ws://a:1/ws']);
    m.onSocketClosed(6, 1006, '');
    assert.deepEqual(m.onTick(m.nextDeadline() ?? 0), [{ type: 'dispatch', app: 'chat', tried: ['a:1'] }]);
  });

  test('a failed dispatch is retried with backoff', () => {
    const m = machine({ urls: undefined });
    m.start(0);
    const out = m.onDispatchFailed(1, new ClosedError('x', 'y'));
    assert.equal(statuses(out)[0]?.type, 'error');
    assert.equal(m.nextDeadline(), 51);
    assert.equal(m.onTick(51)[0]?.type, 'dispatch');
  });
});

describe('up', () => {
  test('queued until bound, settled by reply, UpstreamError with the reply code, TimeoutError after the timeout', () => {
    const m = machine();
    m.bind(0, 'chat', 't');
    open(m, 0);
    assert.deepEqual(sends(m.up('u1', 'chat', { q: 1 }, 0, 1000)), [], 'not bound yet');
    assert.deepEqual(sends(m.onFrame(1, { t: 'bound', app: 'chat', user: 'u', seq: 0 })), [{ t: 'up', app: 'chat', id: 'u1', data: { q: 1 } }]);
    const ok = m.onFrame(2, { t: 'reply', id: 'u1', ok: true, data: 'yes' });
    assert.deepEqual(ok, [{ type: 'settle', id: 'u1', result: { ok: true, data: 'yes' } }]);
    m.up('u2', 'chat', 1, 3, 1000);
    const bad = m.onFrame(4, { t: 'reply', id: 'u2', ok: false, error: 'webhook-failed' });
    const r = bad[0];
    assert.ok(r?.type === 'settle' && !r.result.ok && r.result.error instanceof UpstreamError && r.result.error.code === 'webhook-failed');
    m.up('u3', 'chat', 1, 10, 1000);
    assert.equal(m.nextDeadline(), 1010);
    const t = m.onTick(1010)[0];
    assert.ok(t?.type === 'settle' && !t.result.ok && t.result.error instanceof TimeoutError);
  });

  test('up for an app that is not bound, or after close, fails at once', () => {
    const m = machine();
    const r = m.up('u1', 'nope', 1, 0, 1000)[0];
    assert.ok(r?.type === 'settle' && !r.result.ok && r.result.error instanceof ClosedError);
    m.close();
    assert.equal(m.isClosed(), true);
  });
});
