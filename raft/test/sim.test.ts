// Runs the seeded cluster simulator over many seeds (safety phase with
// faults, then a liveness phase). A failure prints SEED=... and the fault
// settings; replay it with `npm run sim -- --seed N`.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { runSeed, settingsFor } from './sim/simulator.js';

const SEEDS = Number(process.env['RAFT_SIM_SEEDS'] ?? 2000);
const BASE = Number(process.env['RAFT_SIM_BASE'] ?? 1);

test(`simulator: ${SEEDS} seeds keep election safety, log matching, leader completeness, state machine safety, and commit after healing`, () => {
  const failures: string[] = [];
  for (let seed = BASE; seed < BASE + SEEDS; seed++) {
    const { error } = runSeed(seed);
    if (error !== undefined) failures.push(error);
    if (failures.length >= 3) break;
  }
  assert.deepEqual(failures, [], failures.join('\n\n'));
});

test('simulator: a seed replays exactly (same trace twice)', () => {
  const multi = Array.from({ length: 50 }, (_, i) => i + 1).filter((s) => settingsFor(s).initialVoters >= 3);
  for (const seed of multi.slice(0, 3)) {
    const a = runSeed(seed, { trace: true });
    const b = runSeed(seed, { trace: true });
    assert.equal(a.error, undefined);
    assert.ok(a.sim.trace.length > 50, `seed ${seed} trace has ${a.sim.trace.length} lines`);
    assert.deepEqual(b.sim.trace, a.sim.trace);
  }
});
