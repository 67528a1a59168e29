// Reads at a past revision and watches with prevKv on a real node: the pages
// of a prefix read at one revision while writes go on, the bounds of what a
// member can read back (ahead, compacted after a restart), and events that
// carry the key as it was.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { KeeperClient } from '../../keeper/src/keeper-client.js';
import type { WatchEvent } from '../../keeper/src/keeper.js';
import { NodeProcess } from './support/node-process.js';
import { assertApiError, eventually, obj } from './support/contract.js';

let node: NodeProcess;

before(async () => {
  node = await NodeProcess.start();
});

after(async () => {
  await node.stop();
});

const keysOf = (body: unknown): string[] => (obj(body).kvs as { key: string }[]).map((kv) => kv.key);

test('the pages of a prefix read at the first page\'s revision make one snapshot, whatever is written between them', async () => {
  for (let i = 0; i < 6; i++) assert.equal((await node.api('PUT', `/v1/kv/snap/k${i}`, { body: { value: `v${i}` } })).status, 200);
  const first = obj((await node.api('GET', '/v1/kv/snap/?prefix=true&limit=2')).body);
  const at = first.revision as number;
  assert.deepEqual(keysOf(first), ['/snap/k0', '/snap/k1']);
  // Between the pages: a key of a later page deleted, one changed, one added, one of the first page deleted.
  assert.equal((await node.api('DELETE', '/v1/kv/snap/k3')).status, 200);
  assert.equal((await node.api('PUT', '/v1/kv/snap/k4', { body: { value: 'changed' } })).status, 200);
  assert.equal((await node.api('PUT', '/v1/kv/snap/k2a', { body: { value: 'new' } })).status, 200);
  assert.equal((await node.api('DELETE', '/v1/kv/snap/k0')).status, 200);
  const pages: string[] = keysOf(first);
  const values: string[] = [];
  for (let afterKey = '/snap/k1', more = true; more; ) {
    const page = obj((await node.api('GET', `/v1/kv/snap/?prefix=true&limit=2&after=${afterKey}&revision=${at}`)).body);
    assert.equal(page.revision, at, 'answered at the revision asked for');
    pages.push(...keysOf(page));
    values.push(...(page.kvs as { value: string }[]).map((kv) => kv.value));
    afterKey = pages.at(-1) ?? '';
    more = page.more === true;
  }
  assert.deepEqual(pages, ['/snap/k0', '/snap/k1', '/snap/k2', '/snap/k3', '/snap/k4', '/snap/k5']);
  assert.deepEqual(values, ['v2', 'v3', 'v4', 'v5']);
  // A key and a count at that revision; now, they differ.
  const k3 = (obj((await node.api('GET', `/v1/kv/snap/k3?revision=${at}`)).body).kvs as { value: string; modRevision: number }[])[0];
  assert.equal(k3?.value, 'v3');
  assert.ok((k3?.modRevision ?? Infinity) <= at);
  assert.equal(obj((await node.api('GET', `/v1/kv/snap/?prefix=true&countOnly=true&revision=${at}`)).body).count, 6);
  assert.equal(obj((await node.api('GET', '/v1/kv/snap/?prefix=true&countOnly=true')).body).count, 5);
  // Through the keeper client, serializable too.
  const client = new KeeperClient({ endpoints: [node.apiUrl], adminToken: node.adminToken });
  for (const consistency of ['linearizable', 'serializable'] as const) {
    const r = await client.get('/snap/', { prefix: true, revision: at, consistency });
    assert.deepEqual([r.revision, r.kvs.map((kv) => kv.key)], [at, pages], consistency);
    assert.equal((await client.count('/snap/', { prefix: true, revision: at, consistency })).count, 6);
  }
});

test('a revision ahead of the member is a 400; one older than its watch history holds is a 410 naming where it starts', async () => {
  const now = obj((await node.api('GET', '/v1/kv/snap/?prefix=true&countOnly=true')).body).revision as number;
  const ahead = await node.api('GET', `/v1/kv/snap/?prefix=true&revision=${now + 1000}`);
  assertApiError(ahead, 400, 'invalid');
  assert.match(String(obj(obj(ahead.body).error).message), /ahead/);
  assertApiError(await node.api('GET', '/v1/kv/snap/?revision=0'), 400, 'invalid');
  assertApiError(await node.api('GET', '/v1/kv/snap/?revision=abc'), 400, 'invalid');
  // Past the watch history's bound (10,000 events): 80 transactions of 128 puts.
  for (let t = 0; t < 80; t++) {
    const success = Array.from({ length: 128 }, (_, i) => ({ put: { key: `/fill/${i}`, value: String(t) } }));
    assert.equal((await node.api('POST', '/v1/txn', { body: { success } })).status, 200);
  }
  const old = await node.api('GET', `/v1/kv/snap/?prefix=true&revision=${now}`);
  assertApiError(old, 410, 'compacted');
  const start = obj(obj(old.body).error).compactRevision as number;
  assert.ok(start > now, `the history starts after ${start}, past ${now}`);
  assert.equal((await node.api('GET', `/v1/kv/snap/?prefix=true&revision=${start}`)).status, 200, 'from where it starts, it reads');
});

test('a watch with prevKv=true carries each key as it was before the event', async () => {
  const first = obj((await node.api('PUT', '/v1/kv/pk/a', { body: { value: '1' } })).body).revision as number;
  assert.equal((await node.api('PUT', '/v1/kv/pk/a', { body: { value: '2' } })).status, 200);
  assert.equal((await node.api('DELETE', '/v1/kv/pk/a')).status, 200);
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 20_000);
  try {
    for (const [q, withPrev] of [['&prevKv=true', true], ['', false]] as const) {
      const res = await fetch(`${node.apiUrl}/v1/watch?key=/pk/&prefix=true&fromRevision=${first}${q}`, { headers: { authorization: `Bearer ${node.adminToken}` }, signal: ac.signal });
      assert.equal(res.status, 200);
      const reader = res.body?.getReader() ?? assert.fail('no body');
      let text = '';
      while (text.split('\n').length <= 3) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      const lines = text.split('\n').slice(0, 3).map((l) => obj(JSON.parse(l)));
      const prev = lines.map((l) => (l.prevKv === undefined ? null : [obj(l.prevKv).value, obj(l.prevKv).modRevision]));
      assert.deepEqual(prev, withPrev ? [null, ['1', first], ['2', first + 1]] : [null, null, null], q);
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  // The keeper client asks for it the same way.
  const client = new KeeperClient({ endpoints: [node.apiUrl], adminToken: node.adminToken });
  const seen: WatchEvent[] = [];
  const w = client.watch('/pk/', { prefix: true, prevKv: true, fromRevision: first }, { onEvents: (events) => seen.push(...events) });
  try {
    await eventually(async () => (seen.length >= 3 ? true : undefined), 'the client saw the three events');
    assert.deepEqual(seen.map((e) => e.prevKv?.value ?? null), [null, '1', '2']);
  } finally {
    w.cancel();
  }
});
