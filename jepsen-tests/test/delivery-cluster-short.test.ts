// A short delivery round on three joined nodes in `npm test`: devices bound
// on random nodes, pushes through random nodes, kill -9, pauses, partitions
// and leader-transfer storms (membership changes take tens of seconds each:
// they run in the long rounds only); every answered qos 1 push must reach
// every device of its user, in order, with no gap. Runs in a network namespace of
// its own when it can (the partitions' rules then never touch the host).
// Longer: `npm run jepsen:delivery -- --nodes 3 --rounds N`.
import assert from 'node:assert/strict';
import { describe } from '../checker/delivery.js';
import { DELIVERY_NEMESES } from '../nemesis/schedule.js';
import { runDelivery } from '../workload/delivery-run.js';
import { describeTopicViolation } from '../checker/topics.js';
import { isolatedTest } from './support/isolated-test.js';

isolatedTest('delivery under faults across three nodes (short round)', { file: import.meta.url }, async () => {
  // The same fault schedule on every `npm test` run, so a failure there replays with its faults;
  // drawing new schedules is the jepsen CLIs' job (random seeds). SEED=n runs another one.
  const seed = Number(process.env.SEED ?? 13);
  assert.ok(Number.isSafeInteger(seed), `SEED must be an integer, got ${process.env.SEED}`);
  const lines: string[] = [];
  const r = await runDelivery({ seed, nodes: 3, faultMs: 8000, users: 8, devicesPerUser: 2, pushers: 3, topics: 2, topicSubscribers: 2, meanFaultGapMs: 2000, healMs: 40_000, fsync: false, nemeses: new Set(DELIVERY_NEMESES.filter((k) => k !== 'member' && k !== 'long-partition')), keepReport: false, log: (l) => lines.push(l) });
  const why = `${lines.join('\n')}\n${r.result.violations.slice(0, 10).map(describe).join('\n')}\n${r.topics.violations.slice(0, 10).map(describeTopicViolation).join('\n')}\nreport: ${r.reportPath}\nreplay: SEED=${seed} node scripts/test.mjs delivery-cluster-short`;
  assert.ok(r.converged, `devices did not converge after healing\n${why}`);
  assert.ok(r.result.ok, why);
  assert.ok(r.result.stats.answered > 0, 'the workload pushed nothing');
  assert.ok(r.topics.ok, why);
  assert.ok(r.topics.stats.answered > 0 && r.topics.stats.kept > 0, `the workload published nothing, or kept nothing in a history: ${JSON.stringify(r.topics.stats)}`);
});
