// npm run bench:cluster [-- --quick]: three joined nodes against one node
// alone, started in the same run, on the same machine. Measured:
//   unicast  qos 1 msgs/s and p99 end to end, pushed through a node that is not
//            the users' owner to clients connected to the third node (the one-node
//            baseline: pushes, owner and clients all on the one node), with the
//            node CPU (all node processes) per delivered message, and the peer
//            calls the three nodes sent per delivered message, by method;
//   topics   publishes/s and p99 publish → subscriber, published through a node that
//            is not the topics' owner to a subscriber on the third node (the owner
//            checks its keeper is ready, stores, and sends the pub to the members
//            with subscribers: the third node), with the node CPU per publish;
//   broadcast time until every client has the message, clients spread over all nodes;
//   register connects/s the keeper absorbs: clients connecting and binding at once,
//            until the last `bound` (sent after its register write commits).
// Every phase is bounded in count and time; ratios are cluster / one node.
// `--cpu-prof DIR` runs the three nodes with --cpu-prof (a profile per node and
// thread under DIR/<node id>/, written when the node stops); `--unicast-only`
// skips the topic, broadcast and register phases (a profile of the unicast path).
import { mkdirSync, writeFileSync } from 'node:fs';
import { percentile, sorted } from '../lib/stats.js';
import { fmtInt, fmtMs, fmtRatio, renderTable } from '../lib/table.js';
import { API_KEY, APP, startCluster, type BenchNode } from './nodes.js';
import { closeAll, closedLoop, connect, peerCalls, perEach, topicPhase, type TopicPhaseResult } from './clients.js';
import { ownerOf } from '../../node/src/ring.js';
import { topicKey } from '../../node/src/ownership.js';

const quick = process.argv.includes('--quick');
const profIdx = process.argv.indexOf('--cpu-prof');
const cpuProfDir = profIdx < 0 ? undefined : process.argv[profIdx + 1];
const unicastOnly = process.argv.includes('--unicast-only');
const CFG = quick
  ? { users: 50, pushes: 2_000, inflight: 32, topics: 16, publishes: 2_000, broadcastClients: 300, registerClients: 300, phaseMs: 60_000 }
  : { users: 200, pushes: 20_000, inflight: 64, topics: 64, publishes: 20_000, broadcastClients: 1_500, registerClients: 2_000, phaseMs: 180_000 };

/** How long the nodes' idle CPU is measured before the unicast phase. */
const IDLE_MS = 3000;

/** qos 1 pushes of one user each, round robin, at most `inflight` open; clients ack each message. */
async function unicast(pushVia: BenchNode, clientsOn: BenchNode, users: readonly string[]): Promise<{ msgsPerSec: number; p99: number; errors: number; received: number }> {
  const clients = await Promise.all(users.map((u, i) => connect(clientsOn.wsUrl, u, `uni-${i}`)));
  const latencies: number[] = [];
  let received = 0;
  for (const c of clients) {
    c.onMsg = (f) => {
      if (f.t !== 'msg' || f.qos !== 1) return;
      const sent = (f.data as { at?: number } | null)?.at;
      if (typeof sent === 'number') latencies.push(performance.now() - sent);
      received++;
      c.ws.send(JSON.stringify({ t: 'ack', app: APP, seq: f.seq }));
    };
  }
  const { secs, errors } = await closedLoop(CFG, CFG.pushes, () => received, (i) => pushVia.api('POST', `/v1/apps/${APP}/push`, { users: [users[i % users.length] ?? ''], data: { at: performance.now() } }, API_KEY));
  closeAll(clients);
  return { msgsPerSec: received / secs, p99: percentile(sorted(latencies), 99), errors, received };
}

