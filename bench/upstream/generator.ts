// A load generator process: runs one phase (direct or longwire) as given in
// argv[2] (a PhaseSpec as JSON) and prints its PhaseResult (with its own CPU
// time) as one line. It gives itself a hard deadline so a stuck phase cannot
// outlive the bench.
import { runDirect } from './direct-load.js';
import { Meter } from './meter.js';
import { RESULT_PREFIX, type PhaseResult, type PhaseSpec } from './phase.js';
import { runWs } from './ws-load.js';

const SETUP_MS_MAX = 30_000;

function cpuSinceMs(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

async function main(): Promise<void> {
  // From here on (modules are loaded): the CPU the phase itself costs.
  const cpu0 = process.cpuUsage();
  const arg = process.argv[2];
  if (arg === undefined) throw new Error('usage: generator <PhaseSpec JSON>');
  const spec = JSON.parse(arg) as PhaseSpec;
  const hardStop = setTimeout(() => {
    process.stderr.write('generator: hard deadline passed\n');
    process.exit(2);
  }, spec.warmupMs + spec.measureMs + spec.drainMs + SETUP_MS_MAX);
  hardStop.unref();

  const meter = new Meter();
  const outcome = spec.mode === 'direct' ? await runDirect(spec, meter) : await runWs(spec, meter);
  const result: PhaseResult = {
    mode: spec.mode,
    ok: meter.ok,
    errors: meter.errors,
    windowMs: meter.windowMs,
    latency: meter.latency.toJSON(),
    sent: outcome.sent,
    unanswered: outcome.unanswered,
    otherFrames: outcome.otherFrames,
    cpuMs: cpuSinceMs(cpu0),
  };
  process.stdout.write(RESULT_PREFIX + JSON.stringify(result) + '\n', () => process.exit(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`generator failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
