// The keeper workload on real nodes: clients doing random reads, writes, cas
// and deletes on a few keys through random nodes' APIs, watchers on the key
// prefix, a seeded nemesis (kill -9 + restart, SIGSTOP/SIGCONT, watch blips,
// and with more than one node partitions, leader-transfer storms and
// membership changes), then a healed liveness
// phase that must converge within a bound (every node ready, a write through
// each node, a final linearizable read, every watcher caught up), then the
// linearizability and watch checkers. Beside them, bank clients move money
// between accounts with transactions (bank-client.ts), checked for atomicity
// by checker/bank.ts.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { checkBank, type BankCheckResult, type BankRead, type BankTransfer } from '../checker/bank.js';
import type { FinalRead, KvHistory, KvOperation, WatchStream } from '../checker/kv-history.js';
import { checkLinearizable, type LinearizabilityResult } from '../checker/linearizable.js';
import { checkRevisionOrder, type RevisionOrderResult } from '../checker/revision-order.js';
import { checkWatches, type WatchCheckResult } from '../checker/watch.js';
import { KeeperCluster } from '../cluster/keeper-cluster.js';
import { networkMode } from '../cluster/netns.js';
import { Rng } from '../cluster/rng.js';
import { registerModel } from '../model/register.js';
import { formatKvSchedule, makeKvSchedule, resolvePartition, type KvFault, type KvNemesis } from '../nemesis/kv-schedule.js';
import { runMemberChange } from '../nemesis/member-change.js';
import type { NemesisEvent } from '../nemesis/nemesis-event.js';
import { Partitioner, partitionsAvailable, usableNemeses } from '../nemesis/partition.js';
import { runTransferStorm } from '../nemesis/transfer-storm.js';
import { renderKvTimeline } from '../report/kv-timeline.js';
import { httpJson, kvClientLoop, kvPath, runKvOp, type KvTarget, type ReadConsistency } from './kv-client.js';
import { KvWatcher } from './kv-watcher.js';
import { BANK_PREFIX, bankClientLoop, openAccounts, readBank } from './bank-client.js';
import { checkAgreement, type AgreementResult } from './kv-agreement.js';
import { lockClientLoop } from './lock-client.js';
import { checkLock, type LockCheckResult, type LockWrite } from '../checker/lock.js';

export interface KvRunOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly faultMs: number;
  readonly meanFaultGapMs: number;
  readonly clients: number;
  readonly watchers: number;
  readonly keys: number;
  /** Clients moving money between BANK_ACCOUNTS accounts by transactions (0: no bank). */
  readonly bankClients: number;
  /** Clients taking the keeper client's lock and making fenced increments (0: none). */
  readonly lockClients: number;
  /** The nemeses the schedule draws from (partitions only when iptables is usable). */
  readonly nemeses: ReadonlySet<KvNemesis>;
  /** Bound on the healed phase: every node ready, writes through each, final read, watchers caught up. */
  readonly healMs: number;
  readonly opTimeoutMs: number;
  /** The clients' read consistency; 'serializable' is for showing that the checker catches stale reads. */
  readonly reads: ReadConsistency;
  /** Linearizability search budget per key. */
  readonly stepsMax: number;
  /** Keep the report dir even when the run passed. */
  readonly keepReport: boolean;
  readonly log: (line: string) => void;
}

export interface KvRunResult {
  readonly seed: number;
  readonly schedule: readonly KvFault[];
  readonly partitions: boolean;
  readonly linearizable: LinearizabilityResult;
  /** The cross-key part: one store revision, unique per write and increasing in real time. */
  readonly revisionOrder: RevisionOrderResult;
  readonly watch: WatchCheckResult;
  readonly bank: BankCheckResult;
  readonly lock: LockCheckResult;
  /** The members' digests of their keys and values at one revision, after healing (kv-agreement.ts). */
  readonly agreement: AgreementResult;
  /** Undefined when the healed phase converged; else which step did not. */
  readonly livenessFailure: string | undefined;
  /** A fault that could not be carried out as an operator would (a removed member that did not come back). */
  readonly nemesisFailure: string | undefined;
  readonly stats: { readonly ops: number; readonly okOps: number; readonly unknownOps: number; readonly streams: number };
  readonly ok: boolean;
  /** The report dir (history, results, node logs); removed when the run passed unless keepReport. */
  readonly reportDir: string;
}