/** One broadcast to clients spread over `nodes`: ms from the request until the last client has it. */
async function broadcast(nodes: readonly BenchNode[]): Promise<number> {
  const clients = await Promise.all(Array.from({ length: CFG.broadcastClients }, (_, i) => connect(nodes[i % nodes.length]?.wsUrl ?? '', `b${i}`, `bc-${i}`)));
  let got = 0;
  const all = new Promise<void>((resolve) => {
    for (const c of clients) {
      c.onMsg = (f) => {
        if (f.t === 'msg' && (f.data as { bench?: string } | null)?.bench === 'broadcast' && ++got === clients.length) resolve();
      };
    }
  });
  const start = performance.now();
  const r = await nodes[0]?.api('POST', `/v1/apps/${APP}/broadcast`, { data: { bench: 'broadcast' }, rate: 1_000_000 }, API_KEY);
  if (r === undefined || r.status >= 300) throw new Error(`broadcast: ${JSON.stringify(r)}`);
  await Promise.race([all, new Promise((res) => setTimeout(res, CFG.phaseMs))]);
  const ms = performance.now() - start;
  closeAll(clients);
  if (got < clients.length) throw new Error(`broadcast reached ${got} of ${clients.length} clients`);
  return ms;
}

/** Clients connecting and binding at once, spread over `nodes`; connects/s until the last is in the register. */
async function register(nodes: readonly BenchNode[], tag: string): Promise<number> {
  const start = performance.now();
  const clients = await Promise.all(Array.from({ length: CFG.registerClients }, (_, i) => connect(nodes[i % nodes.length]?.wsUrl ?? '', `r-${tag}-${i}`, `rg-${i}`)));
  const secs = (performance.now() - start) / 1000;
  closeAll(clients);
  return clients.length / secs;
}

async function measure(
  nodes: readonly BenchNode[],
): Promise<{
  unicast: Awaited<ReturnType<typeof unicast>>;
  idleCpuPct: number;
  cpuUsPerMsg: number;
  peerCallsPerMsg: Record<string, number>;
  topics: TopicPhaseResult & { cpuUsPerPublish: number; peerCallsPerPublish: Record<string, number> };
  broadcastMs: number;
  connectsPerSec: number;
}> {
  const [a, b, c] = nodes;
  if (a === undefined) throw new Error('no node');
  let users: string[];
  if (nodes.length === 1) users = Array.from({ length: CFG.users }, (_, i) => `u${i}`);
  else {
    // Users owned by the first node, pushed through the second, clients on the third.
    users = [];
    for (let i = 0; users.length < CFG.users && i < CFG.users * 20; i++) if ((await a.ownerOf(`u${i}`)) === a.id) users.push(`u${i}`);
  }
  // What the nodes use with nothing to do (Raft heartbeats, polls, timers), to read the figure per message against.
  const idle0 = nodes.reduce((t, n) => t + n.cpuNs(), 0);
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const idleCpuPct = (nodes.reduce((t, n) => t + n.cpuNs(), 0) - idle0) / 1e6 / IDLE_MS * 100;
  const before = await peerCalls(nodes);
  const cpu0 = nodes.reduce((t, n) => t + n.cpuNs(), 0);
  const uni = await unicast(b ?? a, c ?? a, users);
  const cpuUsPerMsg = (nodes.reduce((t, n) => t + n.cpuNs(), 0) - cpu0) / 1000 / Math.max(1, uni.received);
  const peerCallsPerMsg = perEach(before, await peerCalls(nodes), uni.received);
  // Topics owned by the first node, published through the second, the subscriber on the third.
  const voters = nodes.map((n) => ({ id: n.id, role: 'voter' as const, peer: '', api: '', gateway: '', zone: 'default' }));
  const topics: string[] = [];
  for (let i = 0; topics.length < CFG.topics && i < CFG.topics * 20; i++) if (nodes.length === 1 || ownerOf(voters, topicKey(APP, `t${i}`))?.id === a.id) topics.push(`t${i}`);
  const tcalls0 = await peerCalls(nodes);
  const tcpu0 = nodes.reduce((t, n) => t + n.cpuNs(), 0);
  const tp = unicastOnly ? { perSec: NaN, p99: NaN, errors: 0, received: 0 } : await topicPhase(CFG, CFG.publishes, b ?? a, [c ?? a], topics);
  const cpuUsPerPublish = unicastOnly ? NaN : (nodes.reduce((t, n) => t + n.cpuNs(), 0) - tcpu0) / 1000 / Math.max(1, tp.received);
  const topicsResult = { ...tp, cpuUsPerPublish, peerCallsPerPublish: perEach(tcalls0, await peerCalls(nodes), tp.received) };
  const broadcastMs = unicastOnly ? NaN : await broadcast(nodes);
  const connectsPerSec = unicastOnly ? NaN : await register(nodes, nodes.length === 1 ? 'one' : 'three');
  return { unicast: uni, idleCpuPct, cpuUsPerMsg, peerCallsPerMsg, topics: topicsResult, broadcastMs, connectsPerSec };
}

