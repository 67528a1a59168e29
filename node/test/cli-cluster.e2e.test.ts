// `longwire members`, `longwire kv` and `longwire admin-tokens` as real commands against a real node:
// text for people, the API's JSON with --json, a watch that streams, and the
// exit codes of a refused call.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, NodeProcess, freePort, tempDir } from './support/node-process.js';
import { within } from './support/contract.js';

const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args, '--api', node.apiUrl, '--admin-token', node.adminToken], { timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let node: NodeProcess;
before(async () => {
  node = await NodeProcess.start({ args: ['--id', 'solo'] });
});
after(async () => {
  await node.stop();
});

test('kv put, get (text and --json), del', async () => {
  const put = await cli(['kv', 'put', '/cli/a', 'hello']);
  assert.equal(put.code, 0, put.stderr);
  assert.match(put.stdout, /^revision \d+/);
  const text = await cli(['kv', 'get', '/cli/a']);
  assert.match(text.stdout, /\/cli\/a = hello/);
  const json = await cli(['kv', 'get', 'cli/', '--prefix', '--json']);
  const body = JSON.parse(json.stdout) as { kvs: { key: string; value: string }[] };
  assert.deepEqual(body.kvs.map((k) => [k.key, k.value]), [['/cli/a', 'hello']]);
  const cas = await cli(['kv', 'put', '/cli/a', 'again', '--if-mod-revision', '0']);
  assert.equal(cas.code, 1);
  assert.match(cas.stderr + cas.stdout, /409/);
  const del = await cli(['kv', 'del', '/cli/a', '--json']);
  assert.equal((JSON.parse(del.stdout) as { deleted: number }).deleted, 1);
});

test('kv get --prefix a page at a time: --limit, the --after and --revision to go on with, --keys-only, --count', async () => {
  for (const k of ['c', 'a', 'b']) assert.equal((await cli(['kv', 'put', `/pg/${k}`, `v${k}`])).code, 0);
  const page = await cli(['kv', 'get', 'pg/', '--prefix', '--limit', '2']);
  assert.equal(page.code, 0, page.stderr);
  const lines = page.stdout.trim().split('\n');
  assert.equal(lines.length, 3, page.stdout);
  assert.match(lines[0] ?? '', /^\/pg\/a = va {2}\(mod \d+\)$/);
  assert.match(lines[1] ?? '', /^\/pg\/b = vb /);
  const go = /^\(more keys: continue with --after \/pg\/b --revision (\d+)\)$/.exec(lines[2] ?? '');
  assert.ok(go !== null, page.stdout);
  // Changed between the pages: the next page still reads as the first one did.
  assert.equal((await cli(['kv', 'put', '/pg/c', 'changed'])).code, 0);
  assert.equal((await cli(['kv', 'put', '/pg/d', 'new'])).code, 0);
  const rest = await cli(['kv', 'get', 'pg/', '--prefix', '--limit', '2', '--after', '/pg/b', '--revision', String(go[1]), '--keys-only']);
  assert.equal(rest.stdout.trim(), '/pg/c', 'the last page at that revision, keys only, with no continuation line');
  const then = await cli(['kv', 'get', 'pg/c', '--revision', String(go[1])]);
  assert.match(then.stdout, /^\/pg\/c = vc /);
  const count = await cli(['kv', 'get', 'pg/', '--prefix', '--count']);
  assert.match(count.stdout, /^4 keys at revision \d+/);
  assert.match((await cli(['kv', 'get', 'pg/', '--prefix', '--count', '--revision', String(go[1])])).stdout, new RegExp(`^3 keys at revision ${String(go[1])}`));
  const bad = await cli(['kv', 'get', 'pg/', '--prefix', '--limit', '0']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr + bad.stdout, /400/);
});

test('kv txn FILE and kv txn - (stdin): the API body in, the branch taken out', async () => {
  const dir = await tempDir();
  after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'take-lock.json');
  await writeFile(file, JSON.stringify({ compare: [{ key: '/cli/lock', target: 'createRevision', op: '=', value: 0 }], success: [{ put: { key: '/cli/lock', value: 'cli' } }] }));
  const first = await cli(['kv', 'txn', file]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^compares held: success branch ran at revision \d+ \(0 deleted\)/);
  const again = await cli(['kv', 'txn', file, '--json']);
  assert.equal((JSON.parse(again.stdout) as { succeeded: boolean }).succeeded, false);
  // Reads: each get's keys under its index in the branch.
  for (const k of ['/cli/r/1', '/cli/r/2']) assert.equal((await cli(['kv', 'put', k, 'x'])).code, 0);
  const reads = join(dir, 'read.json');
  await writeFile(reads, JSON.stringify({ success: [{ get: { key: '/cli/lock' } }, { get: { key: '/cli/none' } }, { get: { key: '/cli/r/', prefix: true, limit: 1, keysOnly: true } }] }));
  for (const flags of [[], ['--serializable']]) {
    const read = await cli(['kv', 'txn', reads, ...flags]);
    assert.equal(read.code, 0, read.stderr);
    assert.match(read.stdout, /^compares held: success branch ran at revision \d+ \(0 deleted\)\n\[0\] get: 1 key\n {2}\/cli\/lock = cli {2}\(mod \d+\)\n\[1\] get: 0 keys\n\[2\] get: 1 key, more remain\n {2}\/cli\/r\/1\n$/, flags.join(' '));
  }
  const piped = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'kv', 'txn', '-', '--api', node.apiUrl, '--admin-token', node.adminToken], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', () => resolve(out));
    child.stdin.end(JSON.stringify({ success: [{ delete: { key: '/cli/lock' } }] }));
  });
  assert.match(piped, /success branch ran at revision \d+ \(1 deleted\)/);
  const notJson = await cli(['kv', 'txn', file + '.missing']);
  assert.equal(notJson.code, 2);
  assert.match(notJson.stderr, /cannot read/);
  await writeFile(file, '{"success": [');
  const broken = await cli(['kv', 'txn', file]);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /is not JSON/);
});

