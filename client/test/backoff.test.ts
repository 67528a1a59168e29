import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffCeilingMs, backoffDelayMs } from '../src/core/backoff.js';

test('full jitter stays within [0, min(max, min * 2^attempt)) for any random value', () => {
  const range = { minMs: 250, maxMs: 8000 };
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
  for (let attempt = 0; attempt < 40; attempt++) {
    const ceiling = backoffCeilingMs(range, attempt);
    assert.equal(ceiling, Math.min(8000, 250 * 2 ** attempt));
    for (let i = 0; i < 50; i++) {
      const d = backoffDelayMs(range, attempt, random);
      assert.ok(Number.isInteger(d) && d >= 0 && d < ceiling, `attempt ${attempt}: ${d}`);
    }
  }
  assert.equal(backoffCeilingMs(range, 10_000), 8000, 'huge attempt counts stay finite');
});
