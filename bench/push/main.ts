// `npm run bench:push [-- --quick] [-- --only fanout|unicast] [-- --out FILE]`:
// the push-path figures of longwire against a bare ws baseline measured in the
// same run. Prints progress, a table with ratios, and writes a JSON result.
// `-- --tls-compare [-- --quick]` instead measures longwire with TLS against
// longwire without, in the same run (tls-compare.ts).
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startBare } from '../lib/bare-target.js';
import { startLongwire } from '../lib/longwire-target.js';
import { installReaper, killAll } from '../lib/reaper.js';
import type { Health } from '../lib/fleet-messages.js';
import type { Target } from '../lib/target.js';
import { runFanout, type FanoutConfig, type FanoutResult } from './fanout.js';
import { fanoutRows, renderRows, summarizeUnicast, unicastRows, type Row, type UnicastSummary } from './report.js';
import { runTlsCompare, type TlsCompareConfig, type TlsCompareResult } from './tls-compare.js';
import { renderTlsRows, tlsRows, type TlsRow } from './tls-report.js';
import { runUnicast, type UnicastConfig, type UnicastRun } from './unicast.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'tls-compare': { type: 'boolean', default: false },
    out: { type: 'string' },
    workers: { type: 'string' },
  },
});
const quick = values.quick === true;
const tlsCompare = values['tls-compare'] === true;
const mode = `${tlsCompare ? 'tls-' : ''}${quick ? 'quick' : 'full'}`;
const workers = values.workers === undefined ? (quick ? 2 : 4) : Number(values.workers);
const only = values.only;
const INFLIGHT = 64;
/** Connections per client process: a process here may hold at most 20,000 open files. */
const CONNECTIONS_PER_PROCESS_MAX = 15_000;

const fanoutCfg: FanoutConfig = {
  sizes: quick ? [2000] : [10_000, 19_000],
  workers,
  connectConcurrency: 50,
  settleMs: quick ? 1500 : 3000,
  memorySamples: 3,
  idleCpuMs: quick ? 2000 : 3000,
  broadcastRounds: quick ? 3 : 7,
  broadcastTimeoutMs: 20_000,
  broadcastPauseMs: 500,
};

const unicastCfg: UnicastConfig = {
  qos: 1,
  clients: quick ? 200 : 1000,
  workers: 2,
  inflight: INFLIGHT,
  warmupSeconds: quick ? 1 : 2,
  slices: quick ? 2 : 8,
  sliceSeconds: quick ? 1.5 : 2.5,
  drainTimeoutMs: 15_000,
};

const tlsCfg: TlsCompareConfig = {
  connect: { connections: quick ? 500 : 2000, rounds: quick ? 4 : 6, workers: 2, concurrency: 50, pauseMs: 1000 },
  unicast: { ...unicastCfg, slices: quick ? 4 : 8 },
  fanout: { ...fanoutCfg, sizes: quick ? [2000] : [10_000], broadcastRounds: quick ? 5 : 7 },
};

function usage(problem: string): never {
  process.stderr.write(`bench:push: ${problem}\nusage: npm run bench:push [-- --quick] [-- --only fanout|unicast | --tls-compare] [-- --workers N] [-- --out FILE]\n`);
  process.exit(2);
}
if (only !== undefined && only !== 'fanout' && only !== 'unicast') usage(`--only must be fanout or unicast, got ${only}`);
if (only !== undefined && tlsCompare) usage('--only and --tls-compare do not go together');
const largest = Math.max(...fanoutCfg.sizes);
if (!Number.isInteger(workers) || workers < 1 || workers > 32) usage('--workers must be an integer from 1 to 32');
if (Math.ceil(largest / workers) > CONNECTIONS_PER_PROCESS_MAX) usage(`--workers ${workers} puts more than ${CONNECTIONS_PER_PROCESS_MAX} connections in one client process`);

