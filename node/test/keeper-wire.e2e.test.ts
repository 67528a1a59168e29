// The keeper wire (/v1/keeper/wire) against a real node, with raw `ws`
// clients: the upgrade's refusals, calls answered as their HTTP routes answer
// them (results, errors, scopes, secrets), bad input refused by id or by
// closing (not binary, not MessagePack, not an array of calls, a call without
// an id, a message over the size bound), a revoked token cut off on its next
// message, and the bounds on connections (per client address, per node).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { KEEPER_WIRE_PATH, KEEPER_WIRE_PROTOCOL, WireClose, packWire, unpackWire, type WireAnswer, type WireRequest } from '../../keeper/src/keeper-wire.js';
import { KeeperClient } from '../../keeper/src/keeper-client.js';
import { NodeProcess } from './support/node-process.js';
import { obj } from './support/contract.js';

let node: NodeProcess;
before(async () => {
  node = await NodeProcess.start();
});
after(async () => {
  await node.stop();
});

const wireUrl = (): string => node.apiUrl.replace(/^http/, 'ws') + KEEPER_WIRE_PATH;

/** Opens a wire connection; rejects with the HTTP status when the upgrade is refused. */
function open(token: string | null = node.adminToken, protocol: string = KEEPER_WIRE_PROTOCOL, localAddress?: string): Promise<Wire> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wireUrl(), protocol, { headers: token === null ? {} : { authorization: `Bearer ${token}` }, ...(localAddress === undefined ? {} : { localAddress }) });
    ws.once('open', () => resolve(new Wire(ws)));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => reject(Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode, body: JSON.parse(body) as unknown })));
    });
    ws.once('error', reject);
  });
}

class Wire {
  private readonly answers = new Map<number, WireAnswer>();
  private readonly waiters = new Map<number, (a: WireAnswer) => void>();
  readonly closed: Promise<{ code: number; reason: string }>;
  messages = 0;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => {
      this.messages++;
      for (const a of unpackWire(d) as WireAnswer[]) {
        const w = this.waiters.get(a.id);
        if (w === undefined) this.answers.set(a.id, a);
        else w(a);
      }
    });
    this.closed = new Promise((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
  }
  send(calls: readonly WireRequest[]): void {
    this.ws.send(packWire(calls));
  }
  answer(id: number): Promise<WireAnswer> {
    const a = this.answers.get(id);
    if (a !== undefined) return Promise.resolve(a);
    return new Promise((r) => this.waiters.set(id, r));
  }
  async call(c: WireRequest): Promise<WireAnswer> {
    this.send([c]);
    return this.answer(c.id);
  }
}

const ok = (a: WireAnswer): Record<string, unknown> => {
  assert.ok('ok' in a, `an answer, not ${JSON.stringify(a)}`);
  return a.ok as Record<string, unknown>;
};
const refused = (a: WireAnswer, status: number, code: string): string => {
  assert.ok('err' in a, `a refusal, not ${JSON.stringify(a)}`);
  assert.equal(a.err.status, status, a.err.message);
  assert.equal(a.err.code, code, a.err.message);
  return a.err.message;
};

test('the upgrade takes an admin token and the keeper subprotocol, and refuses anything else with the API error shape', async () => {
  const refusal = async (p: Promise<Wire>, status: number, code: string): Promise<void> => {
    const e = (await p.then(
      () => assert.fail('opened'),
      (err: unknown) => err,
    )) as { status: number; body: unknown };
    assert.equal(e.status, status);
    assert.equal(obj(obj(e.body).error).code, code);
  };
  await refusal(open(null), 401, 'unauthorized');
  await refusal(open('not-a-token'), 401, 'unauthorized');
  await refusal(open(node.adminToken, 'chat'), 400, 'invalid');
  const w = await open();
  assert.equal(w.ws.protocol, KEEPER_WIRE_PROTOCOL);
  w.ws.close();
});

