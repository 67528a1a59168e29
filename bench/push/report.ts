// Turns fan-out and unicast results into the summary rows (with ratios to the
// bare ws baseline and the targets) printed as a table and kept in the JSON.
import { fmtBytes, fmtInt, fmtMs, fmtRatio, fmtUs, renderTable } from '../lib/table.js';
import { median, percentile, sorted } from '../lib/stats.js';
import type { FanoutResult } from './fanout.js';
import type { UnicastRun } from './unicast.js';

export interface UnicastSummary {
  readonly label: string;
  readonly pushed: number;
  readonly received: number;
  readonly pushErrors: number;
  readonly cpuUsPerMsg: number;
  /** All received / all slice time. */
  readonly msgsPerSec: number;
  /** Median of the per-slice rates: less swayed by a burst of other load. */
  readonly medianSliceMsgsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export interface Row {
  readonly benchmark: string;
  readonly size: string;
  readonly baseline: string;
  readonly longwire: string;
  readonly ratio: number;
  /** e.g. '≤ 1.3×'; empty when the row has no target. */
  readonly target: string;
  readonly met: boolean | undefined;
}

export function summarizeUnicast(label: string, runs: readonly UnicastRun[]): UnicastSummary {
  const all = new Float64Array(runs.reduce((a, r) => a + r.latencies.length, 0));
  let at = 0;
  for (const r of runs) {
    all.set(r.latencies, at);
    at += r.latencies.length;
  }
  const asc = sorted(all);
  const received = runs.reduce((a, r) => a + r.received, 0);
  const spanMs = runs.reduce((a, r) => a + r.spanMs, 0);
  return {
    label,
    pushed: runs.reduce((a, r) => a + r.pushed, 0),
    received,
    pushErrors: runs.reduce((a, r) => a + r.pushErrors, 0),
    cpuUsPerMsg: runs.reduce((a, r) => a + r.cpuUsPerMsg * r.received, 0) / received,
    msgsPerSec: received / (spanMs / 1000),
    medianSliceMsgsPerSec: median(runs.flatMap((r) => r.sliceMsgsPerSec)),
    p50Ms: percentile(asc, 50),
    p99Ms: percentile(asc, 99),
    p999Ms: percentile(asc, 99.9),
    maxMs: asc.length === 0 ? NaN : (asc[asc.length - 1] ?? NaN),
  };
}

export function fanoutRows(bare: FanoutResult, lw: FanoutResult): Row[] {
  const rows: Row[] = [];
  let before = 0;
  for (const b of bare.steps) {
    const l = lw.steps.find((s) => s.connections === b.connections);
    if (l === undefined) continue;
    const size = fmtInt(b.connections);
    const added = b.connections - before;
    before = b.connections;
    const rate = (ms: number): number => added / (ms / 1000);
    rows.push({ benchmark: `connect + hello + bind: connections/s (${fmtInt(added)} added)`, size, baseline: `${fmtInt(rate(b.connectMs))}/s`, longwire: `${fmtInt(rate(l.connectMs))}/s`, ratio: rate(l.connectMs) / rate(b.connectMs), target: '', met: undefined });
    const rss = l.idle.rssPerConnBytes / b.idle.rssPerConnBytes;
    rows.push({ benchmark: 'idle: RSS per connection', size, baseline: fmtBytes(b.idle.rssPerConnBytes), longwire: fmtBytes(l.idle.rssPerConnBytes), ratio: rss, target: '≤ 1.3×', met: rss <= 1.3 });
    const heap = l.idle.heapPerConnBytes / b.idle.heapPerConnBytes;
    rows.push({ benchmark: 'idle: heap per connection', size, baseline: fmtBytes(b.idle.heapPerConnBytes), longwire: fmtBytes(l.idle.heapPerConnBytes), ratio: heap, target: '≤ 1.3×', met: heap <= 1.3 });
    const cpuIdle = l.idle.cpuMsPerSec / b.idle.cpuMsPerSec;
    const fmtI = (n: number, empty: number): string => `${n.toFixed(1)} ms/s (empty ${empty.toFixed(1)})`;
    rows.push({ benchmark: 'idle: server CPU (pings every 20 s)', size, baseline: fmtI(b.idle.cpuMsPerSec, bare.emptyCpuMsPerSec), longwire: fmtI(l.idle.cpuMsPerSec, lw.emptyCpuMsPerSec), ratio: cpuIdle, target: '', met: undefined });
    rows.push({ benchmark: 'idle: RSS total (empty)', size, baseline: `${fmtBytes(b.idle.rssBytes)} (${fmtBytes(bare.empty.rssBytes)})`, longwire: `${fmtBytes(l.idle.rssBytes)} (${fmtBytes(lw.empty.rssBytes)})`, ratio: l.idle.rssBytes / b.idle.rssBytes, target: '', met: undefined });
    const bc = l.broadcast.deliveriesPerSec / b.broadcast.deliveriesPerSec;
    const fmtB = (p: typeof b.broadcast): string => `${fmtInt(p.deliveriesPerSec)}/s (${fmtMs(p.medianMs)}; best ${fmtMs(p.bestMs)})${p.missing > 0 ? ` ${p.missing} missing` : ''}`;
    rows.push({ benchmark: 'broadcast 256 B: deliveries/s (median time; best)', size, baseline: fmtB(b.broadcast), longwire: fmtB(l.broadcast), ratio: bc, target: '≥ 0.9×', met: bc >= 0.9 && l.broadcast.missing === 0 });
    const bcCpu = l.broadcast.netCpuUsPerDelivery / b.broadcast.netCpuUsPerDelivery;
    const fmtC = (p: typeof b.broadcast): string => `${fmtUs(p.netCpuUsPerDelivery)} (raw ${fmtUs(p.cpuUsPerDelivery)})`;
    rows.push({ benchmark: 'broadcast 256 B: server CPU per delivery, net of idle', size, baseline: fmtC(b.broadcast), longwire: fmtC(l.broadcast), ratio: bcCpu, target: '≤ 1.11× (1/0.9)', met: bcCpu <= 1 / 0.9 });
  }
  return rows;
}

export function unicastRows(bare: UnicastSummary, lws: readonly UnicastSummary[], clients: number): Row[] {
  const rows: Row[] = [];
  const size = fmtInt(clients);
  const lat = (s: UnicastSummary): string => `${fmtMs(s.p50Ms)} / ${fmtMs(s.p99Ms)}`;
  const lost = (s: UnicastSummary): string => (s.received < s.pushed ? ` (${s.pushed - s.received} not received)` : '');
  for (const l of lws) {
    const r = l.msgsPerSec / bare.msgsPerSec;
    const tput = (s: UnicastSummary): string => `${fmtInt(s.msgsPerSec)} (median slice ${fmtInt(s.medianSliceMsgsPerSec)})${lost(s)}`;
    rows.push({ benchmark: `unicast qos 1 (${l.label}): msgs/s`, size, baseline: tput(bare), longwire: tput(l), ratio: r, target: '≥ 0.5×', met: r >= 0.5 && l.received === l.pushed && l.pushErrors === 0 });
    const cpu = l.cpuUsPerMsg / bare.cpuUsPerMsg;
    rows.push({ benchmark: `unicast qos 1 (${l.label}): server CPU per message`, size, baseline: fmtUs(bare.cpuUsPerMsg), longwire: fmtUs(l.cpuUsPerMsg), ratio: cpu, target: '≤ 2× (1/0.5)', met: cpu <= 2 });
    rows.push({ benchmark: `unicast qos 1 (${l.label}): latency p50 / p99 (ratio of p99)`, size, baseline: lat(bare), longwire: lat(l), ratio: l.p99Ms / bare.p99Ms, target: '', met: undefined });
  }
  return rows;
}

export function renderRows(rows: readonly Row[]): string {
  return renderTable(
    ['benchmark', 'size', 'bare ws', 'longwire', 'ratio', 'target', 'met'],
    rows.map((r) => [r.benchmark, r.size, r.baseline, r.longwire, fmtRatio(r.ratio), r.target, r.met === undefined ? '' : r.met ? 'yes' : 'NO']),
  );
}
