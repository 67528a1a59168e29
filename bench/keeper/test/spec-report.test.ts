// The spec report's round-by-round lines: each round's ratios come from that
// round's own runs, and a single round prints none (the table has it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PhaseRun } from '../run-system.js';
import { roundLines } from '../spec-report.js';
import type { SpecSystemRun } from '../spec-run.js';

/** A put phase at `inFlight` that answered `ok` operations in one second. */
function round(inFlight: number, ok: number): SpecSystemRun {
  const run: PhaseRun = { ok, errors: 0, firstError: undefined, elapsedMs: 1000, timeBound: true, latenciesMs: new Float64Array(ok).fill(1), serverCpuNs: 0, clientCpuNs: 0 };
  return { puts: [{ inFlight, run }], get: run, watch: { rounds: 0, latenciesMs: [], allSeenMs: [], missed: 0 } };
}

test('roundLines: per round, each system at the busiest in-flight count and the ratios of that round', () => {
  const lines = roundLines({ longwire: [round(256, 9000), round(256, 8000)], etcd: [round(256, 6000), round(256, 8000)], zookeeper: [round(256, 12000), round(256, 10000)] }, 256);
  assert.deepEqual(lines, [
    'puts/s at 256 in flight, round by round:',
    '  round 1: longwire 9,000, etcd 6,000, ZooKeeper 12,000, longwire/etcd 1.50×, longwire/zk 0.75×',
    '  round 2: longwire 8,000, etcd 8,000, ZooKeeper 10,000, longwire/etcd 1.00×, longwire/zk 0.80×',
  ]);
});

test('roundLines: nothing for a single round, and a system not run shows as -', () => {
  assert.deepEqual(roundLines({ longwire: [round(256, 9000)] }, 256), []);
  assert.deepEqual(roundLines({ longwire: [round(256, 9000), round(256, 9000)] }, 256).slice(1), ['  round 1: longwire 9,000, etcd -, ZooKeeper -', '  round 2: longwire 9,000, etcd -, ZooKeeper -']);
});