test('leases list and get: time left, sessions, keys', async () => {
  const grant = await fetch(`${node.apiUrl}/v1/leases`, { method: 'POST', headers: { authorization: `Bearer ${node.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ ttl: 60 }) });
  const id = ((await grant.json()) as { id: string }).id;
  assert.equal((await cli(['kv', 'put', '/cli/leased', 'v', '--lease', id])).code, 0);
  const got = await cli(['leases', 'get', id]);
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stdout, new RegExp(`^${id} {2}\\d+\\.\\d s of 60 s left {2}0 sessions {2}1 keys\\n {2}/cli/leased\\n$`));
  const list = await cli(['leases', 'list', '--limit', '1']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /\(more leases: continue with --after \S+\)/, 'the node\'s own lease and this one: two, so a page of one has more');
  const missing = await cli(['leases', 'get', 'no-such-lease']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr + missing.stdout, /404/);
});

test('kv watch streams the events of later puts, with --prev-kv what they replaced', async () => {
  const child = spawn(process.execPath, [CLI, 'kv', 'watch', '/cli/w/', '--prefix', '--prev-kv', '--api', node.apiUrl, '--admin-token', node.adminToken], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const seen = new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('put /cli/w/x = 1')) resolve();
      });
    });
    // The watch starts at the next revision; keep writing until the stream shows one.
    for (let i = 0; i < 50 && !out.includes('put /cli/w/x = 1'); i++) {
      await cli(['kv', 'put', '/cli/w/x', '1']);
      await Promise.race([seen, new Promise((r) => setTimeout(r, 100))]);
    }
    // Bounded: the loop above gives up without the event (or the watch exited); say so, with what it printed.
    await within(seen, 5000, 'the watch showing put /cli/w/x = 1').catch((e: unknown) => assert.fail(`${String(e)}; it printed:\n${out}\n${err}`));
    assert.match(out, /^\d+ put \/cli\/w\/x = 1( \(was 1\))?$/m);
    await cli(['kv', 'put', '/cli/w/x', '2']);
    for (let i = 0; i < 100 && !out.includes('put /cli/w/x = 2 (was 1)'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(out.includes('put /cli/w/x = 2 (was 1)'), `the watch did not show put /cli/w/x = 2 (was 1) within 5 s; it printed:\n${out}\n${err}`);
  } finally {
    child.kill('SIGKILL');
  }
});

test('members list, add (a learner), remove; the last voter cannot be removed', async () => {
  const list = await cli(['members', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^leader solo, term \d+/);
  assert.match(list.stdout, /^\* solo {2}voter {2}healthy/m);
  const p = await freePort();
  const add = await cli(['members', 'add', 'ghost', '--peer', `127.0.0.1:${p}`, '--member-api', `127.0.0.1:${p}`, '--gateway', `127.0.0.1:${p}`]);
  assert.equal(add.code, 0, add.stderr + add.stdout);
  const json = JSON.parse((await cli(['members', 'list', '--json'])).stdout) as { members: { id: string; role: string }[] };
  assert.deepEqual(json.members.map((m) => [m.id, m.role]), [['solo', 'voter'], ['ghost', 'learner']]);
  const rm = await cli(['members', 'remove', 'ghost']);
  assert.equal(rm.code, 0, rm.stderr + rm.stdout);
  const last = await cli(['members', 'remove', 'solo']);
  assert.equal(last.code, 1);
  assert.match(last.stderr + last.stdout, /409 conflict/);
  const bad = await cli(['members', 'frobnicate']);
  assert.equal(bad.code, 2);
});

test('admin-tokens create --read/--write makes a scoped token; list shows its scope; revoke ends it', async () => {
  const made = await cli(['admin-tokens', 'create', '--label', 'svc', '--read', '/cli/config/', '--read', '/cli/flags/', '--write', '/cli/svc/']);
  assert.equal(made.code, 0, made.stderr);
  const m = /^created (\w+) {2}scoped: read \/cli\/config\/,\/cli\/flags\/ write \/cli\/svc\/; the token \(shown only now\):\n(\S+)\n$/.exec(made.stdout);
  assert.ok(m !== null, made.stdout);
  const [, id, token] = m;
  const read = await fetch(`${node.apiUrl}/v1/kv/cli/config/?prefix=true`, { headers: { authorization: `Bearer ${String(token)}` } });
  assert.equal(read.status, 200);
  const outside = await fetch(`${node.apiUrl}/v1/kv/cli/?prefix=true`, { headers: { authorization: `Bearer ${String(token)}` } });
  assert.equal(outside.status, 403);
  const list = await cli(['admin-tokens', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^${String(id)} {2}\\S+ {2}svc {2}scoped: read /cli/config/,/cli/flags/ write /cli/svc/$`, 'm'));
  assert.match(list.stdout, /^initial {2}\S+ {2}initial$/m, 'an unscoped token shows no scope');
  const bad = await cli(['admin-tokens', 'create', '--read', '/sys/']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr + bad.stdout, /\/sys\//);
  assert.equal((await cli(['admin-tokens', 'revoke', String(id)])).code, 0);
});

test('keeper hash: every member digests its keys at one revision; GET /v1/keeper/hash at a past revision answers the same digest later', async () => {
  const r = await cli(['keeper', 'hash']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const m = /^solo {2}([0-9a-f]{64}) {2}(\d+) keys\n1 members agree at revision (\d+)\n$/.exec(r.stdout);
  assert.ok(m !== null, r.stdout);
  const [, hash, , revision] = m;
  const at = async (q: string): Promise<Record<string, unknown>> => (await (await fetch(`${node.apiUrl}/v1/keeper/hash${q}`, { headers: { authorization: `Bearer ${node.adminToken}` } })).json()) as Record<string, unknown>;
  assert.equal((await at(`?revision=${String(revision)}`)).hash, hash);
  assert.equal((await cli(['kv', 'put', '/cli/hash', 'changed'])).code, 0);
  assert.notEqual((await at('')).hash, hash, 'a write changes the digest');
  assert.equal((await at(`?revision=${String(revision)}`)).hash, hash, 'the digest at the earlier revision is the same as then');
  const json = await cli(['keeper', 'hash', '--json']);
  assert.deepEqual(Object.keys(JSON.parse(json.stdout) as object).sort(), ['agree', 'members', 'revision']);
});
