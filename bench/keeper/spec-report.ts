// The spec run's figures (issue #5) and its report: a table with a column
// per system and the ratios longwire/etcd and longwire/zk, then issue #5's
// targets, each with the figures it was judged on and met / missed.
import { median, percentile, sorted } from '../lib/stats.js';
import { fmtInt, fmtMs, fmtRatio, fmtUs, renderTable } from '../lib/table.js';
import { fanoutFigures, phase, type FanoutFigures, type PhaseFigures } from './figures.js';
import type { KillOutcome } from './leader-kill.js';
import type { SpecSystemRun } from './spec-run.js';
import type { System } from './system.js';

export interface KillFigures {
  readonly kills: number;
  readonly recovered: number;
  readonly recoveriesMs: readonly number[];
  readonly medianMs: number;
  readonly maxMs: number;
  /** Kills where a writer hit its in-flight cap (the figure may be late). */
  readonly saturated: number;
  readonly errors: readonly string[];
}

export interface SpecFigures {
  readonly puts: readonly { readonly inFlight: number; readonly figures: PhaseFigures }[];
  readonly get: PhaseFigures;
  readonly watch: FanoutFigures;
  readonly kill: KillFigures | undefined;
}

export type SpecResults = Partial<Record<System, SpecFigures>>;

export function killFigures(outcomes: readonly KillOutcome[]): KillFigures {
  const ms = outcomes.flatMap((k) => (k.ok ? [k.recoveryMs] : []));
  return {
    kills: outcomes.length,
    recovered: ms.length,
    recoveriesMs: ms,
    medianMs: median(ms),
    maxMs: percentile(sorted(ms), 100),
    saturated: outcomes.filter((k) => k.ok && k.saturated).length,
    errors: outcomes.flatMap((k) => (k.ok ? [] : [k.error])),
  };
}

export function specFigures(runs: readonly SpecSystemRun[], kills: readonly KillOutcome[] | undefined): SpecFigures {
  const inFlights = runs[0]?.puts.map((p) => p.inFlight) ?? [];
  return {
    puts: inFlights.map((inFlight) => ({ inFlight, figures: phase(runs.flatMap((r) => r.puts.filter((p) => p.inFlight === inFlight).map((p) => p.run))) })),
    get: phase(runs.map((r) => r.get)),
    watch: fanoutFigures(runs.map((r) => r.watch)),
    kill: kills === undefined ? undefined : killFigures(kills),
  };
}

interface Row {
  readonly label: string;
  readonly of: (f: SpecFigures) => number;
  readonly fmt: (n: number) => string;
}

function rows(inFlights: readonly number[], getInFlight: number, watchers: number): Row[] {
  const out: Row[] = [];
  const pick = (f: SpecFigures, n: number): PhaseFigures | undefined => f.puts.find((p) => p.inFlight === n)?.figures;
  for (const n of inFlights) {
    out.push(
      { label: `put, ${n} in flight: ops/s`, of: (f) => pick(f, n)?.opsPerSec ?? NaN, fmt: fmtInt },
      { label: `put, ${n} in flight: latency p50`, of: (f) => pick(f, n)?.p50Ms ?? NaN, fmt: fmtMs },
      { label: `put, ${n} in flight: latency p99`, of: (f) => pick(f, n)?.p99Ms ?? NaN, fmt: fmtMs },
      { label: `put, ${n} in flight: server CPU per op`, of: (f) => pick(f, n)?.serverCpuUsPerOp ?? NaN, fmt: fmtUs },
      { label: `put, ${n} in flight: load generator CPU per op`, of: (f) => pick(f, n)?.clientCpuUsPerOp ?? NaN, fmt: fmtUs },
    );
  }
  out.push(
    { label: `linearizable get, ${getInFlight} in flight: ops/s`, of: (f) => f.get.opsPerSec, fmt: fmtInt },
    { label: `linearizable get, ${getInFlight} in flight: latency p50`, of: (f) => f.get.p50Ms, fmt: fmtMs },
    { label: `linearizable get, ${getInFlight} in flight: latency p99`, of: (f) => f.get.p99Ms, fmt: fmtMs },
    { label: `linearizable get, ${getInFlight} in flight: server CPU per op`, of: (f) => f.get.serverCpuUsPerOp, fmt: fmtUs },
    { label: `watch event (${watchers} watcher${watchers === 1 ? '' : 's'}): latency p50`, of: (f) => f.watch.p50Ms, fmt: fmtMs },
    { label: `watch event (${watchers} watcher${watchers === 1 ? '' : 's'}): latency p99`, of: (f) => f.watch.p99Ms, fmt: fmtMs },
    { label: 'leader kill -9 → next write: median', of: (f) => f.kill?.medianMs ?? NaN, fmt: fmtMs },
    { label: 'leader kill -9 → next write: max', of: (f) => f.kill?.maxMs ?? NaN, fmt: fmtMs },
  );
  return out;
}

function errorsCell(f: SpecFigures | undefined): string {
  if (f === undefined) return 'not run';
  const putErrors = f.puts.reduce((n, p) => n + p.figures.errors, 0);
  const k = f.kill;
  return `${putErrors} / ${f.get.errors} / ${f.watch.missed} / ${k === undefined ? '-' : `${k.recovered} of ${k.kills}`}`;
}

