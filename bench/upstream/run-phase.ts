// Runs one phase across `generators` child processes (clients split between
// them) and merges their results: counts add, latency histograms add, the
// window is the longest one.
import { fileURLToPath } from 'node:url';
import { exited, spawnNode, stopChild } from './children.js';
import { Histogram } from './histogram.js';
import { LineReader, stderrTail } from './lines.js';
import { RESULT_PREFIX, type PhaseResult, type PhaseSpec } from './phase.js';

const SCRIPT = fileURLToPath(new URL('./generator.js', import.meta.url));
/** Beyond the phase's own time: process start, connecting and binding the clients, closing. */
const SLACK_MS = 45_000;

export interface MergedResult {
  readonly mode: PhaseSpec['mode'];
  readonly ok: number;
  readonly errors: Record<string, number>;
  readonly windowMs: number;
  readonly latency: Histogram;
  readonly sent: number;
  readonly unanswered: number;
  readonly otherFrames: Record<string, number>;
  /** CPU time of the generator processes, ms. */
  readonly generatorCpuMs: number;
}

async function runOne(spec: PhaseSpec): Promise<PhaseResult> {
  const child = spawnNode([SCRIPT, JSON.stringify(spec)]);
  const lines = new LineReader(child);
  const stderr = stderrTail(child);
  try {
    const line = await lines.waitFor(RESULT_PREFIX, spec.warmupMs + spec.measureMs + spec.drainMs + SLACK_MS);
    await exited(child);
    return JSON.parse(line) as PhaseResult;
  } catch (err) {
    throw new Error(`${spec.mode} generator failed: ${err instanceof Error ? err.message : String(err)}\n${stderr()}`);
  } finally {
    await stopChild(child, 'SIGKILL');
  }
}

function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

export function emptyResult(mode: PhaseSpec['mode']): MergedResult {
  return { mode, ok: 0, errors: {}, windowMs: 0, latency: new Histogram(), sent: 0, unanswered: 0, otherFrames: {}, generatorCpuMs: 0 };
}

/** Adds b into a copy of a; windows add too (used to total several rounds of one mode). */
export function sumResults(a: MergedResult, b: MergedResult): MergedResult {
  const latency = new Histogram();
  latency.add(a.latency);
  latency.add(b.latency);
  const errors = { ...a.errors };
  addCounts(errors, b.errors);
  const otherFrames = { ...a.otherFrames };
  addCounts(otherFrames, b.otherFrames);
  return {
    mode: a.mode,
    ok: a.ok + b.ok,
    errors,
    windowMs: a.windowMs + b.windowMs,
    latency,
    sent: a.sent + b.sent,
    unanswered: a.unanswered + b.unanswered,
    otherFrames,
    generatorCpuMs: a.generatorCpuMs + b.generatorCpuMs,
  };
}

export async function runPhase(spec: PhaseSpec, generators: number): Promise<MergedResult> {
  const k = Math.max(1, Math.min(generators, spec.clients));
  const specs: PhaseSpec[] = [];
  let first = spec.firstClient;
  for (let g = 0; g < k; g++) {
    const clients = Math.floor(spec.clients / k) + (g < spec.clients % k ? 1 : 0);
    specs.push({ ...spec, firstClient: first, clients });
    first += clients;
  }
  const results = await Promise.all(specs.map((s) => runOne(s)));
  const latency = new Histogram();
  const errors: Record<string, number> = {};
  const otherFrames: Record<string, number> = {};
  let ok = 0;
  let sent = 0;
  let unanswered = 0;
  let windowMs = 0;
  let generatorCpuMs = 0;
  for (const r of results) {
    latency.add(Histogram.fromJSON(r.latency));
    addCounts(errors, r.errors);
    addCounts(otherFrames, r.otherFrames);
    ok += r.ok;
    sent += r.sent;
    unanswered += r.unanswered;
    windowMs = Math.max(windowMs, r.windowMs);
    generatorCpuMs += r.cpuMs;
  }
  return { mode: spec.mode, ok, errors, windowMs, latency, sent, unanswered, otherFrames, generatorCpuMs };
}
