// A short delivery round in `npm test`: a real node under kill -9, pauses and
// network blips; every answered qos 1 push must reach every device, in order,
// with no gap. Longer rounds: `npm run jepsen:delivery -- --rounds N`.
import assert from 'node:assert/strict';
import { describe } from '../checker/delivery.js';
import { DELIVERY_NEMESES } from '../nemesis/schedule.js';
import { runDelivery } from '../workload/delivery-run.js';
import { describeTopicViolation } from '../checker/topics.js';
import { isolatedTest } from './support/isolated-test.js';

isolatedTest('delivery under faults on one node (short round)', { file: import.meta.url }, async () => {
  // The same fault schedule on every `npm test` run, so a failure there replays with its faults;
  // drawing new schedules is the jepsen CLIs' job (random seeds). SEED=n runs another one.
  const seed = Number(process.env.SEED ?? 13);
  assert.ok(Number.isSafeInteger(seed), `SEED must be an integer, got ${process.env.SEED}`);
  const lines: string[] = [];
  const r = await runDelivery({ seed, nodes: 1, faultMs: 8000, users: 8, devicesPerUser: 2, pushers: 3, topics: 2, topicSubscribers: 2, meanFaultGapMs: 1500, healMs: 30_000, fsync: false, nemeses: new Set(DELIVERY_NEMESES), keepReport: false, log: (l) => lines.push(l) });
  const why = `${lines.join('\n')}\n${r.result.violations.slice(0, 10).map(describe).join('\n')}\n${r.topics.violations.slice(0, 10).map(describeTopicViolation).join('\n')}\nreport: ${r.reportPath}\nreplay: SEED=${seed} node scripts/test.mjs delivery-short`;
  assert.ok(r.converged, `devices did not converge after healing\n${why}`);
  assert.ok(r.result.ok, why);
  assert.ok(r.result.stats.answered > 0, 'the workload pushed nothing');
  assert.ok(r.topics.ok, why);
  assert.ok(r.topics.stats.answered > 0 && r.topics.stats.kept > 0, `the workload published nothing, or kept nothing in a history: ${JSON.stringify(r.topics.stats)}`);
});
