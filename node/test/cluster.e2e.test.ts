// A three-node cluster of real `longwire` processes on loopback: formed by
// --join, kv and watches across nodes, kill -9 of the leader, a restart from
// the data dir with no --join, leadership transfer and member removal. The
// tests run in order on one cluster (each step builds on the previous one).
// Partitions are not tested here (no netem): jepsen-tests does them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NodeProcess } from './support/node-process.js';
import type { ApiResponse } from './support/node-process.js';
import { assertApiError, eventually, isRecord, obj, within } from './support/contract.js';
import { removeMember } from './support/test-cluster.js';

interface ClusterView {
  leader: string | null;
  term: number;
  members: { id: string; role: string; peer: string; api: string; gateway: string; zone: string; healthy: boolean }[];
}

const nodes = new Map<string, NodeProcess>();
/** Data dirs and ports of the nodes, kept to restart one on the same data dir. */
const dirs = new Map<string, { dataDir: string; apiPort: number; gatewayPort: number; peerPort: number }>();

function node(id: string): NodeProcess {
  const n = nodes.get(id);
  assert.ok(n !== undefined, `node ${id} is not running`);
  return n;
}

async function start(id: string, join?: string): Promise<NodeProcess> {
  const kept = dirs.get(id);
  const n = await NodeProcess.start({
    ...(kept ?? {}),
    args: ['--id', id, '--zone', `zone-${id}`, ...(join === undefined ? [] : ['--join', join])],
  });
  nodes.set(id, n);
  if (kept === undefined) dirs.set(id, { dataDir: n.dataDir, apiPort: n.apiPort, gatewayPort: n.gatewayPort, peerPort: n.peerPort });
  return n;
}

async function view(n: NodeProcess): Promise<ClusterView> {
  const r = await n.api('GET', '/v1/cluster');
  assert.equal(r.status, 200);
  return r.body as ClusterView;
}

/** Retries a call while it answers 503 (no leader yet, or an election in progress) or 504 (a write lost in one; the calls here are safe to repeat). */
async function until2xx(call: () => Promise<ApiResponse>, what: string): Promise<ApiResponse> {
  return eventually(async () => {
    const r = await call().catch(() => undefined);
    return r !== undefined && r.status !== 503 && r.status !== 504 ? r : undefined;
  }, what, undefined, 100);
}

/** A removal expected to go through: repeated on 503 and on the quorum 409 a loaded machine can trigger (removeMember). */
async function remove(asker: string, id: string): Promise<ApiResponse> {
  const r = await removeMember(node(asker), id, (x) => nodes.get(x));
  assert.equal(r.status, 200, `remove ${id}: ${JSON.stringify(r.body)}; refused before: ${r.refused.join(' | ')}`);
  return r;
}

async function voters(n: NodeProcess, count: number): Promise<ClusterView> {
  return eventually(async () => {
    const v = await view(n).catch(() => undefined);
    return v !== undefined && v.leader !== null && v.members.filter((m) => m.role === 'voter').length === count ? v : undefined;
  }, `${count} voters seen by ${n.apiUrl}`, undefined, 100);
}

/** Reads NDJSON event lines from a watch stream until `want` have arrived (progress lines skipped), failing after `ms`. */
async function readEvents(res: Response, want: number, ms = 20_000): Promise<Record<string, unknown>[]> {
  assert.ok(res.body !== null);
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  const lines: Record<string, unknown>[] = [];
  const until = Date.now() + ms;
  while (lines.length < want) {
    const { done, value } = await within(reader.read(), Math.max(0, until - Date.now()), `${want} watch events (have ${lines.length})`);
    if (done) break;
    buf += dec.decode(value, { stream: true });
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line: unknown = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      if (isRecord(line) && !('progress' in line)) lines.push(line);
    }
  }
  reader.releaseLock();
  return lines;
}

before(async () => {
  const n1 = await start('n1');
  const n2 = await start('n2', n1.apiUrl);
  // Joined through a member that may not be the leader: the call is forwarded.
  await voters(n2, 2);
  await start('n3', n2.apiUrl);
});

