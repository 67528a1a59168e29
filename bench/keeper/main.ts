// `npm run bench:keeper`: longwire's keeper against etcd 3.4 and ZooKeeper 3.8
// in the same run on this machine — put throughput and latency, linearizable
// reads, watch fan-out — with 1 and 3 members each, the same closed-loop load
// against each, and the ratios longwire/etcd and longwire/zk. Figures, not a
// test: exit 0 whatever the figures, 1 on failure. Every server runs on
// 127.0.0.1 in a temp dir and is stopped by PID at the end (also on failure or
// Ctrl-C); etcd and ZooKeeper come from Debian packages (bench:keeper:deps).
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { installReaper, killAll } from '../lib/reaper.js';
import { checkDeps, MissingDeps } from './deps.js';
import { etcdTarget } from './etcd-target.js';
import { etcdGrpcTarget } from './etcd-grpc-target.js';
import { longwireTarget } from './longwire-target.js';
import { parseOptions, protocolNotes, type Options } from './options.js';
import { summarize } from './figures.js';
import { errorNotes, renderReport, roundLines, type Results, type RoundResults, type SizeResults } from './report.js';
import { runSystem, type SystemRun } from './run-system.js';
import { runSpecBench, specNotes, type StartTarget } from './spec-bench.js';
import type { KvTarget, System } from './system.js';
import { zkTarget } from './zk-target.js';

const t0 = Date.now();
function log(s: string): void {
  process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${s}\n`);
}

type Start = (nodes: number, concurrency: number, cpuProf?: string) => Promise<KvTarget>;

/** Each system's target, by the client paths the options chose. */
function starts(o: Options): Record<System, Start> {
  return {
    longwire: (nodes, concurrency, cpuProf) => longwireTarget(nodes, concurrency, o.longwireTransport, cpuProf),
    etcd: o.etcdProtocol === 'grpc' ? etcdGrpcTarget : etcdTarget,
    zookeeper: zkTarget,
  };
}

function git(...args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8', timeout: 5000 }).trim();
  } catch {
    return 'unknown';
  }
}

function notes(o: Options): string[] {
  return [
    `load: the same for every system: ${o.concurrency} operations in flight (closed loop), ${o.valueBytes}-byte values over ${o.keys} keys, at most ${o.ops} operations or ${o.seconds} s per phase, after an unmeasured warm-up; load worker w talks to member w mod n`,
    `rounds: ${o.rounds} per cluster size, each system started afresh per round, the order rotating; the table pools the rounds (operations ÷ time, percentiles over all samples)`,
    ...protocolNotes(o),
    'linearizable reads: longwire a range call (wire) or GET /v1/kv/<key> (http), default consistency; etcd /v3/kv/range or KV.Range (not serializable); ZooKeeper sync + getData on the same session',
    `watch fan-out: ${o.watchers} watchers (spread over the members, one connection or session each), up to ${o.watchRounds} puts per round one at a time through member 1, latency = put sent → watcher has the value; ZooKeeper's watch fires once and is set again by the getData that reads the value`,
    'durability: all three fsync their log before a write is answered (longwire: the Raft log, always; etcd: its WAL, default; ZooKeeper: forceSync=yes, default)',
    'ratios are longwire ÷ the other: above 1 is better for longwire in ops/s, worse in latency and CPU; server CPU = all members, all threads;',
    'load generator CPU = the bench process (every client), on the same cores: a CPU-bound phase runs at most cores ÷ (server + load generator CPU per op)',
    `the servers and the load generator share this machine's ${cpus().length} cores, one system at a time`,
  ];
}

async function main(): Promise<void> {
  installReaper();
  const o = parseOptions(process.argv.slice(2));
  const versions = checkDeps(o.systems);
  const startedAt = new Date();
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryBytes: totalmem(),
    kernel: release(),
    node: process.version,
    loadavg: loadavg(),
    commit: git('rev-parse', '--short', 'HEAD'),
    uncommitted: git('status', '--porcelain', '--', 'node', 'keeper', 'raft') === '' ? 'none in node/, keeper/, raft/' : 'yes, in node/, keeper/ or raft/',
  };
  const mode = `${o.spec ? ' --spec' : ''}${o.quick ? ' (quick)' : ''}`;
  log(`bench:keeper${mode}: ${o.systems.join(', ')} at ${o.nodes.join(' and ')} member(s); ${JSON.stringify(versions)}; load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const header =
    `longwire bench:keeper${mode} — ${startedAt.toISOString()}, ${machine.cores} × ${machine.cpu}, node ${process.version}, ` +
    `commit ${machine.commit} (uncommitted changes: ${machine.uncommitted}), load average at start ${machine.loadavg.map((x) => x.toFixed(1)).join(' ')}`;
  const out = resolve(o.json);
  const save = async (lines: readonly string[], notesUsed: readonly string[], data: unknown): Promise<void> => {
    process.stdout.write('\n' + lines.join('\n') + '\n');
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, JSON.stringify({ startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), machine: { ...machine, loadavgAtEnd: loadavg() }, versions, options: o, notes: notesUsed, ...(data as object) }, null, 2) + '\n');
    process.stdout.write(`\nJSON: ${out}  (took ${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  };
  if (o.spec) {
    const start: StartTarget = (system, nodes, concurrency) => starts(o)[system](nodes, concurrency, o.cpuProf);
    const spec = await runSpecBench(o, versions, start, log);
    const n = specNotes(o);
    await save([header, '', ...n, '', ...spec.lines], n, spec.json);
    return;
  }
  const sizes: SizeResults[] = [];
  for (const nodes of o.nodes) {
    const runs: Partial<Record<System, SystemRun[]>> = {};
    const rounds: RoundResults[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      // Rotate who goes first, so that a slow stretch of the shared machine does not always hit the same system.
      const k = (round - 1) % o.systems.length;
      const order = [...o.systems.slice(k), ...o.systems.slice(0, k)];
      const results: Results = {};
      for (const system of order) {
        log(`${nodes} member(s), round ${round}/${o.rounds}: ${system} starting …`);
        const target = await starts(o)[system](nodes, o.concurrency, o.cpuProf);
        log(`${system}: up (pids ${target.pids.join(', ')})`);
        try {
          const run = await runSystem(target, o, log);
          (runs[system] ??= []).push(run);
          results[system] = summarize([run]);
        } finally {
          await target.close();
        }
      }
      rounds.push({ round, order, results });
    }
    const results: Results = {};
    for (const system of o.systems) {
      const r = runs[system];
      if (r !== undefined) results[system] = summarize(r);
    }
    sizes.push({ nodes, results, rounds });
  }
  const lines = [header, '', ...notes(o), '', renderReport(sizes, versions, o.watchers), '', ...roundLines(sizes)];
  const errs = errorNotes(sizes);
  if (errs.length > 0) lines.push('', ...errs);
  await save(lines, notes(o), { sizes });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof MissingDeps) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`bench:keeper failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    killAll();
    process.exit(1);
  },
);
