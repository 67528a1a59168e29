// The delivery workload on real nodes: devices bound and acking, pushers
// through the API, topic publishers and subscribers, a seeded nemesis (kill -9 + restart, pause, network blips,
// and with more than one node partitions and leader-transfer storms), then a
// healed phase in which every device must converge and each topic's history
// is read; then the checkers (delivery, topics).
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDelivery, type CheckResult } from '../checker/delivery.js';
import type { PushOp } from '../checker/history.js';
import type { LongwireProcess } from '../cluster/longwire-process.js';
import { KeeperCluster } from '../cluster/keeper-cluster.js';
import { networkMode } from '../cluster/netns.js';
import { Rng } from '../cluster/rng.js';
import { resolvePartition } from '../nemesis/kv-schedule.js';
import type { NemesisEvent } from '../nemesis/nemesis-event.js';
import { Partitioner, partitionsAvailable, usableNemeses } from '../nemesis/partition.js';
import { formatSchedule, makeSchedule, type DeliveryNemesis, type Fault } from '../nemesis/schedule.js';
import { runMemberChange } from '../nemesis/member-change.js';
import { runTransferStorm } from '../nemesis/transfer-storm.js';
import { renderDeliveryTimeline } from '../report/delivery-timeline.js';
import { Device } from './device.js';
import { pushLoop } from './pusher.js';
import { checkTopics, type FinalHistory, type PublishOp, type TopicsCheck } from '../checker/topics.js';
import { publishLoop } from './topic-publisher.js';
import { readHistory, TopicSubscriber } from './topic-subscriber.js';
import { scrapeCounters, TOPIC_COUNTERS } from './node-counters.js';
import { ADMIN_TOKEN, API_KEY, APP, TOKEN_SECRET, createApp } from './jepsen-app.js';

export interface DeliveryRunOptions {
  readonly seed: number;
  /** Nodes in the cluster (joined through the first); devices and pushes go to random nodes. */
  readonly nodes: number;
  readonly faultMs: number;
  readonly users: number;
  readonly devicesPerUser: number;
  readonly pushers: number;
  /** Topics one publisher publishes to (through random nodes), and subscribers of all of them. */
  readonly topics: number;
  readonly topicSubscribers: number;
  readonly meanFaultGapMs: number;
  /** How long the healed phase may take to converge. */
  readonly healMs: number;
  readonly fsync: boolean;
  /** The nemeses the schedule draws from (partitions only when iptables is usable). */
  readonly nemeses: ReadonlySet<DeliveryNemesis>;
  /** Keep the report dir (history, timeline, node logs) also when the round passed. */
  readonly keepReport: boolean;
  readonly log: (line: string) => void;
}

export interface DeliveryRunResult {
  readonly seed: number;
  readonly schedule: readonly Fault[];
  readonly result: CheckResult;
  readonly topics: TopicsCheck;
  readonly converged: boolean;
  /** A fault that could not be carried out as an operator would (a removed member that did not come back). */
  readonly nemesisFailure: string | undefined;
  /** The history JSON; its dir (with timeline.html and the node logs) is kept when the run failed, keepReport or LONGWIRE_JEPSEN_KEEP=1. */
  readonly reportPath: string;
}