after(async () => {
  for (const n of nodes.values()) await n.stop({ keepData: true });
  const { rm } = await import('node:fs/promises');
  for (const d of dirs.values()) await rm(d.dataDir, { recursive: true, force: true });
});

test('three nodes form a cluster by --join: every member sees three healthy voters and the same leader', async () => {
  // Sampled together until they agree: a view taken during an election would name another leader.
  const leader = await eventually(async () => {
    const views = await Promise.all(['n1', 'n2', 'n3'].map((id) => view(node(id)).catch(() => undefined)));
    const l = views[0]?.leader;
    return typeof l === 'string' && views.every((v) => v !== undefined && v.leader === l && v.members.filter((m) => m.role === 'voter').length === 3) ? l : undefined;
  }, 'three voters and the same leader seen by every member', undefined, 100);
  const lv = await view(node(leader));
  assert.deepEqual(lv.members.map((m) => m.id).sort(), ['n1', 'n2', 'n3']);
  for (const m of lv.members) {
    assert.equal(m.zone, `zone-${m.id}`);
    assert.equal(m.api, `127.0.0.1:${node(m.id).apiPort}`);
    assert.equal(m.peer, `127.0.0.1:${node(m.id).peerPort}`);
    assert.equal(m.gateway, `127.0.0.1:${node(m.id).gatewayPort}`);
  }
  await eventually(async () => ((await view(node(leader))).members.every((m) => m.healthy) ? true : undefined), 'every member healthy on the leader');
  // Ready: heard from a leader within 600 ms, which a loaded machine can miss for a moment.
  for (const id of ['n1', 'n2', 'n3']) await eventually(async () => ((await fetch(`${node(id).apiUrl}/readyz`)).status === 200 ? true : undefined), `${id} ready`);
  // Joining again with the same id and addresses is answered, not duplicated (forwarded to the leader: 503 during an election).
  const n3 = node('n3');
  const again = await until2xx(
    () =>
      node('n1').api('POST', '/v1/cluster/members', {
        body: { id: 'n3', peer: `127.0.0.1:${n3.peerPort}`, api: `127.0.0.1:${n3.apiPort}`, gateway: `127.0.0.1:${n3.gatewayPort}`, zone: 'zone-n3' },
      }),
    'the join repeated',
  );
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal((await view(node('n1'))).members.length, 3);
  assertApiError(await node('n1').api('POST', '/v1/cluster/members', { body: { id: 'n9' } }), 400, 'invalid');
  assertApiError(await node('n1').api('DELETE', '/v1/cluster/members/n3', { token: null }), 401);
});

test('a put on one node is read linearizably on another, at once', async () => {
  for (let i = 0; i < 5; i++) {
    // (503: an election in progress, retried; a stale read would still be a 200 with the old value.)
    const put = await until2xx(() => node('n3').api('PUT', '/v1/kv/cluster/lin', { body: { value: `v${i}` } }), 'a put');
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const get = await until2xx(() => node(i % 2 === 0 ? 'n2' : 'n1').api('GET', '/v1/kv/cluster/lin'), 'a read');
    assert.equal(get.status, 200, JSON.stringify(get.body));
    const kv = (obj(get.body).kvs as { value: string; modRevision: number }[])[0];
    assert.equal(kv?.value, `v${i}`);
    assert.equal(kv.modRevision, obj(put.body).revision);
  }
});

test('a watch on node B sees a put made on node C', async () => {
  const ac = new AbortController();
  try {
    const res = await fetch(`${node('n2').apiUrl}/v1/watch?key=/cluster/w/&prefix=true`, { headers: { authorization: `Bearer ${node('n2').adminToken}` }, signal: ac.signal });
    assert.equal(res.status, 200);
    const put = await until2xx(() => node('n3').api('PUT', '/v1/kv/cluster/w/a', { body: { value: 'from-n3' } }), 'a put');
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const [ev] = await readEvents(res, 1);
    assert.deepEqual(ev, { revision: obj(put.body).revision, type: 'put', key: '/cluster/w/a', value: 'from-n3' });
  } finally {
    ac.abort();
  }
});