test('calls are answered as their HTTP routes answer them, many in one message, each by its id', async () => {
  const w = await open();
  w.send([
    { id: 1, op: 'put', key: '/wire/a', value: 'A' },
    { id: 2, op: 'put', key: 'wire/b', value: 'B' },
  ]);
  const r1 = ok(await w.answer(1));
  const r2 = ok(await w.answer(2));
  assert.ok(typeof r1.revision === 'number' && typeof r2.revision === 'number' && r1.revision !== r2.revision);
  // `wire/b` and `/wire/b` are one key, as on HTTP.
  const viaHttp = obj((await node.api('GET', '/v1/kv/wire/?prefix=true')).body);
  const viaWire = ok(await w.call({ id: 3, op: 'range', key: '/wire/', prefix: true }));
  assert.deepEqual(viaWire, viaHttp);
  assert.deepEqual((viaWire.kvs as { key: string }[]).map((k) => k.key), ['/wire/a', '/wire/b']);
  assert.deepEqual(ok(await w.call({ id: 4, op: 'range', key: '/wire/', prefix: true, countOnly: true, consistency: 'serializable' })).count, 2);
  const keysOnly = ok(await w.call({ id: 5, op: 'range', key: '/wire/', prefix: true, keysOnly: true, limit: 1 }));
  assert.equal(keysOnly.more, true);
  assert.deepEqual(Object.keys((keysOnly.kvs as object[])[0] ?? {}).includes('value'), false);
  // A compare-and-swap that fails is the route's 409.
  refused(await w.call({ id: 6, op: 'put', key: '/wire/a', value: 'A2', ifModRevision: 1 }), 409, 'conflict');
  const t = ok(await w.call({ id: 7, op: 'txn', txn: { compare: [{ key: '/wire/a', target: 'value', op: '=', value: 'A' }], success: [{ put: { key: '/wire/c', value: 'C' } }, { get: { key: '/wire/c' } }] } }));
  assert.equal(t.succeeded, true);
  assert.equal(((t.responses as { kvs?: { value: string }[] }[])[1]?.kvs ?? [])[0]?.value, 'C');
  assert.equal(ok(await w.call({ id: 8, op: 'delete', key: '/wire/', prefix: true })).deleted, 3);
  refused(await w.call({ id: 9, op: 'range', key: '/wire/', revision: 999_999_999 }), 400, 'invalid');
  // Longwire's own secrets stay out of reach, as on HTTP.
  refused(await w.call({ id: 10, op: 'put', key: '/sys/secrets/x', value: 'x' }), 403, 'forbidden');
  w.ws.close();
});

test('lease calls: grant, attach, info, keepalive, revoke, as the lease routes answer them', async () => {
  const w = await open();
  const lease = ok(await w.call({ id: 1, op: 'leaseGrant', ttl: 30 }));
  assert.equal(lease.ttl, 30);
  const id = String(lease.id);
  assert.ok('ok' in (await w.call({ id: 2, op: 'put', key: '/leased/a', value: 'v', lease: id })));
  const info = ok(await w.call({ id: 3, op: 'leaseInfo', lease: id }));
  const { remainingMs, ...rest } = info;
  const { remainingMs: httpRemaining, ...httpRest } = obj((await node.api('GET', `/v1/leases/${id}`)).body);
  assert.deepEqual(rest, httpRest);
  assert.ok(typeof remainingMs === 'number' && typeof httpRemaining === 'number' && remainingMs > 25_000 && httpRemaining > 25_000);
  assert.deepEqual(info.keys, ['/leased/a']);
  assert.equal(ok(await w.call({ id: 4, op: 'leaseKeepAlive', lease: id })).ttl, 30);
  assert.deepEqual(ok(await w.call({ id: 5, op: 'leaseRevoke', lease: id })), { revoked: true });
  assert.equal((ok(await w.call({ id: 6, op: 'range', key: '/leased/a' })).kvs as unknown[]).length, 0, 'the key went with its lease');
  refused(await w.call({ id: 7, op: 'leaseKeepAlive', lease: id }), 404, 'lease-not-found');
  refused(await w.call({ id: 8, op: 'leaseGrant', ttl: 0 }), 400, 'invalid');
  refused(await w.call({ id: 9, op: 'leaseInfo', lease: 'x'.repeat(65) }), 400, 'invalid');
  w.ws.close();
});

