// npm run bench:topic-fanout [-- --quick]: what a topic publish costs the
// cluster when few of its nodes have subscribers of the topic. Five joined
// nodes; topics owned by the first, published through it. Two phases in the
// same run, alternated twice: a subscriber on one other node only, and one
// on every other node (four); the table has their means. An owner sends a topic's pubs only to the members with
// subscribers of it (node/src/topic-interest.ts), so the first phase sends
// one pub per publish and the second four — four is also what every publish
// sent before topic interest, whatever the subscribers, so the second phase
// is the baseline the first is compared with. Measured per phase: publishes/s
// (each reaching every subscriber), node CPU per publish over all five
// nodes, and peer calls per publish by method.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fmtInt, fmtMs, fmtRatio, renderTable } from '../lib/table.js';
import { APP, startCluster, type BenchNode } from './nodes.js';
import { peerCalls, perEach, topicPhase, type TopicPhaseResult } from './clients.js';
import { ownerOf } from '../../node/src/ring.js';
import { topicKey } from '../../node/src/ownership.js';

const quick = process.argv.includes('--quick');
const NODES = 5;
const CFG = quick ? { topics: 16, publishes: 2_000, inflight: 32, phaseMs: 60_000 } : { topics: 64, publishes: 10_000, inflight: 64, phaseMs: 180_000 };

interface Phase extends TopicPhaseResult {
  readonly subscriberNodes: number;
  readonly cpuUsPerPublish: number;
  readonly peerCallsPerPublish: Record<string, number>;
}

const ROUNDS = 2;

/** The rounds' figures averaged (peer calls by method too). */
function mean(ps: readonly Phase[]): Phase {
  const avg = (f: (p: Phase) => number): number => ps.reduce((t, p) => t + f(p), 0) / Math.max(1, ps.length);
  const methods = new Set(ps.flatMap((p) => Object.keys(p.peerCallsPerPublish)));
  return {
    subscriberNodes: ps[0]?.subscriberNodes ?? 0,
    perSec: avg((p) => p.perSec),
    p99: avg((p) => p.p99),
    errors: ps.reduce((t, p) => t + p.errors, 0),
    received: ps.reduce((t, p) => t + p.received, 0),
    cpuUsPerPublish: avg((p) => p.cpuUsPerPublish),
    peerCallsPerPublish: Object.fromEntries([...methods].map((m) => [m, avg((p) => p.peerCallsPerPublish[m] ?? 0)])),
  };
}

/** Between phases: the members whose subscribers left take the topics off at their next round (every 2 s). */
const SETTLE_MS = 5000;

async function phase(nodes: readonly BenchNode[], subOn: readonly BenchNode[], topics: readonly string[]): Promise<Phase> {
  const [owner] = nodes;
  if (owner === undefined) throw new Error('no node');
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const calls0 = await peerCalls(nodes);
  const cpu0 = nodes.reduce((t, n) => t + n.cpuNs(), 0);
  const r = await topicPhase(CFG, CFG.publishes, owner, subOn, topics);
  const cpuUsPerPublish = (nodes.reduce((t, n) => t + n.cpuNs(), 0) - cpu0) / 1000 / Math.max(1, r.received / subOn.length);
  const peerCallsPerPublish = perEach(calls0, await peerCalls(nodes), r.received / subOn.length);
  return { ...r, subscriberNodes: subOn.length, cpuUsPerPublish, peerCallsPerPublish };
}

async function main(): Promise<void> {
  const nodes = await startCluster(NODES, 'f');
  try {
    const [owner, ...others] = nodes;
    if (owner === undefined) throw new Error('no node');
    const voters = nodes.map((n) => ({ id: n.id, role: 'voter' as const, peer: '', api: '', gateway: '', zone: 'default' }));
    const topics: string[] = [];
    for (let i = 0; topics.length < CFG.topics && i < CFG.topics * 40; i++) if (ownerOf(voters, topicKey(APP, `t${i}`))?.id === owner.id) topics.push(`t${i}`);
    // Unmeasured: the members' interest syncs settle (a round is 2 s) and the code warms up.
    await topicPhase(CFG, Math.min(1_000, CFG.publishes), owner, others, topics);
    // Alternated, ROUNDS times each, so that neither gains from running later (warmer, or on a quieter machine).
    const ones: Phase[] = [];
    const alls: Phase[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      ones.push(await phase(nodes, others.slice(0, 1), topics));
      alls.push(await phase(nodes, others, topics));
    }
    const one = mean(ones);
    const all = mean(alls);
    console.log(`publishes/s by round: subscribers on 1 node ${ones.map((p) => fmtInt(p.perSec)).join(', ')}; on ${others.length} nodes ${alls.map((p) => fmtInt(p.perSec)).join(', ')}`);
    const callLine = (per: Record<string, number>): string =>
      Object.entries(per)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([m, v]) => `${m} ${v.toFixed(3)}`)
        .join(', ');
    console.log(
      `bench:topic-fanout${quick ? ' --quick' : ''}: ${NODES} nodes, ${CFG.publishes} publishes per phase over ${CFG.topics} topics owned by ${owner.id}, published through it (${CFG.inflight} in flight); errors: ${one.errors} / ${all.errors}`,
    );
    console.log(
      renderTable(
        ['mean of the rounds', 'subscribers on 1 node', `subscribers on ${others.length} nodes`, '1 / ' + String(others.length)],
        [
          ['publishes/s (each to every subscriber)', fmtInt(one.perSec), fmtInt(all.perSec), fmtRatio(one.perSec / all.perSec)],
          ['publish → subscriber p99', fmtMs(one.p99), fmtMs(all.p99), fmtRatio(one.p99 / all.p99)],
          ['node CPU per publish, all nodes (µs)', fmtInt(one.cpuUsPerPublish), fmtInt(all.cpuUsPerPublish), fmtRatio(one.cpuUsPerPublish / all.cpuUsPerPublish)],
          ['pub calls per publish', (one.peerCallsPerPublish.pub ?? 0).toFixed(3), (all.peerCallsPerPublish.pub ?? 0).toFixed(3), fmtRatio((one.peerCallsPerPublish.pub ?? 0) / (all.peerCallsPerPublish.pub ?? 1))],
        ],
      ),
    );
    console.log(`peer calls per publish, subscribers on 1 node: ${callLine(one.peerCallsPerPublish)}`);
    console.log(`peer calls per publish, subscribers on ${others.length} nodes: ${callLine(all.peerCallsPerPublish)}`);
    mkdirSync('bench/results', { recursive: true });
    const file = `bench/results/topic-fanout-${quick ? 'quick' : 'full'}-${new Date().toISOString().slice(0, 16).replace(/[-:]/g, '')}.json`;
    writeFileSync(file, JSON.stringify({ config: { nodes: NODES, rounds: ROUNDS, ...CFG }, one: ones, all: alls }, null, 2) + '\n');
    console.log(`saved ${file}`);
  } finally {
    for (const n of nodes) await n.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
