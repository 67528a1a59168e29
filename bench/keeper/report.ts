// The side-by-side table of bench:keeper: one row per figure and cluster
// size, a column per system, and the ratios longwire/etcd and longwire/zk.
import { fmtInt, fmtMs, fmtRatio, fmtUs, renderTable } from '../lib/table.js';
import type { PhaseFigures, SystemFigures } from './figures.js';
import type { System } from './system.js';

export type Results = Partial<Record<System, SystemFigures>>;

export interface RoundResults {
  readonly round: number;
  readonly order: readonly System[];
  readonly results: Results;
}

export interface SizeResults {
  readonly nodes: number;
  /** Over all rounds. */
  readonly results: Results;
  readonly rounds: readonly RoundResults[];
}

interface Figure {
  readonly label: string;
  readonly of: (f: SystemFigures) => number;
  readonly fmt: (n: number) => string;
}

function phaseFigures(name: string, pick: (f: SystemFigures) => PhaseFigures): Figure[] {
  return [
    { label: `${name}: ops/s`, of: (f) => pick(f).opsPerSec, fmt: fmtInt },
    { label: `${name}: latency p50`, of: (f) => pick(f).p50Ms, fmt: fmtMs },
    { label: `${name}: latency p99`, of: (f) => pick(f).p99Ms, fmt: fmtMs },
    { label: `${name}: server CPU per op`, of: (f) => pick(f).serverCpuUsPerOp, fmt: fmtUs },
    { label: `${name}: load generator CPU per op`, of: (f) => pick(f).clientCpuUsPerOp, fmt: fmtUs },
  ];
}

function figuresFor(watchers: number): Figure[] {
  return [
    ...phaseFigures('put', (f) => f.put),
    ...phaseFigures('linearizable get', (f) => f.get),
    { label: `watch fan-out to ${watchers}: latency p50`, of: (f) => f.fanout.p50Ms, fmt: fmtMs },
    { label: `watch fan-out to ${watchers}: latency p99`, of: (f) => f.fanout.p99Ms, fmt: fmtMs },
    { label: `watch fan-out to ${watchers}: all have it (median round)`, of: (f) => f.fanout.allSeenMedianMs, fmt: fmtMs },
  ];
}

const cell = (f: SystemFigures | undefined, fig: Figure): string => (f === undefined ? 'not run' : fig.fmt(fig.of(f)));
const ratio = (a: SystemFigures | undefined, b: SystemFigures | undefined, fig: Figure): string => (a === undefined || b === undefined ? '' : fmtRatio(fig.of(a) / fig.of(b)));

/** Errors and misses per system: put errors / get errors / watch deliveries missed. */
function failures(f: SystemFigures | undefined): string {
  return f === undefined ? 'not run' : `${f.put.errors} / ${f.get.errors} / ${f.fanout.missed}`;
}

export function renderReport(sizes: readonly SizeResults[], versions: Readonly<Record<string, string>>, watchers: number): string {
  const headers = ['figure', 'members', 'longwire', `etcd ${versions.etcd ?? ''}`.trim(), `ZooKeeper ${versions.zookeeper ?? ''}`.trim(), 'longwire/etcd', 'longwire/zk'];
  const rows: string[][] = [];
  for (const { nodes, results: r } of sizes) {
    for (const fig of figuresFor(watchers)) {
      rows.push([fig.label, String(nodes), cell(r.longwire, fig), cell(r.etcd, fig), cell(r.zookeeper, fig), ratio(r.longwire, r.etcd, fig), ratio(r.longwire, r.zookeeper, fig)]);
    }
    rows.push(['errors: put / get / watch missed', String(nodes), failures(r.longwire), failures(r.etcd), failures(r.zookeeper), '', '']);
  }
  return renderTable(headers, rows);
}

/** First errors seen, per system and size, so a non-zero error count has its cause next to it. */
export function errorNotes(sizes: readonly SizeResults[]): string[] {
  const out: string[] = [];
  for (const { nodes, results } of sizes) {
    for (const [system, f] of Object.entries(results)) {
      for (const [phase, p] of [['put', f.put], ['get', f.get]] as const) {
        if (p.firstError !== undefined) out.push(`${system} (${nodes} members) ${phase}: ${p.errors} errors, first: ${p.firstError}`);
      }
    }
  }
  return out;
}

/** One line per round and system: how much the figures moved between rounds on this machine. */
export function roundLines(sizes: readonly SizeResults[]): string[] {
  const out: string[] = [];
  for (const { nodes, rounds } of sizes) {
    for (const r of rounds) {
      const parts = r.order.map((system) => {
        const f = r.results[system];
        if (f === undefined) return `${system} not run`;
        return `${system} put ${fmtInt(f.put.opsPerSec)}/s, get ${fmtInt(f.get.opsPerSec)}/s, fan-out p50 ${fmtMs(f.fanout.p50Ms)}`;
      });
      out.push(`${nodes} member(s), round ${r.round}: ${parts.join('; ')}`);
    }
  }
  return out;
}