test('a call that is not one is refused by its id and the connection goes on; a message that is not calls closes it', async () => {
  const w = await open();
  const bad: Record<string, unknown>[] = [
    { id: 1, op: 'fly', key: '/x' },
    { id: 2, op: 'put', key: '/x' },
    { id: 3, op: 'put', key: '/x', value: 7 },
    { id: 4, op: 'put', key: '/x', value: 'v', extra: true },
    { id: 5, op: 'range', key: 'k'.repeat(1025) },
    { id: 6, op: 'range', key: '/x', limit: 0 },
    { id: 7, op: 'txn', txn: { success: [{ put: { key: '/x', value: 'v' }, delete: { key: '/y' } }] } },
    { id: 8, op: 'put', key: '/x', value: 'v'.repeat(256 * 1024 + 1) },
  ];
  w.send(bad as unknown as WireRequest[]);
  for (const b of bad) assert.match(refused(await w.answer(b.id as number), 400, 'invalid'), /./, JSON.stringify(b).slice(0, 80));
  assert.ok('ok' in (await w.call({ id: 9, op: 'put', key: '/x', value: 'still open' })));

  const cases: [string, (ws: WebSocket) => void, number][] = [
    ['text', (ws) => ws.send('{"id":1}'), 1003],
    ['not MessagePack', (ws) => ws.send(Buffer.from([0x92, 0x01])), 1007],
    ['not an array', (ws) => ws.send(packWire({ id: 1, op: 'put' } as never)), WireClose.badMessage],
    ['no id', (ws) => ws.send(packWire([{ op: 'put', key: '/x', value: 'v' }] as never)), WireClose.badMessage],
    ['too many calls', (ws) => ws.send(packWire(Array.from({ length: 1025 }, (_, i) => ({ id: i + 1, op: 'range', key: '/x' })) as WireRequest[])), WireClose.badMessage],
    ['over 4 MiB', (ws) => ws.send(Buffer.alloc(4 * 1024 * 1024 + 1)), 1009],
  ];
  for (const [what, send, code] of cases) {
    const c = await open();
    send(c.ws);
    assert.equal((await c.closed).code, code, what);
  }
  // The node is unharmed.
  assert.equal(obj((await node.api('GET', '/v1/kv/x')).body).kvs instanceof Array, true);
  w.ws.close();
});

test('a scoped token is held to its prefixes call by call, and a revoked token is cut off on its next message', async () => {
  const made = obj((await node.api('POST', '/v1/admin/tokens', { body: { label: 'wire', scope: { read: ['/cfg/'], write: ['/svc/w/'] } } })).body);
  const w = await open(String(made.token));
  assert.ok('ok' in (await w.call({ id: 1, op: 'put', key: '/svc/w/a', value: 'v' })));
  assert.ok('ok' in (await w.call({ id: 2, op: 'range', key: '/cfg/', prefix: true })));
  assert.match(refused(await w.call({ id: 3, op: 'put', key: '/cfg/x', value: 'v' }), 403, 'forbidden'), /scope/);
  assert.match(refused(await w.call({ id: 4, op: 'txn', txn: { success: [{ put: { key: '/svc/w/b', value: 'v' } }, { delete: { key: '/other' } }] } }), 403, 'forbidden'), /success\[1\]/);
  // Leases: its own (its keys in its write scope) yes; the node's own lease, with sessions and /sys/ keys, no.
  const mine = String(ok(await w.call({ id: 11, op: 'leaseGrant', ttl: 30 })).id);
  assert.ok('ok' in (await w.call({ id: 12, op: 'put', key: '/svc/w/l', value: 'v', lease: mine })));
  assert.ok('ok' in (await w.call({ id: 13, op: 'leaseKeepAlive', lease: mine })));
  const nodeLease = ((obj((await node.api('GET', '/v1/leases')).body).leases as { id: string; sessions: number }[]).find((l) => l.id !== mine) ?? { id: '' }).id;
  refused(await w.call({ id: 14, op: 'leaseRevoke', lease: nodeLease }), 403, 'forbidden');
  assert.equal((obj((await node.api('GET', '/v1/kv/svc/w/b')).body).kvs as unknown[]).length, 0, 'the refused transaction wrote nothing');
  assert.equal((await node.api('DELETE', `/v1/admin/tokens/${String(made.id)}`)).status, 200);
  w.send([{ id: 5, op: 'range', key: '/cfg/' }]);
  assert.equal((await w.closed).code, WireClose.tokenRevoked);
  const e = (await open(String(made.token)).then(
    () => assert.fail('opened'),
    (err: unknown) => err,
  )) as { status: number };
  assert.equal(e.status, 401);
});