/** Least time between one fault healing and the next starting. */
const FAULT_QUIET_MS = 1000;
const LEADER_QUERY_MS = 500;
/** The topic history the nodes keep (node/src/saver/saver-level.ts defaults): the checker owes nothing beyond it. */
const TOPIC_HISTORY_MAX = 100;
const TOPIC_HISTORY_MS = 5 * 60_000;
/** Between one publisher's publishes: slow enough that a round's history is mostly within the cap. */
const PUBLISH_PAUSE_MS = 150;
/** How long the after-the-run read of a topic's history is repeated (its owner may just be back). */
const HISTORY_READ_WAIT_MS = 15_000;
/** How long subscribers get, after the history read, to have each topic's newest record (owners resend a missed pub every 2 s). */
const TOPIC_CAUGHT_UP_MS = 15_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runDelivery(o: DeliveryRunOptions): Promise<DeliveryRunResult> {
  const rng = new Rng(o.seed);
  const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const avail = o.nodes > 1 ? partitionsAvailable() : { ok: false as const, why: 'one node' };
  const { nemeses, partitions } = usableNemeses(o.nemeses, avail.ok);
  const schedule = makeSchedule(rng, { nodes: ids, durationMs: o.faultMs, meanGapMs: o.meanFaultGapMs, nemeses });
  o.log(
    `SEED=${o.seed} nodes=${o.nodes} faultMs=${o.faultMs} users=${o.users} devicesPerUser=${o.devicesPerUser} pushers=${o.pushers} topics=${o.topics} topicSubscribers=${o.topicSubscribers} fsync=${o.fsync} faults=${[...nemeses].join(',')}\nnetwork=${networkMode()} partitions=${partitions ? 'iptables' : `off (${avail.ok ? 'not asked for' : avail.why})`}\nschedule:\n${formatSchedule(schedule)}`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'longwire-jepsen-'));
  const reportDir = join(dir, 'report');
  await mkdir(reportDir, { recursive: true });
  const cluster = new KeeperCluster({ dir, count: o.nodes, adminToken: ADMIN_TOKEN, ownUids: partitions, extraArgs: o.fsync ? ['--fsync'] : [] });
  await cluster.create();
  const partitioner = partitions ? new Partitioner(cluster.nodes.map((n, i) => ({ id: n.spec.id, host: KeeperCluster.hostFor(i), uid: n.spec.uid ?? 0 }))) : undefined;
  const t0 = Date.now();
  const stamp = (): string => `+${Date.now() - t0}ms`;
  const nemesisEvents: NemesisEvent[] = [];
  let nemesisFailure: string | undefined;
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
    o.log(`${stamp()} SIGINT: no more faults; healing, checking and reporting`);
  };
  process.once('SIGINT', onSigint);
  // Clients pick a node at random per attempt and per push: any node must route to the owner.
  const routeRng = new Rng(o.seed * 7 + 1);
  const anyNode = (): LongwireProcess => {
    const up = cluster.nodes.filter((n) => n.running && !n.paused);
    return routeRng.pick(up.length > 0 ? up : cluster.nodes);
  };
  const devices: Device[] = [];
  const pushes: PushOp[] = [];
  const subscribers: TopicSubscriber[] = [];
  const publishes: PublishOp[] = [];
  // Topic choices draw from their own generator, so the rest of a seed's run is what it was without topics.
  const topicRng = new Rng(o.seed * 13 + 5);
  const topics = Array.from({ length: o.topics }, (_, i) => `topic-${i}`);
  // A failing run keeps its report, history and data dir for inspection.
  let passed = false;
  let keep = o.keepReport || process.env.LONGWIRE_JEPSEN_KEEP === '1';
  try {
    partitioner?.setup();
    await cluster.start();
    await createApp(cluster.nodes);
    const users = Array.from({ length: o.users }, (_, i) => `user-${i}`);
    for (const user of users) {
      for (let d = 0; d < o.devicesPerUser; d++) {
        const dev = new Device({ device: `${user}-dev${d}`, user, app: APP, tokenSecret: TOKEN_SECRET, url: () => anyNode().wsUrl });
        devices.push(dev);
        dev.start();
      }
    }
    for (let i = 0; i < o.topicSubscribers; i++) {
      const sub = new TopicSubscriber({ name: `topic-reader-${i}`, app: APP, tokenSecret: TOKEN_SECRET, topics, url: () => anyNode().wsUrl });
      subscribers.push(sub);
      sub.start();
    }
    const faultStart = Date.now();
    const faultsOver = (): boolean => interrupted || Date.now() - faultStart >= o.faultMs;
    const pushing = Array.from({ length: o.pushers }, (_, w) =>
      pushLoop({ apiUrl: () => anyNode().apiUrl, app: APP, apiKey: API_KEY, users, rng: new Rng(o.seed * 31 + w), worker: w, until: faultsOver, opsMax: 100_000, out: pushes }),
    );
    const publishing =
      topics.length === 0
        ? Promise.resolve()
        : publishLoop({ apiUrl: () => anyNode().apiUrl, app: APP, apiKey: API_KEY, topics, rng: topicRng, worker: 0, until: faultsOver, opsMax: 100_000, pauseMs: PUBLISH_PAUSE_MS, out: publishes });
    let lastHealed = Date.now();
    for (const f of schedule) {
      // At its time, but never sooner than FAULT_QUIET_MS after the previous fault healed.
      const wait = Math.max(faultStart + f.at, lastHealed + FAULT_QUIET_MS) - Date.now();
      if (wait > 0) await sleep(wait);
      if (faultsOver()) break;
      const started = Date.now();
      const logged = (label: string): void => {
        nemesisEvents.push({ kind: f.kind, label, start: started, end: Date.now() });
        o.log(`${stamp()} ${f.kind}: ${label}`);
      };
      switch (f.kind) {
        case 'kill-restart': {
          await cluster.node(f.node).kill9();
          await sleep(f.downMs);
          await cluster.startNode(f.node);
          logged(`kill -9 ${f.node}, down ${f.downMs}ms`);
          break;
        }
        case 'pause': {
          const victim = cluster.node(f.node);
          victim.pause();
          await sleep(f.pauseMs);
          victim.resume();
          logged(`SIGSTOP ${f.node} for ${f.pauseMs}ms`);
          break;
        }
        case 'blip':
          for (let i = 0; i < f.devices; i++) rng.pick(devices).blip();
          if (subscribers.length > 0) topicRng.pick(subscribers).blip();
          logged(`dropped ${f.devices} device connection(s)`);
          break;
        case 'partition': {
          if (partitioner === undefined) break;
          const sides = resolvePartition(f, (await cluster.leader(LEADER_QUERY_MS)).leader);
          partitioner.split(sides.left, sides.right);
          await sleep(f.healMs);
          partitioner.heal();
          logged(`[${sides.left.join(',')}] | [${sides.right.join(',')}] for ${f.healMs}ms`);
          break;
        }
        case 'transfer-storm': {
          const up = (): { id: string; apiUrl: string }[] => cluster.nodes.filter((n) => n.running && !n.paused).map((n) => ({ id: n.spec.id, apiUrl: n.apiUrl }));
          logged(await runTransferStorm(f, up, ADMIN_TOKEN, rng));
          break;
        }
        case 'member-change': {
          const r = await runMemberChange(f, cluster, ADMIN_TOKEN, rng, (l) => o.log(`${stamp()} ${l}`));
          logged(`membership change of ${r.node}: ${r.kind} (${r.detail})`);
          if (r.kind === 'failed') nemesisFailure ??= `membership change of ${r.node}: ${r.detail}`;
          break;
        }
      }
      lastHealed = Date.now();
    }
    await Promise.all([...pushing, publishing]);
    // Healed phase: no faults; every device must catch up with every answered push of its user.
    partitioner?.heal();
    for (const n of cluster.nodes) n.resume();
    for (const id of cluster.ids) await cluster.startNode(id);
    const lastSeq = new Map<string, number>();
    for (const p of pushes) if (p.outcome.kind === 'ok') lastSeq.set(p.user, Math.max(lastSeq.get(p.user) ?? 0, p.outcome.seq));
    const healDeadline = Date.now() + o.healMs;
    let converged = false;
    while (Date.now() < healDeadline) {
      converged = devices.every((d) => d.processed >= (lastSeq.get(d.user) ?? 0));
      if (converged) break;
      await sleep(100);
    }
    const histories = devices.map((d) => d.stop());
    const result = checkDelivery({ pushes, devices: histories });
    const finals: FinalHistory[] = [];
    for (const topic of topics) finals.push(await readFinalHistory(anyNode, topic));
    // Subscribers still connected must get each topic's newest record; given as long as the owner's resends take.
    const caughtUpDeadline = Date.now() + TOPIC_CAUGHT_UP_MS;
    const newest = finals.map((f) => ({ topic: f.topic, offset: f.records[f.records.length - 1]?.offset ?? 0 }));
    while (Date.now() < caughtUpDeadline && !subscribers.every((s) => newest.every((n) => s.lastOf(n.topic) >= n.offset))) await sleep(100);
    const counters = await scrapeCounters(cluster.nodes.map((n) => n.apiUrl), TOPIC_COUNTERS);
    o.log(`topic counters (summed over the nodes, since each one's last start): ${JSON.stringify(counters)}`);
    const topicsHistory = { publishes, subscribers: subscribers.map((s) => s.stop()), finals, historyMax: TOPIC_HISTORY_MAX, historyMs: TOPIC_HISTORY_MS };
    const topicsCheck = checkTopics(topicsHistory);
    const reportPath = join(reportDir, 'history.json');
    await writeFile(reportPath, JSON.stringify({ seed: o.seed, options: { ...o, nemeses: [...o.nemeses], log: undefined }, schedule, nemesis: nemesisEvents, nemesisFailure, converged, result, pushes, devices: histories, topics: { result: topicsCheck, ...topicsHistory } }, null, 1));
    await writeFile(join(reportDir, 'timeline.html'), renderDeliveryTimeline({ seed: o.seed, history: { pushes, devices: histories }, nemesis: nemesisEvents, result, converged }));
    passed = result.ok && topicsCheck.ok && converged && nemesisFailure === undefined;
    if (!passed) keep = true;
    return { seed: o.seed, schedule, result, topics: topicsCheck, converged, nemesisFailure, reportPath };
  } catch (err) {
    keep = true;
    throw new Error(`delivery run failed (seed ${o.seed}): ${err instanceof Error ? err.message : String(err)}\nreport: ${reportDir}`, { cause: err });
  } finally {
    process.removeListener('SIGINT', onSigint);
    for (const d of devices) d.stop();
    for (const s of subscribers) s.stop();
    await cluster.stopAll().catch((err: unknown) => o.log(`cleanup: stopping nodes failed: ${String(err)}`));
    partitioner?.teardown();
    for (const n of cluster.nodes) await writeFile(join(reportDir, `${n.spec.id}.log`), n.log).catch(() => undefined);
    if (!keep) await rm(dir, { recursive: true, force: true });
    // The report stays; the data dirs only when the run failed.
    else if (passed) for (const n of cluster.nodes) await rm(n.spec.dataDir, { recursive: true, force: true });
  }
}

/** A topic's whole history after the run, read through any node; repeated while its owner cannot be reached. */
async function readFinalHistory(anyNode: () => LongwireProcess, topic: string): Promise<FinalHistory> {
  const deadline = Date.now() + HISTORY_READ_WAIT_MS;
  for (;;) {
    try {
      return await readHistory(anyNode().wsUrl, APP, TOKEN_SECRET, topic);
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the history of ${topic} could not be read: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      await sleep(300);
    }
  }
}
