// The warm-up rule without any server: it ends once the last slices' rates
// agree, and gives up at its time bound on a rate that never settles.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runLoad } from '../load.js';
import { settled, warmUp, type WarmUpRule } from '../warm-up.js';

const rule: WarmUpRule = { sliceMs: 50, settledSlices: 3, tolerance: 0.1, maxMs: 1000 };

test('settled: the last slices within the tolerance of their mean; not before there are enough', () => {
  assert.equal(settled([2000, 3900], rule), false);
  assert.equal(settled([2000, 3900, 5900, 7700, 8800], rule), false);
  assert.equal(settled([2000, 3900, 9700, 10000, 10400], rule), true);
  assert.equal(settled([0, 0, 0], rule), false, 'no progress is not a steady rate');
});

test('warmUp stops once the rate settles, and after maxMs on one that never does', async () => {
  // A steady operation settles after `settledSlices` slices (a wide tolerance: a busy machine's slices vary).
  const steady = await warmUp(4, () => new Promise((r) => setTimeout(r, 2)), { ...rule, tolerance: 0.5 });
  assert.ok(steady.length >= rule.settledSlices && steady.length < rule.maxMs / rule.sliceMs, `settled after ${steady.length} slices`);

  // Each call slower than the last (1 ms more per 10 ms run): never within 10% over three slices.
  const start = performance.now();
  const unsteady = (): Promise<void> => new Promise((r) => setTimeout(r, 1 + (performance.now() - start) / 10));
  const t0 = performance.now();
  const never = await warmUp(1, unsteady, { ...rule, maxMs: 300 });
  assert.ok(performance.now() - t0 < 300 + 2 * rule.sliceMs + 500, 'stopped near maxMs');
  assert.ok(never.length >= 300 / rule.sliceMs - 1, `${never.length} slices`);
});

test('runLoad grows its latency record past its first allocation (2^16)', async () => {
  const r = await runLoad({ concurrency: 8, ops: 70_000, timeBoundMs: 60_000 }, async () => undefined);
  assert.equal(r.ok, 70_000);
  assert.equal(r.latenciesMs.length, 70_000);
});
