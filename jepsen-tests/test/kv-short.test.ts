// A short keeper round in `npm test`: clients doing reads, writes, cas and
// deletes through the HTTP API and watchers on the prefix, bank clients moving
// money between accounts by transactions, under kill -9,
// SIGSTOP/SIGCONT and watch blips (and on three nodes partitions,
// leader-transfer storms and membership changes); the history must be
// linearizable per key, every watch guarantee must hold, and the healed
// cluster must converge. Runs in a network namespace of its own when it can.
// Longer rounds: `npm run jepsen:kv -- --seconds 60 --nodes 3 --rounds 5`.
import assert from 'node:assert/strict';
import { describeWatchViolation } from '../checker/watch.js';
import { raftKeeperLanded } from '../cluster/keeper-cluster.js';
import { KV_NEMESES } from '../nemesis/kv-schedule.js';
import { runKv } from '../workload/kv-run.js';
import { isolatedTest } from './support/isolated-test.js';

isolatedTest('keeper linearizability and watch guarantees under faults (short round)', { file: import.meta.url }, async () => {
  // The same fault schedule on every `npm test` run, so a failure there replays with its faults;
  // drawing new schedules is the jepsen CLIs' job (random seeds). SEED=n runs another one.
  const seed = Number(process.env.SEED ?? 22);
  assert.ok(Number.isSafeInteger(seed), `SEED must be an integer, got ${process.env.SEED}`);
  const nodes = raftKeeperLanded() ? 3 : 1;
  const lines: string[] = [];
  const r = await runKv({
    seed,
    nodes,
    faultMs: 9000,
    meanFaultGapMs: 2000,
    clients: 4,
    watchers: 2,
    keys: 3,
    bankClients: 2,
    lockClients: 2,
    nemeses: new Set(KV_NEMESES.filter((k) => k !== 'long-partition')),
    healMs: 15_000,
    opTimeoutMs: 1500,
    reads: 'linearizable',
    stepsMax: 2_000_000,
    keepReport: false,
    log: (l) => lines.push(l),
  });
  const why = [
    ...lines,
    ...r.linearizable.partitions.map((p) => `key ${p.partition}: ${p.verdict} (${p.operations} ops)${p.explanation === undefined ? '' : `\n${p.explanation}`}`),
    ...r.revisionOrder.violations.map((v) => `[revision order] ${v}`),
    ...r.watch.violations.slice(0, 10).map(describeWatchViolation),
    ...r.bank.violations.slice(0, 10).map((v) => `[bank] ${v}`),
    `bank: ${JSON.stringify(r.bank.stats)}`,
    ...r.lock.violations.slice(0, 10).map((v) => `[lock] ${v}`),
    `lock: ${JSON.stringify(r.lock.stats)}`,
    `agreement: ${JSON.stringify(r.agreement)}`,
    `liveness: ${r.livenessFailure ?? 'ok'}`,
    `nemesis: ${r.nemesisFailure ?? 'ok'}`,
    `report: ${r.reportDir}`,
    `replay: SEED=${seed} node scripts/test.mjs kv-short`,
  ].join('\n');
  assert.equal(r.livenessFailure, undefined, why);
  assert.equal(r.nemesisFailure, undefined, why);
  assert.equal(r.linearizable.verdict, 'ok', why);
  assert.ok(r.revisionOrder.ok, why);
  assert.ok(r.watch.ok, why);
  assert.ok(r.bank.ok, why);
  assert.ok(r.agreement.ok, why);
  assert.ok(r.lock.ok, why);
  assert.ok(r.lock.stats.done > 0 && r.lock.stats.holders > 1, `the lock was not taken in turn with fenced writes: ${JSON.stringify(r.lock.stats)}\n${why}`);
  assert.ok(r.bank.stats.done > 0 && r.bank.stats.finalReads === 1, `the bank moved no money, or has no final read\n${why}`);
  const via = r.bank.stats.readsVia;
  assert.ok(via.get > 0 && via.txn > 0 && via.pages > 0 && via.transfer > 0, `the bank did not read every way (prefix read, read-only transaction, pages at one revision, a failed transfer's read): ${JSON.stringify(via)}\n${why}`);
  assert.ok(r.stats.okOps > 50, `the workload did too little: ${JSON.stringify(r.stats)}\n${why}`);
  assert.ok(r.watch.stats.events > 0, `the watchers saw nothing\n${why}`);
});