async function main(): Promise<void> {
  const one = await startCluster(1, 'solo');
  const solo = await measure(one);
  for (const n of one) await n.stop();
  const three = await startCluster(3, 'c', cpuProfDir);
  const cluster = await measure(three);
  for (const n of three) await n.stop();
  const rows = [
    ['unicast qos 1 (msgs/s)', fmtInt(solo.unicast.msgsPerSec), fmtInt(cluster.unicast.msgsPerSec), fmtRatio(cluster.unicast.msgsPerSec / solo.unicast.msgsPerSec)],
    ['unicast p99', fmtMs(solo.unicast.p99), fmtMs(cluster.unicast.p99), fmtRatio(cluster.unicast.p99 / solo.unicast.p99)],
    ['unicast node CPU per message (µs)', fmtInt(solo.cpuUsPerMsg), fmtInt(cluster.cpuUsPerMsg), fmtRatio(cluster.cpuUsPerMsg / solo.cpuUsPerMsg)],
    [`topic publishes over ${CFG.topics} topics (/s)`, fmtInt(solo.topics.perSec), fmtInt(cluster.topics.perSec), fmtRatio(cluster.topics.perSec / solo.topics.perSec)],
    ['topic publish → subscriber p99', fmtMs(solo.topics.p99), fmtMs(cluster.topics.p99), fmtRatio(cluster.topics.p99 / solo.topics.p99)],
    ['topic node CPU per publish (µs)', fmtInt(solo.topics.cpuUsPerPublish), fmtInt(cluster.topics.cpuUsPerPublish), fmtRatio(cluster.topics.cpuUsPerPublish / solo.topics.cpuUsPerPublish)],
    ['node CPU when idle, all nodes (% of a core)', solo.idleCpuPct.toFixed(1), cluster.idleCpuPct.toFixed(1), fmtRatio(cluster.idleCpuPct / solo.idleCpuPct)],
    [`broadcast to ${CFG.broadcastClients} clients`, fmtMs(solo.broadcastMs), fmtMs(cluster.broadcastMs), fmtRatio(cluster.broadcastMs / solo.broadcastMs)],
    [`register: ${CFG.registerClients} connects+binds (/s)`, fmtInt(solo.connectsPerSec), fmtInt(cluster.connectsPerSec), fmtRatio(cluster.connectsPerSec / solo.connectsPerSec)],
  ];
  console.log(
    `bench:cluster${quick ? ' --quick' : ''}: ${CFG.pushes} pushes over ${CFG.users} users and ${CFG.publishes} topic publishes over ${CFG.topics} topics (${CFG.inflight} in flight); errors: pushes one node ${solo.unicast.errors}, three ${cluster.unicast.errors}; publishes one node ${solo.topics.errors}, three ${cluster.topics.errors}`,
  );
  console.log(renderTable(['', 'one node', 'three nodes', 'three / one'], rows));
  const callLine = (per: Record<string, number>): string => {
    const calls = Object.entries(per).sort(([a], [b]) => a.localeCompare(b));
    return `${calls.map(([m, v]) => `${m} ${v.toFixed(3)}`).join(', ')}; total ${calls.reduce((t, [, v]) => t + v, 0).toFixed(3)}`;
  };
  console.log(`peer calls per delivered message, three nodes, unicast phase: ${callLine(cluster.peerCallsPerMsg)}`);
  if (!unicastOnly) console.log(`peer calls per publish received, three nodes, topic phase (owner, publisher's node, subscriber's node: one each): ${callLine(cluster.topics.peerCallsPerPublish)}`);
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/cluster-${quick ? 'quick' : 'full'}-${new Date().toISOString().slice(0, 16).replace(/[-:]/g, '')}.json`;
  writeFileSync(file, JSON.stringify({ config: CFG, one: solo, three: cluster }, null, 2) + '\n');
  console.log(`saved ${file}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
