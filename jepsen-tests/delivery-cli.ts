// `npm run jepsen:delivery -- [--seed S] [--seconds N] [--rounds R] [--fsync]`:
// delivery rounds on a real node under faults. Exits non-zero on a violation
// and prints the seed to replay.
import { parseArgs } from 'node:util';
import { describe } from './checker/delivery.js';
import { runDelivery } from './workload/delivery-run.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seconds: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '1' },
    users: { type: 'string', default: '20' },
    nodes: { type: 'string', default: '1' },
    fsync: { type: 'boolean', default: false },
  },
});

let failed = false;
const rounds = Number(values.rounds);
for (let r = 0; r < rounds; r++) {
  const seed = values.seed !== undefined ? Number(values.seed) + r : Math.floor(Math.random() * 2 ** 31);
  const res = await runDelivery({
    seed,
    nodes: Number(values.nodes),
    faultMs: Number(values.seconds) * 1000,
    users: Number(values.users),
    devicesPerUser: 2,
    pushers: 4,
    meanFaultGapMs: 2000,
    healMs: 30_000,
    fsync: values.fsync,
    log: (l) => console.log(l),
  });
  console.log(`SEED=${seed} converged=${res.converged} ok=${res.result.ok} ${JSON.stringify(res.result.stats)} report=${res.reportPath}`);
  for (const v of res.result.violations.slice(0, 20)) console.log(describe(v));
  if (!res.result.ok || !res.converged) failed = true;
}
process.exit(failed ? 1 : 0);