export function renderSpecReport(r: SpecResults, versions: Readonly<Record<string, string>>, inFlights: readonly number[], getInFlight: number, watchers: number): string {
  const headers = ['figure (3 members)', 'longwire', `etcd ${versions.etcd ?? ''}`.trim(), `ZooKeeper ${versions.zookeeper ?? ''}`.trim(), 'longwire/etcd', 'longwire/zk'];
  const cell = (f: SpecFigures | undefined, row: Row): string => (f === undefined ? 'not run' : row.fmt(row.of(f)));
  const ratio = (a: SpecFigures | undefined, b: SpecFigures | undefined, row: Row): string => (a === undefined || b === undefined ? '' : fmtRatio(row.of(a) / row.of(b)));
  const body = rows(inFlights, getInFlight, watchers).map((row) => [row.label, cell(r.longwire, row), cell(r.etcd, row), cell(r.zookeeper, row), ratio(r.longwire, r.etcd, row), ratio(r.longwire, r.zookeeper, row)]);
  body.push(['errors: put / get / watch missed / kills recovered', errorsCell(r.longwire), errorsCell(r.etcd), errorsCell(r.zookeeper), '', '']);
  return renderTable(headers, body);
}

const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'not judged (a system was not run)' : ok ? 'MET' : 'MISSED');

/** Issue #5's targets, judged on the busiest put phase and the kills. */
export function targetLines(r: SpecResults): string[] {
  const lw = r.longwire;
  if (lw === undefined) return ['targets: longwire was not run'];
  const top = lw.puts[lw.puts.length - 1];
  const at = (f: SpecFigures | undefined): PhaseFigures | undefined => f?.puts.find((p) => p.inFlight === top?.inFlight)?.figures;
  const [l, e, z] = [at(lw), at(r.etcd), at(r.zookeeper)];
  const out = [`targets (issue #5), at ${top?.inFlight ?? '?'} puts in flight:`];
  const vsEtcd = l !== undefined && e !== undefined ? l.opsPerSec / e.opsPerSec : undefined;
  const vsZk = l !== undefined && z !== undefined ? l.opsPerSec / z.opsPerSec : undefined;
  out.push(`  puts/s ≥ 2× etcd: ${vsEtcd === undefined ? '-' : fmtRatio(vsEtcd)} → ${verdict(vsEtcd === undefined ? undefined : vsEtcd >= 2)}`);
  out.push(`  puts/s ≥ 1× ZooKeeper: ${vsZk === undefined ? '-' : fmtRatio(vsZk)} → ${verdict(vsZk === undefined ? undefined : vsZk >= 1)}`);
  for (const [name, o] of [['etcd', e], ['ZooKeeper', z]] as const) {
    out.push(`  put p99 no worse than ${name}: ${l === undefined || o === undefined ? '-' : `${fmtMs(l.p99Ms)} vs ${fmtMs(o.p99Ms)}`} → ${verdict(l === undefined || o === undefined ? undefined : l.p99Ms <= o.p99Ms)}`);
  }
  const k = lw.kill;
  out.push(
    k === undefined
      ? '  leader-kill recovery < 500 ms: not run (--kills 0)'
      : `  leader-kill recovery < 500 ms: median ${fmtMs(k.medianMs)}, max ${fmtMs(k.maxMs)} over ${k.recovered} of ${k.kills} kills → ${verdict(k.recovered === k.kills && k.maxMs < 500)} (max), ${verdict(k.recovered === k.kills && k.medianMs < 500)} (median)`,
  );
  return out;
}

/**
 * The busiest put phase round by round, with the ratios of each round's own
 * runs: the pooled figures above hide how far rounds on a shared machine
 * spread.
 */
export function roundLines(runs: Partial<Record<System, readonly SpecSystemRun[]>>, inFlight: number): string[] {
  const rate = (system: System, i: number): number | undefined => {
    const run = runs[system]?.[i]?.puts.find((p) => p.inFlight === inFlight)?.run;
    return run === undefined ? undefined : phase([run]).opsPerSec;
  };
  const rounds = runs.longwire?.length ?? 0;
  if (rounds < 2) return [];
  const out = [`puts/s at ${inFlight} in flight, round by round:`];
  for (let i = 0; i < rounds; i++) {
    const [l, e, z] = [rate('longwire', i), rate('etcd', i), rate('zookeeper', i)];
    const parts = [`longwire ${l === undefined ? '-' : fmtInt(l)}`, `etcd ${e === undefined ? '-' : fmtInt(e)}`, `ZooKeeper ${z === undefined ? '-' : fmtInt(z)}`];
    if (l !== undefined && e !== undefined) parts.push(`longwire/etcd ${fmtRatio(l / e)}`);
    if (l !== undefined && z !== undefined) parts.push(`longwire/zk ${fmtRatio(l / z)}`);
    out.push(`  round ${i + 1}: ${parts.join(', ')}`);
  }
  return out;
}

/** Every kill's recovery per system, the killed and the new leader, and anything that did not recover. */
export function killLines(kills: Partial<Record<System, readonly KillOutcome[]>>): string[] {
  const out: string[] = [];
  for (const [system, list] of Object.entries(kills)) {
    const parts = list.map((k) => (k.ok ? `${fmtMs(k.recoveryMs)}${k.saturated ? ' (a writer hit its in-flight cap)' : ''}` : `failed: ${k.error}`));
    out.push(`leader kills, ${system}: ${parts.join(', ')}`);
  }
  return out;
}
