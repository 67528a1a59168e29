// `npm run jepsen -- [--time S] [--workload kv|delivery|both] [--nodes N] [--seconds N] [--host-net]`:
// rounds with random seeds, alternating the workloads (with `both`), until
// --time seconds are used. Prints each round's workload, seed, verdict and
// report dir; stops at the first failure with a non-zero exit, printing that
// round's whole log (also saved as run.log in its report dir, which is kept
// with the data dirs). Runs in a network namespace of its own when it can.
import { BANK_GUARANTEE } from './checker/bank.js';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { describe } from './checker/delivery.js';
import { describeWatchViolation } from './checker/watch.js';
import { reexecInNetns } from './cluster/netns.js';
import { KV_NEMESES } from './nemesis/kv-schedule.js';
import { DELIVERY_NEMESES } from './nemesis/schedule.js';
import { runDelivery } from './workload/delivery-run.js';
import { describeTopicViolation } from './checker/topics.js';
import { runKv } from './workload/kv-run.js';

const { values } = parseArgs({
  options: {
    time: { type: 'string', default: '600' },
    workload: { type: 'string', default: 'both' },
    nodes: { type: 'string', default: '3' },
    /** Fault phase of one round; the last round is cut to what --time leaves. */
    seconds: { type: 'string', default: '30' },
    'host-net': { type: 'boolean', default: false },
  },
});

await reexecInNetns(import.meta.url, values['host-net']);
const workloads = values.workload === 'both' ? (['kv', 'delivery'] as const) : values.workload === 'kv' || values.workload === 'delivery' ? [values.workload] : undefined;
if (workloads === undefined) throw new Error(`--workload must be kv, delivery or both, got ${values.workload}`);
const budgetMs = Number(values.time) * 1000;
const nodes = Number(values.nodes);
/** A round needs about this much beyond its fault phase (start, healing, checking): none starts with less left. */
const ROUND_OVERHEAD_MS = 15_000;
/** The shortest fault phase worth a round. */
const FAULT_MS_MIN = 5000;

const start = Date.now();
let round = 0;
for (;;) {
  const left = budgetMs - (Date.now() - start);
  const faultMs = Math.min(Number(values.seconds) * 1000, left - ROUND_OVERHEAD_MS);
  if (faultMs < FAULT_MS_MIN) break;
  const workload = workloads[round % workloads.length] ?? 'kv';
  round++;
  const seed = Math.floor(Math.random() * 2 ** 31);
  const lines: string[] = [];
  const log = (l: string): void => {
    lines.push(l);
  };
  const t0 = Date.now();
  let verdict: string;
  let ok: boolean;
  let report: string | undefined;
  try {
    if (workload === 'kv') {
      const r = await runKv({ seed, nodes, faultMs, meanFaultGapMs: 2500, clients: 6, watchers: 3, keys: 3, bankClients: 2, lockClients: 2, nemeses: new Set(KV_NEMESES), healMs: 30_000, opTimeoutMs: 1500, reads: 'linearizable', stepsMax: 20_000_000, keepReport: true, log });
      ok = r.ok;
      report = r.reportDir;
      verdict = `linearizable=${r.linearizable.verdict} revisions=${r.revisionOrder.ok ? 'ok' : 'violated'} watch=${r.watch.ok ? 'ok' : 'violated'} bank=${r.bank.ok ? 'ok' : 'violated'} lock=${r.lock.ok ? 'ok' : 'violated'} agree=${r.agreement.ok ? 'ok' : 'violated'} liveness=${r.livenessFailure ?? 'ok'}${r.nemesisFailure === undefined ? '' : ` nemesis=FAILED: ${r.nemesisFailure}`} ops=${r.stats.ops}`;
      for (const p of r.linearizable.partitions) if (p.explanation !== undefined) lines.push(`key ${p.partition}: ${p.verdict}\n${p.explanation}`);
      for (const v of r.revisionOrder.violations) lines.push(`[revision order] ${v}`);
      for (const v of r.watch.violations.slice(0, 20)) lines.push(describeWatchViolation(v));
      for (const v of r.bank.violations.slice(0, 20)) lines.push(`[bank] ${v}\n    guarantee: ${BANK_GUARANTEE}`);
    } else {
      const r = await runDelivery({ seed, nodes, faultMs, users: 20, devicesPerUser: 2, pushers: 4, topics: 3, topicSubscribers: 3, meanFaultGapMs: 2000, healMs: 30_000, fsync: false, nemeses: new Set(DELIVERY_NEMESES), keepReport: true, log });
      ok = r.result.ok && r.topics.ok && r.converged;
      report = dirname(r.reportPath);
      verdict = `delivery=${r.result.ok ? 'ok' : 'violated'} topics=${r.topics.ok ? 'ok' : 'violated'} converged=${r.converged} answered=${r.result.stats.answered} published=${r.topics.stats.answered}`;
      for (const v of r.result.violations.slice(0, 20)) lines.push(describe(v));
      for (const v of r.topics.violations.slice(0, 20)) lines.push(describeTopicViolation(v));
    }
  } catch (err) {
    ok = false;
    verdict = `error: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (report !== undefined) await writeFile(join(report, 'run.log'), `${lines.join('\n')}\n`).catch(() => undefined);
  console.log(`round ${round} ${workload} SEED=${seed} nodes=${nodes} ${Math.round(faultMs / 1000)}s: ${ok ? 'ok' : 'FAILED'} ${verdict} (${Math.round((Date.now() - t0) / 1000)}s) report: ${report ?? '-'}`);
  if (!ok) {
    console.log(lines.join('\n'));
    console.log(`replay: npm run jepsen:${workload} -- --nodes ${nodes} --seconds ${Math.round(faultMs / 1000)} --seed ${seed}`);
    process.exit(1);
  }
}
console.log(`${round} rounds passed in ${Math.round((Date.now() - start) / 1000)}s`);