const ADMIN_TOKEN = 'jepsen-admin-token-0123456789';
const BANK_ACCOUNTS = 5;
const BANK_OPENING_BALANCE = 100;
/** Bound on opening the accounts before the faults start. */
const BANK_OPEN_MS = 20_000;
export const KEY_PREFIX = '/jepsen/';
/** Client ids of the liveness-phase writes (one per node). */
const LIVENESS_CLIENT_BASE = 90_000;
const FINAL_READ_CLIENT = 99_999;
/** Least time between one fault healing and the next starting. */
const FAULT_QUIET_MS = 1000;
/** Timeout of the GET /v1/cluster asked for the leader around a partition. */
const LEADER_QUERY_MS = 500;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runKv(o: KvRunOptions): Promise<KvRunResult> {
  const rng = new Rng(o.seed);
  const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const avail = o.nodes > 1 ? partitionsAvailable() : { ok: false as const, why: 'one node' };
  const { nemeses, partitions } = usableNemeses(o.nemeses, avail.ok);
  const schedule = makeKvSchedule(rng, { nodes: ids, durationMs: o.faultMs, meanGapMs: o.meanFaultGapMs, nemeses });
  o.log(
    `SEED=${o.seed} nodes=${o.nodes} faultMs=${o.faultMs} reads=${o.reads} clients=${o.clients} watchers=${o.watchers} keys=${o.keys} faults=${[...nemeses].join(',')}\nnetwork=${networkMode()} partitions=${partitions ? 'iptables' : `off (${avail.ok ? 'not asked for' : avail.why})`}\nschedule:\n${formatKvSchedule(schedule)}`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'longwire-jepsen-kv-'));
  const reportDir = join(dir, 'report');
  await mkdir(reportDir, { recursive: true });
  const cluster = new KeeperCluster({ dir, count: o.nodes, adminToken: ADMIN_TOKEN, ownUids: partitions });
  await cluster.create();
  const partitioner = partitions ? new Partitioner(cluster.nodes.map((n, i) => ({ id: n.spec.id, host: KeeperCluster.hostFor(i), uid: n.spec.uid ?? 0 }))) : undefined;
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;
  const stamp = (): string => `+${Math.round(now())}ms`;
  const operations: KvOperation[] = [];
  const watches: WatchStream[] = [];
  const watchers: KvWatcher[] = [];
  const nemesisEvents: NemesisEvent[] = [];
  let nemesisFailure: string | undefined;
  const keys = Array.from({ length: o.keys }, (_, i) => `${KEY_PREFIX}k${i}`);
  const accounts = o.bankClients > 0 ? Array.from({ length: BANK_ACCOUNTS }, (_, i) => `${BANK_PREFIX}a${i}`) : [];
  const bankReads: BankRead[] = [];
  const bankTransfers: BankTransfer[] = [];
  const lockWrites: LockWrite[] = [];
  const targets = (): KvTarget[] => cluster.nodes.map((n) => ({ id: n.spec.id, apiUrl: n.apiUrl }));
  let finalReadValue: FinalRead | undefined;
  let passed = false;
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
    o.log(`${stamp()} SIGINT: no more faults; healing, checking and reporting`);
  };
  process.once('SIGINT', onSigint);
  try {
    partitioner?.setup();
    await cluster.start();
    o.log(`${stamp()} cluster up: ${cluster.nodes.map((n) => `${n.spec.id}=${n.apiUrl}`).join(' ')}`);
    for (let w = 0; w < o.watchers; w++) {
      const watcher = new KvWatcher({ name: `w${w + 1}`, prefix: KEY_PREFIX, targets, adminToken: ADMIN_TOKEN, rng: new Rng(o.seed * 7 + w + 1), now, out: watches });
      watchers.push(watcher);
      watcher.start();
    }
    if (accounts.length > 0) {
      const bank = { accounts, targets, adminToken: ADMIN_TOKEN, rng: new Rng(o.seed * 13 + 5), opTimeoutMs: o.opTimeoutMs, now, reads: bankReads };
      await openAccounts({ ...bank, balance: BANK_OPENING_BALANCE, deadlineMs: now() + BANK_OPEN_MS });
      o.log(`${stamp()} bank: ${accounts.length} accounts of ${BANK_OPENING_BALANCE}`);
    }
    const faultStart = performance.now();
    const faultsOver = (): boolean => interrupted || performance.now() - faultStart >= o.faultMs;
    const clients = [
      ...Array.from({ length: o.clients }, (_, c) =>
        kvClientLoop({ clientId: c + 1, keys, targets, adminToken: ADMIN_TOKEN, rng: new Rng(o.seed * 31 + c + 1), until: faultsOver, opsMax: 1_000_000, opTimeoutMs: o.opTimeoutMs, reads: o.reads, now, out: operations }),
      ),
      ...Array.from({ length: o.bankClients }, (_, c) =>
        bankClientLoop({ clientId: 1000 + c + 1, accounts, targets, adminToken: ADMIN_TOKEN, rng: new Rng(o.seed * 37 + c + 1), until: faultsOver, opTimeoutMs: o.opTimeoutMs, now, reads: bankReads, transfers: bankTransfers }),
      ),
      ...Array.from({ length: o.lockClients }, (_, c) =>
        lockClientLoop({ clientId: 2000 + c + 1, targets, adminToken: ADMIN_TOKEN, rng: new Rng(o.seed * 41 + c + 1), until: faultsOver, opTimeoutMs: o.opTimeoutMs, now, writes: lockWrites }),
      ),
    ];

    // Safety phase: the faults, one after another.
    let lastHealed = performance.now();
    for (const f of schedule) {
      if (interrupted || faultsOver()) break;
      // A fault starts at its time, but never sooner than FAULT_QUIET_MS after the previous one healed
      // (a slow restart would otherwise chain kills back to back and the cluster would never serve).
      const wait = Math.max(faultStart + f.at - performance.now(), lastHealed + FAULT_QUIET_MS - performance.now());
      if (wait > 0) await sleep(wait);
      if (faultsOver()) break;
      const started = now();
      const logged = (label: string): void => {
        nemesisEvents.push({ kind: f.kind, label, start: started, end: now() });
      };
      switch (f.kind) {
        case 'kill-restart': {
          const id = f.leader ? ((await cluster.leader(LEADER_QUERY_MS)).leader ?? f.node) : f.node;
          o.log(`${stamp()} kill -9 ${id}${f.leader ? ' (leader)' : ''}`);
          await cluster.node(id).kill9();
          await sleep(f.downMs);
          await cluster.startNode(id);
          o.log(`${stamp()} ${id} restarted`);
          logged(`kill -9 ${id}${f.leader ? ' (leader)' : ''}, down ${f.downMs}ms`);
          break;
        }
        case 'pause': {
          const id = f.leader ? ((await cluster.leader(LEADER_QUERY_MS)).leader ?? f.node) : f.node;
          o.log(`${stamp()} SIGSTOP ${id}${f.leader ? ' (leader)' : ''}`);
          cluster.node(id).pause();
          await sleep(f.pauseMs);
          cluster.node(id).resume();
          logged(`SIGSTOP ${id}${f.leader ? ' (leader)' : ''} for ${f.pauseMs}ms`);
          o.log(`${stamp()} SIGCONT ${id}${o.nodes > 1 ? ` (leaders seen: ${(await cluster.leader(LEADER_QUERY_MS)).views})` : ''}`);
          break;
        }
        case 'watch-blip':
          for (let i = 0; i < f.streams && watchers.length > 0; i++) rng.pick(watchers).blip();
          logged(`closed ${f.streams} watch stream(s)`);
          break;
        case 'partition': {
          if (partitioner === undefined) break;
          const before = await cluster.leader(LEADER_QUERY_MS);
          const sides = resolvePartition(f, before.leader);
          partitioner.split(sides.left, sides.right);
          o.log(`${stamp()} partition [${sides.left.join(',')}] | [${sides.right.join(',')}] (leaders seen: ${before.views}): ${partitioner.describe()}`);
          await sleep(f.healMs);
          const during = await cluster.leader(LEADER_QUERY_MS);
          partitioner.heal();
          logged(`[${sides.left.join(',')}] | [${sides.right.join(',')}]`);
          o.log(`${stamp()} partition healed (leaders seen at its end: ${during.views})`);
          break;
        }
        case 'transfer-storm': {
          const up = (): { id: string; apiUrl: string }[] => cluster.nodes.filter((n) => n.running && !n.paused).map((n) => ({ id: n.spec.id, apiUrl: n.apiUrl }));
          const answers = await runTransferStorm(f, up, ADMIN_TOKEN, rng);
          logged(answers);
          o.log(`${stamp()} transfer storm: ${answers} (leaders seen: ${(await cluster.leader(LEADER_QUERY_MS)).views})`);
          break;
        }
        case 'member-change': {
          o.log(`${stamp()} membership change: ${f.leader ? 'the leader' : f.node}`);
          const r = await runMemberChange(f, cluster, ADMIN_TOKEN, rng, (l) => o.log(`${stamp()} ${l}`));
          logged(`remove, wipe and rejoin ${r.node}: ${r.kind} (${r.detail})`);
          o.log(`${stamp()} membership change of ${r.node}: ${r.kind} (${r.detail})`);
          if (r.kind === 'failed') nemesisFailure ??= `membership change of ${r.node}: ${r.detail}`;
          break;
        }
      }
      lastHealed = performance.now();
    }
    await Promise.all(clients);

    // Liveness phase: healed, and it must converge within healMs.
    partitioner?.heal();
    for (const n of cluster.nodes) n.resume();
    const healDeadline = performance.now() + o.healMs;
    const livenessFailure = await converge();
    for (const w of watchers) await w.stop();
    const agreement = livenessFailure === undefined ? await checkAgreement(await currentMembers(), ADMIN_TOKEN, o.opTimeoutMs, healDeadline + 10_000) : { ok: false, digests: {}, why: 'not checked: the cluster did not converge' };

    const finalRead = finalReadValue;
    const history: KvHistory = { operations, watches, finalRead };
    const linearizable = checkLinearizable(registerModel, operations, (op) => op.key, { stepsMax: o.stepsMax });
    const revisionOrder = checkRevisionOrder(operations);
    const watch = checkWatches(history);
    const bankHistory = { accounts, total: accounts.length * BANK_OPENING_BALANCE, reads: bankReads, transfers: bankTransfers };
    const bank = checkBank(bankHistory);
    const lock = checkLock(lockWrites);
    const stats = {
      ops: operations.length,
      okOps: operations.filter((x) => x.return !== Infinity).length,
      unknownOps: operations.filter((x) => x.return === Infinity).length,
      streams: watches.length,
    };
    passed = linearizable.verdict === 'ok' && revisionOrder.ok && watch.ok && bank.ok && lock.ok && agreement.ok && livenessFailure === undefined && nemesisFailure === undefined;
    await writeFile(
      join(reportDir, 'history.json'),
      JSON.stringify({ seed: o.seed, options: { ...o, nemeses: [...o.nemeses], log: undefined }, schedule, nemesis: nemesisEvents, history, bank: { accounts, reads: bankReads, transfers: bankTransfers } }, (_k, v: unknown) => (v === Infinity ? 'Infinity' : v), 1),
    );
    await writeFile(join(reportDir, 'result.json'), JSON.stringify({ seed: o.seed, passed, livenessFailure, nemesisFailure, stats, linearizable, revisionOrder, watch, bank, lock, agreement }, null, 1));
    await writeFile(join(reportDir, 'timeline.html'), renderKvTimeline({ seed: o.seed, history, nemesis: nemesisEvents, linearizable, revisionOrder, watch, bank: { history: bankHistory, result: bank }, livenessFailure: livenessFailure ?? nemesisFailure, ok: passed }));
    return { seed: o.seed, schedule, partitions, linearizable, revisionOrder, watch, bank, lock, agreement, livenessFailure, nemesisFailure, stats, ok: passed, reportDir };

    /** The keeper's members now (a member change may have removed one whose process still runs), with their API URLs. */
    async function currentMembers(): Promise<{ id: string; apiUrl: string }[]> {
      for (let attempt = 0; attempt < 50; attempt++) {
        const n = cluster.nodes.find((x) => x.running);
        const r = n === undefined ? undefined : await httpJson(`${n.apiUrl}/v1/cluster`, { method: 'GET', adminToken: ADMIN_TOKEN, timeoutMs: o.opTimeoutMs });
        const ids = r?.kind === 'answer' && r.status === 200 ? ((r.body as { members?: { id?: unknown }[] }).members ?? []).map((m) => m.id) : undefined;
        if (ids !== undefined) return cluster.nodes.filter((x) => ids.includes(x.spec.id)).map((x) => ({ id: x.spec.id, apiUrl: x.apiUrl }));
        await sleep(100);
      }
      return [];
    }

    async function converge(): Promise<string | undefined> {
      const left = (): number => healDeadline - performance.now();
      for (const n of cluster.nodes) {
        if (!n.running) {
          try {
            await cluster.startNode(n.spec.id);
          } catch (err) {
            return `${n.spec.id} did not restart: ${err instanceof Error ? err.message.slice(0, 500) : String(err)}`;
          }
        }
      }
      // A write through each node must succeed.
      for (const [i, n] of cluster.nodes.entries()) {
        let done = false;
        for (let attempt = 0; !done && left() > 0 && attempt < 1000; attempt++) {
          const key = keys[0] ?? `${KEY_PREFIX}k0`;
          const input = { op: 'write' as const, value: `live-${n.spec.id}-${attempt}` };
          const call = now();
          const out = await runKvOp({ id: n.spec.id, apiUrl: n.apiUrl }, key, input, ADMIN_TOKEN, Math.min(o.opTimeoutMs, Math.max(1, left())));
          if (out !== undefined) operations.push({ clientId: LIVENESS_CLIENT_BASE + i * 1000 + attempt, key, node: n.spec.id, input, call, output: out, return: out.kind === 'unknown' ? Infinity : now() });
          done = out?.kind === 'written';
          if (!done) await sleep(100);
        }
        if (!done) return `no write through ${n.spec.id} succeeded within ${o.healMs}ms of healing`;
      }
      // The final linearizable read of every workload key.
      for (let attempt = 0; finalReadValue === undefined && left() > 0 && attempt < 1000; attempt++) {
        const t = rng.pick(targets());
        const call = now();
        const r = await httpJson(`${t.apiUrl}${kvPath(KEY_PREFIX)}?prefix=true&consistency=linearizable`, { method: 'GET', adminToken: ADMIN_TOKEN, timeoutMs: Math.min(o.opTimeoutMs, Math.max(1, left())) });
        const ret = now();
        if (r.kind === 'answer' && r.status === 200 && typeof r.body === 'object' && r.body !== null) {
          // The route's answer shape (GET /v1/kv, routes-keeper.ts); a malformed one throws below and fails the run.
          const b = r.body as FinalRead;
          finalReadValue = { revision: b.revision, kvs: b.kvs.map((kv) => ({ key: kv.key, value: kv.value, modRevision: kv.modRevision })) };
          for (const key of keys) {
            const kv = finalReadValue.kvs.find((x) => x.key === key);
            operations.push({ clientId: FINAL_READ_CLIENT, key, node: t.id, input: { op: 'read' }, call, output: { kind: 'read', value: kv?.value ?? null, modRevision: kv?.modRevision ?? 0 }, return: ret });
          }
        } else {
          await sleep(100);
        }
      }
      if (finalReadValue === undefined) return `no final linearizable read succeeded within ${o.healMs}ms of healing`;
      // The final read of the bank's accounts.
      let bankRead = accounts.length === 0;
      for (let attempt = 0; !bankRead && left() > 0 && attempt < 1000; attempt++) {
        bankRead = (await readBank(rng.pick(targets()), { clientId: FINAL_READ_CLIENT, adminToken: ADMIN_TOKEN, opTimeoutMs: Math.min(o.opTimeoutMs, Math.max(1, left())), now, reads: bankReads, accounts }, { final: true })) !== undefined;
        if (!bankRead) await sleep(100);
      }
      if (!bankRead) return `no final read of the bank accounts succeeded within ${o.healMs}ms of healing`;
      // Every watcher catches up with the final read (events, or a progress at least every 5 s).
      const target = finalReadValue.revision;
      for (let i = 0; left() > 0 && i < 100_000; i++) {
        if (watchers.every((w) => w.lastRevision >= target)) return undefined;
        await sleep(100);
      }
      const behind = watchers.filter((w) => w.lastRevision < target).map((w) => `${w.name}@${w.lastRevision}`);
      return `watchers ${behind.join(', ')} did not reach revision ${target} within ${o.healMs}ms of healing`;
    }
  } catch (err) {
    throw new Error(`kv run failed (seed ${o.seed}): ${err instanceof Error ? err.message : String(err)}\nreport: ${reportDir}`, { cause: err });
  } finally {
    process.removeListener('SIGINT', onSigint);
    // Cleanup must not mask the run's own error.
    for (const w of watchers) await w.stop().catch(() => undefined);
    await cluster.stopAll().catch((err: unknown) => o.log(`cleanup: stopping nodes failed: ${String(err)}`));
    partitioner?.teardown();
    for (const n of cluster.nodes) await writeFile(join(reportDir, `${n.spec.id}.log`), n.log).catch(() => undefined);
    // Data dirs go; the report stays when the run failed or was asked for.
    for (const n of cluster.nodes) if (passed) await rm(n.spec.dataDir, { recursive: true, force: true });
    if (passed && !o.keepReport) await rm(dir, { recursive: true, force: true });
  }
}
