// Usage: npm run sim -- [--seeds N] [--base B] [--seed S] [--ticks T]
//   --seeds N  run seeds B..B+N-1 (default 1000), print a summary
//   --seed S   replay one seed exactly and print its trace
// Exits non-zero on the first failure, printing SEED=... and the settings.
import { describeSettings, runSeed } from './sim/simulator.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const ticks = arg('--ticks') === undefined ? undefined : Number(arg('--ticks'));
const one = arg('--seed');
if (one !== undefined) {
  const seed = Number(one);
  const { error, sim } = runSeed(seed, { trace: true, ...(ticks === undefined ? {} : { safetyTicks: ticks }) });
  for (const line of sim.trace) console.log(line);
  console.log(`settings: ${describeSettings(sim.s)}`);
  console.log(`stats: ${JSON.stringify(sim.stats)}`);
  if (error !== undefined) {
    console.log(error);
    // exitCode, not exit(): a pipe must receive the whole trace first.
    process.exitCode = 1;
  } else {
    console.log(`SEED=${seed} ok`);
  }
} else {
  const n = Number(arg('--seeds') ?? 1000);
  const base = Number(arg('--base') ?? 1);
  const started = process.hrtime.bigint();
  const total = { proposals: 0, applied: 0, elections: 0, crashes: 0, snapshots: 0, confChanges: 0, reads: 0 };
  let failed = false;
  for (let seed = base; seed < base + n && !failed; seed++) {
    const { error, sim } = runSeed(seed, ticks === undefined ? {} : { safetyTicks: ticks });
    if (error !== undefined) {
      console.error(error);
      console.error(`replay: npm run sim -- --seed ${seed}${ticks === undefined ? '' : ` --ticks ${ticks}`}`);
      process.exitCode = 1;
      failed = true;
    }
    for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += sim.stats[k];
  }
  if (!failed) {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`${n} seeds (${base}..${base + n - 1}) passed in ${(ms / 1000).toFixed(1)}s`);
    console.log(`totals: ${JSON.stringify(total)}`);
  }
}