/** Why an open failed: its HTTP status and error code. */
async function refusal(p: Promise<Wire>): Promise<{ status: number; code: unknown }> {
  const e = (await p.then(
    () => assert.fail('opened'),
    (err: unknown) => err,
  )) as { status: number; body: unknown };
  return { status: e.status, code: obj(obj(e.body).error).code };
}

test('wire connections are bounded per client address (256, and 100 new a second) and per node (1,024): the next is a 429', async () => {
  // The connections of the tests before are closed: wait until the node has seen them go.
  const count = async (): Promise<number> => Number(/^longwire_keeper_wire_connections (\d+)$/m.exec(String((await node.api('GET', '/metrics', { token: null })).body))?.[1]);
  for (let i = 0; (await count()) !== 0; i++) {
    assert.ok(i < 100, 'wire connections of earlier tests still open after 5 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  const held: Wire[] = [];
  /** Opens `n` from `from`, waiting out the per-address rate (each wait bounded: 5 s in all). */
  const fill = async (from: string, n: number): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (n > 0) {
      try {
        held.push(await open(node.adminToken, KEEPER_WIRE_PROTOCOL, from));
        n--;
      } catch (err) {
        const e = err as { status?: number; body?: unknown };
        if (e.status !== 429 || obj(obj(e.body).error).code !== 'rate-limited' || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  try {
    // 250 at once from one address: a burst of 100 gets in (and what the rate refills meanwhile), the rest are refused as too fast.
    const burst = await Promise.allSettled(Array.from({ length: 250 }, () => open(node.adminToken, KEEPER_WIRE_PROTOCOL, '127.0.0.2')));
    for (const b of burst) if (b.status === 'fulfilled') held.push(b.value);
    const tooFast = burst.filter((b) => b.status === 'rejected' && obj(obj((b.reason as { body?: unknown }).body).error).code === 'rate-limited').length;
    assert.ok(tooFast > 0 && held.length + tooFast === 250, `${held.length} in, ${tooFast} refused as too fast`);
    await fill('127.0.0.2', 256 - held.length);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await refusal(open(node.adminToken, KEEPER_WIRE_PROTOCOL, '127.0.0.2')), { status: 429, code: 'too-many-connections' }, '256 from one address');
    // Other addresses still get in, up to the node's 1,024.
    await Promise.all(['127.0.0.3', '127.0.0.4', '127.0.0.5'].map((a) => fill(a, 256)));
    assert.equal(held.length, 1024);
    const full = await refusal(open(node.adminToken, KEEPER_WIRE_PROTOCOL, '127.0.0.6'));
    assert.deepEqual(full, { status: 429, code: 'too-many-connections' }, 'the node is full');
    // One closed makes room: a keeper client on the wire works again.
    held.pop()?.ws.close();
    const client = new KeeperClient({ endpoints: [node.apiUrl], adminToken: node.adminToken });
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await client.put('/room', 'yes');
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    client.close();
  } finally {
    for (const w of held) w.ws.terminate();
  }
  const metrics = String((await node.api('GET', '/metrics', { token: null })).body);
  assert.match(metrics, /longwire_keeper_wire_calls_total\{op="put"\} \d+/);
});

test('a node that stops closes its wire connections with 1001 once the calls running are answered', async () => {
  const other = await NodeProcess.start();
  try {
    const ws = new WebSocket(other.apiUrl.replace(/^http/, 'ws') + KEEPER_WIRE_PATH, KEEPER_WIRE_PROTOCOL, { headers: { authorization: `Bearer ${other.adminToken}` } });
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    const w = new Wire(ws);
    assert.ok('ok' in (await w.call({ id: 1, op: 'put', key: '/s', value: 'v' })));
    process.kill(other.pid, 'SIGTERM');
    const closed = await w.closed;
    assert.equal(closed.code, WireClose.goingAway, closed.reason);
  } finally {
    await other.stop();
  }
});
