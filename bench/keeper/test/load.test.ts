// The keeper bench's load loop and options, without any server: the count and
// time bounds, the in-flight bound, error counting, and flag parsing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runLoad } from '../load.js';
import { parseOptions } from '../options.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('runLoad stops at the count bound, keeps at most `concurrency` in flight, and gives each worker its own index', async () => {
  let inFlight = 0;
  let most = 0;
  const seen = new Set<number>();
  const workers = new Set<number>();
  const r = await runLoad({ concurrency: 4, ops: 50, timeBoundMs: 60_000 }, async (w, i) => {
    inFlight++;
    most = Math.max(most, inFlight);
    seen.add(i);
    workers.add(w);
    await tick();
    inFlight--;
  });
  assert.equal(r.ok, 50);
  assert.equal(r.errors, 0);
  assert.equal(r.timeBound, false);
  assert.equal(r.latenciesMs.length, 50);
  assert.equal(seen.size, 50);
  assert.equal(most, 4);
  assert.deepEqual([...workers].sort(), [0, 1, 2, 3]);
});

test('runLoad stops at the time bound when the count is out of reach', async () => {
  const r = await runLoad({ concurrency: 2, ops: 1_000_000, timeBoundMs: 200 }, () => new Promise((res) => setTimeout(res, 5)));
  assert.equal(r.timeBound, true);
  assert.ok(r.ok > 0 && r.ok < 1_000_000);
  assert.ok(r.elapsedMs >= 200);
});

test('runLoad counts failed operations apart and keeps the first error', async () => {
  const r = await runLoad({ concurrency: 3, ops: 30, timeBoundMs: 60_000 }, async (_w, i) => {
    await tick();
    if (i % 3 === 0) throw new Error(`failed ${i}`);
  });
  assert.equal(r.ok, 20);
  assert.equal(r.errors, 10);
  assert.match(r.firstError ?? '', /^failed \d+$/);
  assert.equal(r.latenciesMs.length, 20);
});

test('parseOptions: defaults, --quick, --nodes and --systems, and refusals', () => {
  const full = parseOptions([]);
  assert.deepEqual(full.nodes, [1, 3]);
  assert.deepEqual(full.systems, ['longwire', 'etcd', 'zookeeper']);
  assert.ok(parseOptions(['--quick']).ops < full.ops);
  const o = parseOptions(['--ops', '500', '--concurrency', '8', '--nodes', '3', '--systems', 'zookeeper,longwire', '--json', 'x.json']);
  assert.equal(o.ops, 500);
  assert.equal(o.concurrency, 8);
  assert.deepEqual(o.nodes, [3]);
  assert.deepEqual(o.systems, ['longwire', 'zookeeper']);
  assert.equal(o.json, 'x.json');
  assert.throws(() => parseOptions(['--nodes', '2']), /--nodes must be 1 or 3/);
  assert.throws(() => parseOptions(['--systems', 'consul']), /--systems takes/);
  assert.throws(() => parseOptions(['--ops', '0']), /--ops needs an integer/);
  assert.throws(() => parseOptions(['--frobnicate']));
});

test('parseOptions --spec: issue #5 figures (3 members, 100-byte values, puts at 1/64/256, gets at 64, one watcher, kills), overridable', () => {
  const s = parseOptions(['--spec']);
  assert.equal(s.spec, true);
  assert.deepEqual(s.nodes, [3]);
  assert.equal(s.valueBytes, 100);
  assert.deepEqual(s.putConcurrencies, [1, 64, 256]);
  assert.equal(s.concurrency, 64);
  assert.equal(s.watchers, 1);
  assert.equal(s.kills, 5);
  assert.equal(s.rounds, 1);
  assert.equal(parseOptions(['--spec', '--quick']).kills, 2);
  assert.equal(parseOptions(['--spec', '--kills', '0']).kills, 0);
  assert.equal(parseOptions([]).spec, false);
  assert.equal(parseOptions([]).valueBytes, 256);
  assert.throws(() => parseOptions(['--spec', '--kills=-1']), /--kills needs an integer/);
});
