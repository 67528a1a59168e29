// The bench's figures: per mode throughput and p50/p99 round trip, the
// longwire/direct throughput ratio, a readable table and the JSON document
// written to .bench-out/upstream.json.
import { costFigures, type Cost, type CostFigures } from './cost.js';
import type { MergedResult } from './run-phase.js';
import type { WebhookStats } from './webhook-stats.js';

export const RATIO_TARGET = 0.5;

export interface Figures {
  readonly rps: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly mean_ms: number;
  readonly max_ms: number;
  readonly calls: number;
  readonly errors: Readonly<Record<string, number>>;
  /** CPU µs per call of each process; null where /proc is unavailable. */
  readonly cpu_us_per_call: CostFigures | null;
}

export interface RoundRow {
  readonly round: number;
  readonly mode: MergedResult['mode'];
  readonly figures: Figures;
}

export interface Report {
  readonly direct: Figures;
  readonly longwire: Figures;
  /** longwire rps / direct rps. */
  readonly ratio: number;
  readonly target: number;
  /** The ratio of each round on its own (the two targets ran back to back): how much the machine's noise moves it. */
  readonly roundRatios: readonly number[];
  readonly config: {
    readonly clients: number;
    readonly window: number;
    readonly concurrency: number;
    readonly generators: number;
    readonly rounds: number;
    readonly warmup_s: number;
    readonly measure_s: number;
    readonly cpus: number;
    readonly node: string;
  };
  readonly rounds: readonly RoundRow[];
  readonly longwireNotes: { readonly unanswered: number; readonly otherFrames: Readonly<Record<string, number>> };
  readonly webhook: WebhookStats | null;
  readonly at: string;
}

const round2 = (x: number): number => (Number.isFinite(x) ? Math.round(x * 100) / 100 : NaN);

export function roundRatios(rows: readonly RoundRow[]): number[] {
  const out: number[] = [];
  for (const r of rows) {
    if (r.mode !== 'longwire') continue;
    const d = rows.find((x) => x.round === r.round && x.mode === 'direct');
    if (d !== undefined && d.figures.rps > 0) out.push(Math.round((r.figures.rps / d.figures.rps) * 100) / 100);
  }
  return out;
}

export function figures(r: MergedResult, cost: Cost | null): Figures {
  const rps = r.windowMs > 0 ? (r.ok * 1000) / r.windowMs : 0;
  return {
    rps: Math.round(rps),
    p50_ms: round2(r.latency.percentile(50)),
    p99_ms: round2(r.latency.percentile(99)),
    mean_ms: round2(r.latency.total > 0 ? r.latency.sumMs / r.latency.total : NaN),
    max_ms: round2(r.latency.maxMs),
    calls: r.ok,
    errors: r.errors,
    cpu_us_per_call: cost === null ? null : costFigures(cost, r.mode === 'longwire'),
  };
}

function errorText(e: Readonly<Record<string, number>>): string {
  const parts = Object.entries(e).map(([k, v]) => `${k}:${v}`);
  return parts.length === 0 ? '0' : parts.join(' ');
}

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
}

/** A plain-text table (also valid inside a Markdown code block). */
export function table(rep: Report): string {
  const head = ['target', 'round', 'calls/s', 'p50 ms', 'p99 ms', 'calls', 'errors', 'cpu µs/call: gen', 'hook', 'node', 'path'];
  const cells = (mode: string, round: string, f: Figures): string[] => {
    const c = f.cpu_us_per_call;
    const cpu = c === null ? ['-', '-', '-', '-'] : [String(c.generator_us), String(c.webhook_us), mode === 'direct' ? `(${c.node_us})` : String(c.node_us), String(c.path_us)];
    return [mode, round, String(f.rps), f.p50_ms.toFixed(2), f.p99_ms.toFixed(2), String(f.calls), errorText(f.errors), ...cpu];
  };
  const body: string[][] = rep.rounds.map((r) => cells(r.mode, String(r.round), r.figures));
  body.push(cells('direct', 'all', rep.direct), cells('longwire', 'all', rep.longwire));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const c = rep.config;
  const lines = [
    `upstream round trip: ${c.clients} clients x ${c.window} outstanding = ${c.concurrency} concurrent calls; ${c.rounds} round(s) of ${c.warmup_s} s warmup + ${c.measure_s} s measured per target; ${c.cpus} CPUs, node ${c.node}`,
    row(head, widths),
    row(head.map((h) => '-'.repeat(h.length)), widths),
    ...body.map((b) => row(b, widths)),
    '',
    `ratio (longwire / direct throughput): ${rep.ratio.toFixed(2)}  (target >= ${rep.target}: ${rep.ratio >= rep.target ? 'met' : 'NOT met'}); per round: ${rep.roundRatios.map((r) => r.toFixed(2)).join(', ')}`,
    `p50 longwire/direct: ${(rep.longwire.p50_ms / rep.direct.p50_ms).toFixed(2)}x, p99: ${(rep.longwire.p99_ms / rep.direct.p99_ms).toFixed(2)}x`,
  ];
  const dc = rep.direct.cpu_us_per_call;
  const lc = rep.longwire.cpu_us_per_call;
  if (dc !== null && lc !== null) {
    lines.push(
      `cpu per call (all processes on the path): direct ${dc.path_us} µs, longwire ${lc.path_us} µs (${(lc.path_us / dc.path_us).toFixed(2)}x); the node alone ${lc.node_us} µs per up. (node) = the idle node during the direct phase, not on its path`,
    );
  }
  if (rep.webhook !== null) {
    lines.push(`webhook server: ${rep.webhook.requests} requests, ${rep.webhook.ok} ok, ${rep.webhook.badSignature} bad signatures, ${rep.webhook.badBody} bad bodies`);
  }
  const notes = Object.entries(rep.longwireNotes.otherFrames);
  if (rep.longwireNotes.unanswered > 0 || notes.length > 0) {
    lines.push(`longwire: ${rep.longwireNotes.unanswered} ups unanswered after the drain; other frames: ${notes.map(([k, v]) => `${k}:${v}`).join(' ') || 'none'}`);
  }
  return lines.join('\n');
}