const started = new Date();
const t0 = Date.now();
function log(s: string): void {
  process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${s}\n`);
}

// Fan-out servers run with the inspector (to force a GC before memory readings); unicast servers without.
const bareInspected = (): Promise<Target> => startBare({ httpConcurrency: INFLIGHT, inspect: true });
const lwInspected = (): Promise<Target> => startLongwire({ fsync: false, httpConcurrency: INFLIGHT, inspect: true });
const bare = (): Promise<Target> => startBare({ httpConcurrency: INFLIGHT, inspect: false });
const lw = (): Promise<Target> => startLongwire({ fsync: false, httpConcurrency: INFLIGHT, inspect: false });
const lwFsync = (): Promise<Target> => startLongwire({ fsync: true, httpConcurrency: INFLIGHT, inspect: false });

/** What one mode produced: its part of the JSON, the text after the header, and the client health to check. */
interface Outcome {
  readonly json: Record<string, unknown>;
  readonly text: string;
  readonly healths: readonly (readonly [string, Health])[];
}

/** The commit measured, and whether node/ or keeper/ had uncommitted changes when the bench started. */
function source(): Record<string, string> {
  const git = (...args: string[]): string => {
    try {
      return execFileSync('git', args, { encoding: 'utf8', timeout: 5000 }).trim();
    } catch {
      return 'unknown';
    }
  };
  return { commit: git('rev-parse', '--short', 'HEAD'), uncommitted: git('status', '--porcelain', '--', 'node', 'keeper') === '' ? 'none in node/, keeper/' : 'yes, in node/ or keeper/' };
}

function machine(): Record<string, unknown> {
  const c = cpus();
  return { cpu: c[0]?.model ?? 'unknown', cores: c.length, memoryBytes: totalmem(), kernel: release(), node: process.version, loadavg: loadavg(), ...source() };
}

async function pushVsBare(): Promise<Outcome> {
  const rows: Row[] = [];
  let fanout: { readonly bare: FanoutResult; readonly longwire: FanoutResult } | undefined;
  let unicast: { readonly runs: readonly Omit<UnicastRun, 'latencies'>[]; readonly summaries: readonly UnicastSummary[] } | undefined;

  if (only === undefined || only === 'fanout') {
    log(`fan-out: sizes ${fanoutCfg.sizes.join(', ')}, ${workers} client processes per server, both servers up at once`);
    const [b, l] = await runFanout([bareInspected, lwInspected], fanoutCfg, log);
    if (b === undefined || l === undefined) throw new Error('fan-out returned no results');
    fanout = { bare: b, longwire: l };
    rows.push(...fanoutRows(b, l));
  }

  if (only === undefined || only === 'unicast') {
    log(`unicast qos 1: ${unicastCfg.clients} clients per server, ${INFLIGHT} pushes in flight, ${unicastCfg.slices} slices of ${unicastCfg.sliceSeconds} s per server, all servers up at once`);
    const runs = await runUnicast([bare, lw, lwFsync], unicastCfg, log);
    const labels = [...new Set(runs.map((r) => r.label))];
    const summaries = labels.map((label) => summarizeUnicast(label, runs.filter((r) => r.label === label)));
    const base = summaries.find((s) => s.label === 'bare-ws');
    if (base !== undefined) rows.push(...unicastRows(base, summaries.filter((s) => s !== base), unicastCfg.clients));
    unicast = { runs: runs.map(({ latencies: _latencies, ...rest }) => rest), summaries };
  }

  let text = renderRows(rows) + '\n';
  if (unicast !== undefined) text += '\nunicast detail (all slices pooled):\n' + unicast.summaries.map(detail).join('');
  return {
    json: { config: { fanout: fanoutCfg, unicast: unicastCfg }, ...(fanout === undefined ? {} : { fanout }), ...(unicast === undefined ? {} : { unicast }), rows },
    text,
    healths: [
      ...(fanout === undefined ? [] : [fanout.bare, fanout.longwire]).flatMap((f) => f.steps.map((st) => [`${f.label} at ${st.connections}`, st.health] as const)),
      ...(unicast?.runs ?? []).map((r) => [`${r.label} unicast`, r.health] as const),
    ],
  };
}

async function tlsVsPlain(): Promise<Outcome> {
  const r: TlsCompareResult = await runTlsCompare(tlsCfg, log);
  const rows: TlsRow[] = tlsRows(r, tlsCfg);
  let text = renderTlsRows(rows) + '\n';
  text += '\nunicast detail (all slices pooled):\n' + r.unicast.flatMap((u) => [u.plain, u.tls].map((s) => detail({ ...s, label: `qos ${u.qos} ${s.label}` }))).join('');
  const rounds = (label: string, rs: readonly { connectsPerSec: number }[]): string => `  ${label.padEnd(17)} ${rs.map((x) => x.connectsPerSec.toFixed(0)).join(', ')} connections/s\n`;
  text += '\nconnect rounds (in the order run):\n' + rounds(r.connect.plain.label, r.connect.plain.rounds) + rounds(r.connect.tls.label, r.connect.tls.rounds);
  return {
    json: { config: tlsCfg, tlsCompare: r, rows },
    text,
    healths: [
      ...[r.fanout.plain, r.fanout.tls].flatMap((f) => f.steps.map((st) => [`${f.label} at ${st.connections}`, st.health] as const)),
      ...r.unicast.flatMap((u) => u.runs.map((run) => [`${run.label} unicast qos ${u.qos}`, run.health] as const)),
    ],
  };
}

function detail(s: UnicastSummary): string {
  return (
    `  ${s.label.padEnd(17)} pushed ${s.pushed}, received ${s.received}, push errors ${s.pushErrors}, ` +
    `p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms, p99.9 ${s.p999Ms.toFixed(2)} ms, max ${s.maxMs.toFixed(1)} ms\n`
  );
}

async function main(): Promise<void> {
  installReaper();
  const m0 = machine();
  log(`bench:push ${mode}: ${String(m0.cores)} × ${String(m0.cpu)}, node ${process.version}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const outcome = tlsCompare ? await tlsVsPlain() : await pushVsBare();
  const result = {
    mode,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { ...m0, loadavgAtEnd: loadavg() },
    ...outcome.json,
  };
  const out = resolve(values.out ?? `.bench-out/bench-push-${mode}.json`);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(
    `\nlongwire bench:push (${mode}) — ${started.toISOString()}, ${String(m0.cores)} × ${String(m0.cpu)}, node ${process.version}, ` +
      `commit ${String(m0.commit)} (uncommitted changes: ${String(m0.uncommitted)}), load average at start ${(m0.loadavg as number[]).map((x) => x.toFixed(1)).join(' ')}\n\n`,
  );
  process.stdout.write(outcome.text);
  const problems: string[] = [];
  for (const [what, h] of outcome.healths) {
    const closes = Object.entries(h.closes).map(([code, n]) => `${n}× close ${code}`);
    if (h.errorFrames > 0 || closes.length > 0) problems.push(`${what}: ${h.errorFrames} error frames, ${closes.join(', ') || 'no unexpected closes'}; last: ${h.lastError}`);
  }
  process.stdout.write(problems.length === 0 ? '\nclients: no error frames, no unexpected closes\n' : `\nclient problems:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  process.stdout.write(`\nJSON: ${out}  (took ${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:push failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    killAll();
    process.exit(1);
  },
);
