// `npm run jepsen:delivery -- [--seed S] [--seconds N] [--rounds R] [--nodes N] [--users U] [--topics T] [--faults LIST] [--fsync] [--host-net]`:
// delivery rounds on real nodes under faults, inside a network namespace of
// their own when the machine allows (cluster/netns.ts). Exits non-zero on a
// violation and prints the seed to replay and the report dir (history.json,
// timeline.html, node logs).
import { parseArgs } from 'node:util';
import { describe } from './checker/delivery.js';
import { reexecInNetns } from './cluster/netns.js';
import { parseNemeses } from './nemesis/parse-nemeses.js';
import { DELIVERY_NEMESES } from './nemesis/schedule.js';
import { runDelivery } from './workload/delivery-run.js';
import { describeTopicViolation } from './checker/topics.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seconds: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '1' },
    users: { type: 'string', default: '20' },
    /** Topics published to and subscribed (0: none). */
    topics: { type: 'string', default: '3' },
    nodes: { type: 'string', default: '1' },
    fsync: { type: 'boolean', default: false },
    /** The nemeses to draw from, comma-separated (kill, pause, blip, partition, transfer, member, long-partition) or 'all'. */
    faults: { type: 'string', default: 'all' },
    /** Run on the host's loopback and iptables (in chains of the run's own) instead of a namespace. */
    'host-net': { type: 'boolean', default: false },
  },
});

await reexecInNetns(import.meta.url, values['host-net']);
const nemeses = parseNemeses(values.faults, DELIVERY_NEMESES);
let failed = false;
const rounds = Number(values.rounds);
for (let r = 0; r < rounds; r++) {
  const seed = values.seed !== undefined ? Number(values.seed) + r : Math.floor(Math.random() * 2 ** 31);
  try {
    const res = await runDelivery({
      seed,
      nodes: Number(values.nodes),
      faultMs: Number(values.seconds) * 1000,
      users: Number(values.users),
      devicesPerUser: 2,
      pushers: 4,
      topics: Number(values.topics),
      topicSubscribers: Number(values.topics) > 0 ? 3 : 0,
      meanFaultGapMs: 2000,
      healMs: 30_000,
      fsync: values.fsync,
      nemeses,
      keepReport: true,
      log: (l) => console.log(l),
    });
    const ok = res.result.ok && res.topics.ok && res.converged && res.nemesisFailure === undefined;
    console.log(`SEED=${seed} ok=${ok} delivery=${res.result.ok ? 'ok' : 'violated'} topics=${res.topics.ok ? 'ok' : 'violated'} ${JSON.stringify(res.topics.stats)} converged=${res.converged}${res.nemesisFailure === undefined ? '' : ` nemesis=FAILED: ${res.nemesisFailure}`} ${JSON.stringify(res.result.stats)}`);
    for (const v of res.result.violations.slice(0, 20)) console.log(describe(v));
    for (const v of res.topics.violations.slice(0, 20)) console.log(describeTopicViolation(v));
    console.log(`report: ${res.reportPath}`);
    if (!ok) failed = true;
  } catch (err) {
    console.log(`SEED=${seed} error: ${err instanceof Error ? err.message : String(err)}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
