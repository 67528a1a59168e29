// `npm run bench:upstream`: upstream throughput and round trip through a real
// longwire node (WebSocket up → signed webhook POST → reply) against the same
// webhook called directly by the same load generator, in the same run, and
// the ratio. Figures, not a test: it exits 0 whatever the ratio, 1 on failure.
//
// Processes: the node, the webhook server and the generator(s) are separate
// children of this one, all on 127.0.0.1, each stopped by PID at the end (also
// on failure or Ctrl-C).
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { installReaper, killAll } from './children.js';
import { addCost, NO_COST, type Cost } from './cost.js';
import { cpuMs } from './cpu-time.js';
import { NodeProcess } from './node-process.js';
import { parseOptions, type Options } from './options.js';
import type { Mode, PhaseSpec } from './phase.js';
import { figures, RATIO_TARGET, roundRatios, table, type Report, type RoundRow } from './report.js';
import { emptyResult, runPhase, sumResults, type MergedResult } from './run-phase.js';
import { WebhookProcess } from './webhook-process.js';
import type { WebhookStats } from './webhook-stats.js';

/** Per connection, far above anything this bench sends; the app limit is checked too. */
const UPSTREAM_PER_SECOND = 100_000;
const RAISED_FRAMES_PER_SECOND = 1_000_000;
const DRAIN_MS = 6000;
const PROBE_ATTEMPTS = 10;

function log(msg: string): void {
  process.stderr.write(`[bench:upstream] ${msg}\n`);
}

/** One client, one outstanding up, half a second: the whole path works before anything is measured. Retried while the app config propagates. */
async function probe(spec: Omit<PhaseSpec, 'mode' | 'clients' | 'window' | 'warmupMs' | 'measureMs'>): Promise<void> {
  let last = '';
  for (let attempt = 1; attempt <= PROBE_ATTEMPTS; attempt++) {
    try {
      const r = await runPhase({ ...spec, mode: 'longwire', clients: 1, window: 1, warmupMs: 0, measureMs: 500 }, 1);
      if (r.ok > 0 && Object.keys(r.errors).length === 0) return;
      last = `ok ${r.ok}, errors ${JSON.stringify(r.errors)}, frames ${JSON.stringify(r.otherFrames)}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`probe failed after ${PROBE_ATTEMPTS} attempts: ${last}`);
}

async function run(opts: Options): Promise<Report> {
  let webhook: WebhookProcess | undefined;
  let node: NodeProcess | undefined;
  let final: WebhookStats | undefined;
  const rows: RoundRow[] = [];
  let direct = emptyResult('direct');
  let longwire = emptyResult('longwire');
  let cpuKnown = true;
  const costs: Record<Mode, Cost> = { direct: NO_COST, longwire: NO_COST };
  try {
    webhook = await WebhookProcess.start();
    log(`webhook server pid ${webhook.pid} on ${webhook.url}`);
    node = await NodeProcess.start();
    log(`node pid ${node.pid}: gateway ${node.gatewayPort}, api ${node.apiPort}`);
    if (!opts.defaultFrameLimit) await node.setSettings({ clientFramesPerSecond: RAISED_FRAMES_PER_SECOND });
    await node.createApp(webhook.url, UPSTREAM_PER_SECOND);
    const base = { firstClient: 0, drainMs: DRAIN_MS, webhookUrl: webhook.url, wsUrl: node.wsUrl };
    await probe({ ...base, firstClient: 1_000_000 });
    log('probe ok (up → webhook → reply)');

    for (let round = 1; round <= opts.rounds; round++) {
      const order: Mode[] = round % 2 === 1 ? ['direct', 'longwire'] : ['longwire', 'direct'];
      for (const mode of order) {
        const spec: PhaseSpec = { ...base, mode, clients: opts.clients, window: opts.window, warmupMs: opts.warmupS * 1000, measureMs: opts.measureS * 1000 };
        log(`round ${round}/${opts.rounds}: ${mode} …`);
        const nodeBefore = cpuMs(node.pid);
        const hookBefore = cpuMs(webhook.pid);
        const r: MergedResult = await runPhase(spec, opts.generators);
        const nodeAfter = cpuMs(node.pid);
        const hookAfter = cpuMs(webhook.pid);
        let cost: Cost | null = null;
        if (nodeBefore !== undefined && nodeAfter !== undefined && hookBefore !== undefined && hookAfter !== undefined) {
          cost = { calls: r.sent - r.unanswered, generatorMs: r.generatorCpuMs, webhookMs: hookAfter - hookBefore, nodeMs: nodeAfter - nodeBefore };
          costs[mode] = addCost(costs[mode], cost);
        } else {
          cpuKnown = false;
        }
        const f = figures(r, cost);
        log(`round ${round}/${opts.rounds}: ${mode} ${f.rps} calls/s, p50 ${f.p50_ms} ms, p99 ${f.p99_ms} ms`);
        rows.push({ round, mode, figures: f });
        if (mode === 'direct') direct = sumResults(direct, r);
        else longwire = sumResults(longwire, r);
      }
    }
  } catch (err) {
    if (node !== undefined) log(`node stderr tail:\n${node.stderr().slice(-4000)}`);
    if (webhook !== undefined) log(`webhook stderr tail:\n${webhook.stderr().slice(-2000)}`);
    throw err;
  } finally {
    await node?.stop();
    final = await webhook?.stop();
  }
  const d = figures(direct, cpuKnown ? costs.direct : null);
  const l = figures(longwire, cpuKnown ? costs.longwire : null);
  return {
    direct: d,
    longwire: l,
    ratio: d.rps > 0 ? Math.round((l.rps / d.rps) * 100) / 100 : NaN,
    target: RATIO_TARGET,
    roundRatios: roundRatios(rows),
    config: {
      clients: opts.clients,
      window: opts.window,
      concurrency: opts.clients * opts.window,
      generators: opts.generators,
      rounds: opts.rounds,
      warmup_s: opts.warmupS,
      measure_s: opts.measureS,
      cpus: availableParallelism(),
      node: process.version,
    },
    rounds: rows,
    longwireNotes: { unanswered: longwire.unanswered, otherFrames: longwire.otherFrames },
    webhook: final ?? null,
    at: new Date().toISOString(),
  };
}

async function main(): Promise<void> {
  installReaper();
  const opts = parseOptions(process.argv.slice(2));
  const rep = await run(opts);
  process.stdout.write(table(rep) + '\n\n');
  const json = JSON.stringify(rep, null, 2);
  process.stdout.write(JSON.stringify({ direct: rep.direct, longwire: rep.longwire, ratio: rep.ratio }) + '\n');
  await mkdir(dirname(opts.out), { recursive: true });
  await writeFile(opts.out, json + '\n');
  log(`wrote ${opts.out}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:upstream failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    killAll();
    process.exit(1);
  },
);