test('kill -9 of the leader: another member is elected and writes continue; the killed node restarts with no --join and catches up', async () => {
  const old = (await view(node('n1'))).leader;
  assert.ok(old !== null);
  await node(old).kill9();
  nodes.delete(old);
  const survivor = node(['n1', 'n2', 'n3'].find((id) => id !== old) ?? 'n1');
  const next = await eventually(async () => {
    const v = await view(survivor);
    return v.leader !== null && v.leader !== old ? v.leader : undefined;
  }, 'a new leader', undefined, 100);
  assert.notEqual(next, old);
  const put = await until2xx(() => survivor.api('PUT', '/v1/kv/cluster/after-kill', { body: { value: 'written without the old leader' } }), 'a write after the kill');
  assert.equal(put.status, 200);
  assert.equal((await until2xx(() => survivor.api('PUT', '/v1/kv/cluster/lin', { body: { value: 'latest' } }), 'a second write')).status, 200);

  const back = await start(old);
  const get = await until2xx(() => back.api('GET', '/v1/kv/cluster/after-kill'), 'a read on the restarted node');
  assert.equal((obj(get.body).kvs as { value: string }[])[0]?.value, 'written without the old leader');
  const lin = await until2xx(() => back.api('GET', '/v1/kv/cluster/lin'), 'a second read on the restarted node');
  assert.equal((obj(lin.body).kvs as { value: string }[])[0]?.value, 'latest');
  await voters(back, 3);
});

test('leadership moves to the member named in transfer-leader, asked on any member', async () => {
  const v = await voters(node('n1'), 3);
  const target = ['n1', 'n2', 'n3'].find((id) => id !== v.leader);
  const asker = ['n1', 'n2', 'n3'].find((id) => id !== v.leader && id !== target);
  assert.ok(target !== undefined && asker !== undefined);
  const r = await until2xx(() => node(asker).api('POST', '/v1/cluster/transfer-leader', { body: { to: target } }), 'transfer-leader');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(obj(r.body).leader, target);
  await eventually(async () => ((await view(node(asker))).leader === target ? true : undefined), 'the new leader seen by the asker');
  const put = await until2xx(() => node(asker).api('PUT', '/v1/kv/cluster/after-transfer', { body: { value: 'x' } }), 'a write after the transfer');
  assert.equal(put.status, 200);
});

test('members are removed one at a time; removing the last voter is refused with 409', async () => {
  const v = await voters(node('n1'), 3);
  const leader = v.leader;
  assert.ok(leader !== null);
  const followers = ['n1', 'n2', 'n3'].filter((id) => id !== leader);
  const [first, second] = followers;
  assert.ok(first !== undefined && second !== undefined);
  // A join's user move must finish before a removal (one change at a time: 409 meanwhile).
  await eventually(async () => {
    const j = await node(leader).api('GET', '/v1/kv/sys/joining/?prefix=true');
    return j.status === 200 && (obj(j.body).kvs as unknown[]).length === 0 ? true : undefined;
  }, 'join moves finished', undefined, 100);
  await remove(second, first);
  const after1 = await voters(node(leader), 2);
  assert.deepEqual(after1.members.map((m) => m.id).sort(), [leader, second].sort());
  assertApiError(await until2xx(() => node(leader).api('DELETE', `/v1/cluster/members/${first}`), `remove ${first} again`), 404);
  await remove(leader, second);
  const after2 = await voters(node(leader), 1);
  assert.deepEqual(after2.members.map((m) => m.id), [leader]);
  assertApiError(await node(leader).api('DELETE', `/v1/cluster/members/${leader}`), 409, 'conflict');
  // The one remaining member still takes writes.
  assert.equal((await node(leader).api('PUT', '/v1/kv/cluster/alone', { body: { value: '1' } })).status, 200);
});
