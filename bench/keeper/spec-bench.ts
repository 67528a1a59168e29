// The spec run (`npm run bench:keeper -- --spec`, issue #5): every system as
// 3 members, the spec load (spec-run.ts) in rounds with the systems' order
// rotating, then the leader kills — each on a freshly started cluster, the
// systems taking turns — and the report with the targets.
import { protocolNotes, type Options } from './options.js';
import { KILL_CONCURRENCY, killLeaderOnce, type KillOutcome } from './leader-kill.js';
import { runSpecSystem, specConcurrency, type SpecSystemRun } from './spec-run.js';
import { killLines, renderSpecReport, roundLines, specFigures, targetLines, type SpecResults } from './spec-report.js';
import type { KvTarget, System } from './system.js';

export type StartTarget = (system: System, nodes: number, concurrency: number) => Promise<KvTarget>;

const MEMBERS = 3;

export interface SpecOutcome {
  readonly lines: readonly string[];
  readonly json: unknown;
}

export function specNotes(o: Options): string[] {
  return [
    `load: 3 members each; closed loops of ${o.putConcurrencies.join(', ')} puts in flight and ${o.concurrency} linearizable gets in flight, ${o.valueBytes}-byte values over ${o.keys} keys,`,
    `  at most ${o.ops} operations or ${o.seconds} s per phase after an unmeasured warm-up; load worker w talks to member w mod 3; ${o.rounds} round(s), the systems' order rotating`,
    `watch: ${o.watchers} watcher(s) on one key, up to ${o.watchRounds} puts one at a time through member 1, latency = put sent → watcher has the value`,
    `leader kill: ${o.kills} per system, each on a fresh cluster: writers on both surviving members send a put every 10 ms (≤ 200 unanswered each) for 1 s,`,
    '  then kill -9 of the leader process (the leader as the system reports it); figure = first success of a put sent after the kill − the kill',
    ...protocolNotes(o),
    'linearizable reads: longwire a range call (wire) or GET /v1/kv/<key> (http), default consistency; etcd /v3/kv/range or KV.Range (not serializable); ZooKeeper sync + getData; all three fsync their log before answering a write',
    'ratios are longwire ÷ the other: above 1 is better for longwire in ops/s, worse in latency, CPU and recovery time; server CPU = all members, all threads;',
    'load generator CPU = the bench process (every client), on the same cores: a CPU-bound phase runs at most cores ÷ (server + load generator CPU per op)',
  ];
}

export async function runSpecBench(o: Options, versions: Readonly<Record<string, string>>, start: StartTarget, log: (s: string) => void): Promise<SpecOutcome> {
  const runs: Partial<Record<System, SpecSystemRun[]>> = {};
  for (let round = 1; round <= o.rounds; round++) {
    const k = (round - 1) % o.systems.length;
    const order = [...o.systems.slice(k), ...o.systems.slice(0, k)];
    for (const system of order) {
      log(`spec round ${round}/${o.rounds}: ${system} starting …`);
      const target = await start(system, MEMBERS, specConcurrency(o));
      log(`${system}: up (pids ${target.pids.join(', ')})`);
      try {
        (runs[system] ??= []).push(await runSpecSystem(target, o, log));
      } finally {
        await target.close();
      }
    }
  }
  const kills: Partial<Record<System, KillOutcome[]>> = {};
  for (let rep = 1; rep <= o.kills; rep++) {
    const k = (rep - 1) % o.systems.length;
    for (const system of [...o.systems.slice(k), ...o.systems.slice(0, k)]) {
      const target = await start(system, MEMBERS, KILL_CONCURRENCY);
      try {
        const outcome = await killLeaderOnce(target, MEMBERS, o.valueBytes);
        log(`${system}: leader kill ${rep}/${o.kills}: ${outcome.ok ? `next write after ${outcome.recoveryMs.toFixed(0)} ms (killed member ${outcome.killedMember + 1}, new leader ${outcome.newLeader === undefined ? '?' : outcome.newLeader + 1})` : outcome.error}`);
        (kills[system] ??= []).push(outcome);
      } finally {
        await target.close();
      }
    }
  }
  const results: SpecResults = {};
  for (const system of o.systems) {
    const r = runs[system];
    if (r !== undefined) results[system] = specFigures(r, o.kills > 0 ? (kills[system] ?? []) : undefined);
  }
  const errors: string[] = [];
  for (const [system, f] of Object.entries(results)) {
    for (const p of f.puts) if (p.figures.firstError !== undefined) errors.push(`${system} put at ${p.inFlight}: ${p.figures.errors} errors, first: ${p.figures.firstError}`);
    if (f.get.firstError !== undefined) errors.push(`${system} get: ${f.get.errors} errors, first: ${f.get.firstError}`);
  }
  const busiest = o.putConcurrencies[o.putConcurrencies.length - 1] ?? 0;
  const perRound = roundLines(runs, busiest);
  const lines = [
    renderSpecReport(results, versions, o.putConcurrencies, o.concurrency, o.watchers),
    '',
    ...targetLines(results),
    ...(perRound.length > 0 ? ['', ...perRound] : []),
    '',
    ...killLines(kills),
    ...(errors.length > 0 ? ['', ...errors] : []),
  ];
  return { lines, json: { results, kills } };
}
