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

  // Each call slower than the last (1 ms more per 4 ms run): the rate falls steeply from slice to
  // slice, never within 10% over three. (At 1 ms more per 10 ms, timer jitter on a loaded machine
  // sometimes made three slices agree.)
  const start = performance.now();
  const unsteady = (): Promise<void> => new Promise((r) => setTimeout(r, 1 + (performance.now() - start) / 4));
  const t0 = performance.now();
  const never = await warmUp(1, unsteady, { ...rule, maxMs: 300 });
  const tookMs = performance.now() - t0;
  // Stopped by the bound, not by settling: its rates never settled, and it ran its 300 ms. Every
  // slice lasts at least sliceMs, so by its own count that is at most maxMs / sliceMs slices; how
  // many fit depends on the machine's stalls, as does the wall clock, which only catches a hang.
  assert.ok(!settled(never, rule), `settled on an unsteady rate: ${never.join(', ')}`);
  assert.ok(never.length >= 1 && never.length <= Math.ceil(300 / rule.sliceMs), `${never.length} slices`);
  // (-1: the slices are timed on performance.timeOrigin + now(), rounded at that magnitude.)
  assert.ok(tookMs >= 300 - 1 && tookMs < 300 + 5000, `stopped after ${Math.round(tookMs)} ms, not near maxMs`);
});

test('runLoad grows its latency record past its first allocation (2^16)', async () => {
  const r = await runLoad({ concurrency: 8, ops: 70_000, timeBoundMs: 60_000 }, async () => undefined);
  assert.equal(r.ok, 70_000);
  assert.equal(r.latenciesMs.length, 70_000);
});
