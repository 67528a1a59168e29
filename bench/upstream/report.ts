// The bench's figures: per mode throughput and p50/p99 round trip, the
// longwire/direct throughput ratio, a readable table and the JSON document
// written to .bench-out/upstream.json.
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

export function figures(r: MergedResult): Figures {
  const rps = r.windowMs > 0 ? (r.ok * 1000) / r.windowMs : 0;
  return {
    rps: Math.round(rps),
    p50_ms: round2(r.latency.percentile(50)),
    p99_ms: round2(r.latency.percentile(99)),
    mean_ms: round2(r.latency.total > 0 ? r.latency.sumMs / r.latency.total : NaN),
    max_ms: round2(r.latency.maxMs),
    calls: r.ok,
    errors: r.errors,
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
  const head = ['target', 'round', 'calls/s', 'p50 ms', 'p99 ms', 'calls', 'errors'];
  const body: string[][] = rep.rounds.map((r) => [r.mode, String(r.round), String(r.figures.rps), r.figures.p50_ms.toFixed(2), r.figures.p99_ms.toFixed(2), String(r.figures.calls), errorText(r.figures.errors)]);
  for (const [mode, f] of [['direct', rep.direct], ['longwire', rep.longwire]] as const) {
    body.push([mode, 'all', String(f.rps), f.p50_ms.toFixed(2), f.p99_ms.toFixed(2), String(f.calls), errorText(f.errors)]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const c = rep.config;
  const lines = [
    `upstream round trip: ${c.clients} clients x ${c.window} outstanding = ${c.concurrency} concurrent calls; ${c.rounds} round(s) of ${c.warmup_s} s warmup + ${c.measure_s} s measured per target; ${c.cpus} CPUs, node ${c.node}`,
    row(head, widths),
    row(
      head.map((h) => '-'.repeat(h.length)),
      widths,
    ),
    ...body.map((b) => row(b, widths)),
    '',
    `ratio (longwire / direct throughput): ${rep.ratio.toFixed(2)}  (target >= ${rep.target}: ${rep.ratio >= rep.target ? 'met' : 'NOT met'})`,
    `p50 longwire/direct: ${(rep.longwire.p50_ms / rep.direct.p50_ms).toFixed(2)}x, p99: ${(rep.longwire.p99_ms / rep.direct.p99_ms).toFixed(2)}x`,
  ];
  if (rep.webhook !== null) {
    lines.push(`webhook server: ${rep.webhook.requests} requests, ${rep.webhook.ok} ok, ${rep.webhook.badSignature} bad signatures, ${rep.webhook.badBody} bad bodies`);
  }
  const notes = Object.entries(rep.longwireNotes.otherFrames);
  if (rep.longwireNotes.unanswered > 0 || notes.length > 0) {
    lines.push(`longwire: ${rep.longwireNotes.unanswered} ups unanswered after the drain; other frames: ${notes.map(([k, v]) => `${k}:${v}`).join(' ') || 'none'}`);
  }
  return lines.join('\n');
}
