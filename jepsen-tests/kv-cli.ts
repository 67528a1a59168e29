// `npm run jepsen:kv -- [--seed S] [--seconds N] [--nodes 1|3] [--rounds R] [--clients C] [--watchers W] [--keys K] [--bank B] [--locks L] [--gap-ms MS] [--faults LIST] [--reads serializable] [--host-net]`:
// keeper rounds (linearizable kv, watch guarantees, atomic transactions) on real nodes under
// faults, inside a network namespace of their own when the machine allows
// (cluster/netns.ts). Prints SEED= and the schedule of each round and its report dir;
// exits non-zero on a violation or a liveness failure. The report dir (history
// JSON, results, node logs) is kept; data dirs are kept only on failure.
// `--check DIR/report/history.json` re-runs the checkers on a saved history.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { KvHistory } from './checker/kv-history.js';
import { BANK_GUARANTEE } from './checker/bank.js';
import { LOCK_GUARANTEE } from './checker/lock.js';
import { checkLinearizable } from './checker/linearizable.js';
import { REVISION_ORDER_GUARANTEE, checkRevisionOrder } from './checker/revision-order.js';
import { checkWatches, describeWatchViolation } from './checker/watch.js';
import { reexecInNetns } from './cluster/netns.js';
import { registerModel } from './model/register.js';
import { KV_NEMESES } from './nemesis/kv-schedule.js';
import { parseNemeses } from './nemesis/parse-nemeses.js';
import { runKv } from './workload/kv-run.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seconds: { type: 'string', default: '30' },
    nodes: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '1' },
    clients: { type: 'string', default: '6' },
    watchers: { type: 'string', default: '3' },
    keys: { type: 'string', default: '3' },
    /** Clients moving money between accounts by transactions (the bank check); 0 for none. */
    bank: { type: 'string', default: '2' },
    locks: { type: 'string', default: '2' },
    /** Mean time between faults (each one waits at least 1 s after the previous one healed). */
    'gap-ms': { type: 'string', default: '2500' },
    /** 'serializable' reads may be stale by contract: such a run shows the checker catching stale reads. */
    reads: { type: 'string', default: 'linearizable' },
    /** The nemeses to draw from, comma-separated (kill, pause, watch, partition, transfer, member, long-partition) or 'all'. */
    faults: { type: 'string', default: 'all' },
    /** Run on the host's loopback and iptables (in chains of the run's own) instead of a namespace. */
    'host-net': { type: 'boolean', default: false },
    /** Re-run the checkers on a saved report/history.json instead of running a round. */
    check: { type: 'string' },
  },
});

if (values.check !== undefined) {
  const saved = JSON.parse(readFileSync(values.check, 'utf8'), (_k, v: unknown) => (v === 'Infinity' ? Infinity : v)) as { seed: number; history: KvHistory };
  const h = saved.history;
  const lin = checkLinearizable(registerModel, h.operations, (op) => op.key, { stepsMax: 50_000_000 });
  const watch = checkWatches(h);
  const order = checkRevisionOrder(h.operations);
  console.log(`SEED=${saved.seed} recheck: linearizable=${lin.verdict} revisions=${order.ok ? 'ok' : 'violated'} watch=${watch.ok ? 'ok' : 'violated'} ${JSON.stringify(watch.stats)}`);
  for (const v of order.violations) console.log(`[revision order] ${v}\n    guarantee: ${REVISION_ORDER_GUARANTEE}`);
  for (const p of lin.partitions) {
    console.log(`  key ${p.partition}: ${p.verdict} (${p.operations} ops, ${p.steps} steps)`);
    if (p.explanation !== undefined) console.log(p.explanation.replace(/^/gm, '    '));
  }
  for (const v of watch.violations.slice(0, 20)) console.log(describeWatchViolation(v));
  process.exit(lin.verdict === 'ok' && order.ok && watch.ok ? 0 : 1);
}

await reexecInNetns(import.meta.url, values['host-net']);
const nemeses = parseNemeses(values.faults, KV_NEMESES);
let failed = false;
const rounds = Number(values.rounds);
for (let r = 0; r < rounds; r++) {
  const seed = values.seed !== undefined ? Number(values.seed) + r : Math.floor(Math.random() * 2 ** 31);
  try {
    const res = await runKv({
      seed,
      nodes: Number(values.nodes),
      faultMs: Number(values.seconds) * 1000,
      meanFaultGapMs: Number(values['gap-ms']),
      clients: Number(values.clients),
      watchers: Number(values.watchers),
      keys: Number(values.keys),
      bankClients: Number(values.bank),
      lockClients: Number(values.locks),
      nemeses,
      healMs: 30_000,
      opTimeoutMs: 1500,
      reads: values.reads === 'serializable' ? 'serializable' : 'linearizable',
      stepsMax: 20_000_000,
      keepReport: true,
      log: (l) => console.log(l),
    });
    console.log(`SEED=${seed} ok=${res.ok} linearizable=${res.linearizable.verdict} revisions=${res.revisionOrder.ok ? 'ok' : 'violated'} watch=${res.watch.ok ? 'ok' : 'violated'} bank=${res.bank.ok ? 'ok' : 'violated'} lock=${res.lock.ok ? 'ok' : 'violated'} agree=${res.agreement.ok ? 'ok' : 'violated'} liveness=${res.livenessFailure ?? 'ok'}${res.nemesisFailure === undefined ? '' : ` nemesis=FAILED: ${res.nemesisFailure}`} ${JSON.stringify({ ...res.stats, ...res.watch.stats, bank: res.bank.stats, lock: res.lock.stats })}`);
    for (const p of res.linearizable.partitions) {
      console.log(`  key ${p.partition}: ${p.verdict} (${p.operations} ops, ${p.steps} steps)`);
      if (p.explanation !== undefined) console.log(p.explanation.replace(/^/gm, '    '));
    }
    for (const v of res.revisionOrder.violations) console.log(`[revision order] ${v}\n    guarantee: ${REVISION_ORDER_GUARANTEE}`);
    for (const v of res.watch.violations.slice(0, 20)) console.log(describeWatchViolation(v));
    for (const v of res.bank.violations.slice(0, 20)) console.log(`[bank] ${v}\n    guarantee: ${BANK_GUARANTEE}`);
    for (const v of res.lock.violations.slice(0, 20)) console.log(`[lock] ${v}\n    guarantee: ${LOCK_GUARANTEE}`);
    console.log(`  members at revision ${res.agreement.revision ?? '?'}: ${Object.entries(res.agreement.digests).map(([id, d]) => `${id} ${d.slice(0, 16)}`).join(', ')}${res.agreement.why === undefined ? '' : ` (${res.agreement.why})`}`);
    console.log(`report: ${res.reportDir}`);
    if (!res.ok) failed = true;
  } catch (err) {
    console.log(`SEED=${seed} error: ${err instanceof Error ? err.message : String(err)}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
