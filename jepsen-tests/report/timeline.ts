// A self-contained HTML timeline of one round (inline CSS and a few lines of
// JS for zoom; no network): the verdict and first anomaly at the top, nemesis
// events as bands across all lanes, and one lane per client or process with
// each operation as a bar from invoke to complete, coloured by outcome. An
// operation that never completed runs to the end of the round.
import type { NemesisEvent } from '../nemesis/nemesis-event.js';

export type TimelineStatus = 'ok' | 'fail' | 'unknown';

export interface TimelineOp {
  readonly lane: string;
  readonly start: number;
  /** Undefined (or Infinity) when no answer came. */
  readonly end: number | undefined;
  readonly status: TimelineStatus;
  /** The operation and its outcome, shown on hover. */
  readonly label: string;
}

export interface TimelineInput {
  readonly title: string;
  readonly ok: boolean;
  /** The checkers' verdicts in one line. */
  readonly verdict: string;
  /** The first anomaly the checkers reported, if any. */
  readonly firstAnomaly: string | undefined;
  readonly ops: readonly TimelineOp[];
  readonly nemesis: readonly NemesisEvent[];
}

const LANE_PX = 16;
const LABEL_PX = 90;

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Lane names in a stable, human order: c2 before c10. */
function byNatural(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

export function renderTimeline(t: TimelineInput): string {
  const times = [...t.ops.flatMap((o) => [o.start, ...(o.end === undefined || !Number.isFinite(o.end) ? [] : [o.end])]), ...t.nemesis.flatMap((e) => [e.start, e.end])];
  // reduce, not Math.min(...): a long round has more times than a call takes arguments.
  const t0 = times.length === 0 ? 0 : times.reduce((a, b) => Math.min(a, b));
  const t1 = times.length === 0 ? 1 : times.reduce((a, b) => Math.max(a, b));
  const span = Math.max(1, t1 - t0);
  const pct = (x: number): string => `${(((x - t0) / span) * 100).toFixed(3)}%`;
  const width = (a: number, b: number): string => `${Math.max(0.02, ((b - a) / span) * 100).toFixed(3)}%`;
  const rel = (x: number): string => `+${Math.round(x - t0)}ms`;
  const lanes = [...new Set(t.ops.map((o) => o.lane))].sort(byNatural);
  const height = lanes.length * LANE_PX;

  const bands = t.nemesis
    .map((e) => `<div class="band" style="left:${pct(e.start)};width:${width(e.start, e.end)}" title="${esc(`${rel(e.start)}..${rel(e.end)} ${e.label}`)}"><span>${esc(e.kind)}</span></div>`)
    .join('\n');
  const rows = lanes
    .map((lane, i) => {
      const bars = t.ops
        .filter((o) => o.lane === lane)
        .map((o) => {
          const open = o.end === undefined || !Number.isFinite(o.end);
          const end = open ? t1 : (o.end ?? t1);
          return `<div class="op ${o.status}${open ? ' open' : ''}" style="left:${pct(o.start)};width:${width(o.start, end)}" title="${esc(`${rel(o.start)}..${open ? '?' : rel(end)} ${o.label}`)}"></div>`;
        })
        .join('');
      return `<div class="lane" style="top:${i * LANE_PX}px"><div class="name">${esc(lane)}</div><div class="track">${bars}</div></div>`;
    })
    .join('\n');
  const events = t.nemesis.map((e) => `<li><code>${esc(rel(e.start))}..${esc(rel(e.end))}</code> <b>${esc(e.kind)}</b> ${esc(e.label)}</li>`).join('\n');

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(t.title)}</title>
<style>
body{font:13px system-ui,sans-serif;margin:12px;color:#222}
.verdict{padding:8px;border-radius:4px;margin-bottom:8px}
.verdict.pass{background:#dfd}.verdict.failv{background:#fdd}
pre{white-space:pre-wrap;margin:4px 0;max-height:16em;overflow:auto;background:#fff8;padding:4px}
.legend span{display:inline-block;padding:1px 6px;margin-right:6px;border-radius:3px}
#scroll{overflow-x:auto;border:1px solid #ccc}
#chart{position:relative;height:${height + 20}px;width:var(--w,100%)}
.lane{position:absolute;left:0;right:0;height:${LANE_PX}px;border-bottom:1px solid #f0f0f0}
.name{position:absolute;left:0;width:${LABEL_PX - 4}px;overflow:hidden;white-space:nowrap;font-size:11px;line-height:${LANE_PX}px}
.track,#bands{position:absolute;left:${LABEL_PX}px;right:0;top:0;bottom:0}
#bands{pointer-events:none}
.band{position:absolute;top:0;bottom:0;background:rgba(255,160,0,.18);border-left:1px solid #e90;pointer-events:auto}
.band span{position:absolute;bottom:0;font-size:10px;color:#a60;white-space:nowrap}
.op{position:absolute;top:3px;height:${LANE_PX - 6}px;min-width:1px}
.ok{background:#3a3}.fail{background:#d33}.unknown{background:#999}
.op.open{opacity:.5}
</style></head><body>
<h1>${esc(t.title)}</h1>
<div class="verdict ${t.ok ? 'pass' : 'failv'}"><b>${t.ok ? 'PASS' : 'FAIL'}</b> ${esc(t.verdict)}${t.firstAnomaly === undefined ? '' : `<pre id="anomaly">${esc(t.firstAnomaly)}</pre>`}</div>
<div class="legend"><span class="ok">ok</span><span class="fail">fail</span><span class="unknown">unknown (no answer; runs to the end)</span><span style="background:rgba(255,160,0,.3)">nemesis</span>
zoom <input id="zoom" type="range" min="1" max="40" value="1"> ${t.ops.length} operations, ${lanes.length} lanes, ${t.nemesis.length} nemesis events over ${Math.round(span)}ms</div>
<div id="scroll"><div id="chart">
<div id="bands">
${bands}
</div>
${rows}
</div></div>
<h2>Nemesis</h2>
<ul>
${events}
</ul>
<script>
document.getElementById('zoom').addEventListener('input',function(e){document.getElementById('chart').style.setProperty('--w',(e.target.value*100)+'%')});
</script>
</body></html>
`;
}
