// The delivery workload on a real node: devices bound and acking, pushers
// through the API, a seeded nemesis (kill -9 + restart, pause, network blips),
// then a healed phase in which every device must converge; then the checker.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDelivery, type CheckResult } from '../checker/delivery.js';
import type { PushOp } from '../checker/history.js';
import type { LongwireProcess } from '../cluster/longwire-process.js';
import { KeeperCluster } from '../cluster/keeper-cluster.js';
import { Rng } from '../cluster/rng.js';
import { formatSchedule, makeSchedule, type Fault } from '../nemesis/schedule.js';
import { Device } from './device.js';
import { pushLoop } from './pusher.js';

export interface DeliveryRunOptions {
  readonly seed: number;
  /** Nodes in the cluster (joined through the first); devices and pushes go to random nodes. */
  readonly nodes: number;
  readonly faultMs: number;
  readonly users: number;
  readonly devicesPerUser: number;
  readonly pushers: number;
  readonly meanFaultGapMs: number;
  /** How long the healed phase may take to converge. */
  readonly healMs: number;
  readonly fsync: boolean;
  readonly log: (line: string) => void;
}

export interface DeliveryRunResult {
  readonly seed: number;
  readonly schedule: readonly Fault[];
  readonly result: CheckResult;
  readonly converged: boolean;
  /** Kept only when the run failed (or LONGWIRE_JEPSEN_KEEP=1). */
  readonly reportPath: string;
}

const APP = 'jepsen';
const ADMIN_TOKEN = 'jepsen-admin-token-0123456789';
const TOKEN_SECRET = 'jepsen-token-secret-0123456789';
const API_KEY = 'jepsen-api-key-0123456789';

export async function runDelivery(o: DeliveryRunOptions): Promise<DeliveryRunResult> {
  const rng = new Rng(o.seed);
  const schedule = makeSchedule(rng, o.faultMs, o.meanFaultGapMs);
  o.log(`SEED=${o.seed} nodes=${o.nodes} faultMs=${o.faultMs} users=${o.users} devicesPerUser=${o.devicesPerUser} pushers=${o.pushers} fsync=${o.fsync}\nschedule:\n${formatSchedule(schedule)}`);
  const dir = await mkdtemp(join(tmpdir(), 'longwire-jepsen-'));
  const cluster = new KeeperCluster({ dir, count: o.nodes, adminToken: ADMIN_TOKEN, ownUids: false, extraArgs: o.fsync ? ['--fsync'] : [] });
  await cluster.create();
  // Clients pick a node at random per attempt and per push: any node must route to the owner.
  const routeRng = new Rng(o.seed * 7 + 1);
  const anyNode = (): LongwireProcess => {
    const up = cluster.nodes.filter((n) => n.running && !n.paused);
    return routeRng.pick(up.length > 0 ? up : cluster.nodes);
  };
  const devices: Device[] = [];
  const pushes: PushOp[] = [];
  // A failing run keeps its report, history and data dir for inspection.
  let keep = process.env.LONGWIRE_JEPSEN_KEEP === '1';
  try {
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
    const t0 = Date.now();
    const faultsOver = (): boolean => Date.now() - t0 >= o.faultMs;
    const pushing = Array.from({ length: o.pushers }, (_, w) =>
      pushLoop({ apiUrl: () => anyNode().apiUrl, app: APP, apiKey: API_KEY, users, rng: new Rng(o.seed * 31 + w), worker: w, until: faultsOver, opsMax: 100_000, out: pushes }),
    );
    for (const f of schedule) {
      const wait = t0 + f.at - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      switch (f.kind) {
        case 'kill-restart': {
          const victim = rng.pick(cluster.ids);
          await cluster.node(victim).kill9();
          await new Promise((r) => setTimeout(r, f.downMs));
          await cluster.startNode(victim);
          break;
        }
        case 'pause': {
          const victim = cluster.node(rng.pick(cluster.ids));
          victim.pause();
          await new Promise((r) => setTimeout(r, f.pauseMs));
          victim.resume();
          break;
        }
        case 'blip':
          for (let i = 0; i < f.devices; i++) rng.pick(devices).blip();
          break;
      }
    }
    await Promise.all(pushing);
    // Healed phase: no faults; every device must catch up with every answered push of its user.
    for (const id of cluster.ids) await cluster.startNode(id);
    const lastSeq = new Map<string, number>();
    for (const p of pushes) if (p.outcome.kind === 'ok') lastSeq.set(p.user, Math.max(lastSeq.get(p.user) ?? 0, p.outcome.seq));
    const healDeadline = Date.now() + o.healMs;
    let converged = false;
    while (Date.now() < healDeadline) {
      converged = devices.every((d) => d.processed >= (lastSeq.get(d.user) ?? 0));
      if (converged) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const histories = devices.map((d) => d.stop());
    const result = checkDelivery({ pushes, devices: histories });
    await mkdir(join(dir, 'report'), { recursive: true });
    const reportPath = join(dir, 'report', `delivery-${o.seed}.json`);
    await writeFile(reportPath, JSON.stringify({ seed: o.seed, options: { ...o, log: undefined }, schedule, converged, result, pushes, devices: histories }, null, 1));
    if (!result.ok || !converged) keep = true;
    return { seed: o.seed, schedule, result, converged, reportPath };
  } finally {
    for (const d of devices) d.stop();
    await cluster.stopAll();
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

/** Creates the app, retrying while the cluster settles (503 until a leader is known). */
async function createApp(nodes: readonly LongwireProcess[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last = 0;
  while (Date.now() < deadline) {
    for (const n of nodes) {
      const put = await fetch(`${n.apiUrl}/v1/apps/${APP}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey: API_KEY, tokenSecret: TOKEN_SECRET, limits: { maxInbox: 100_000, defaultTtl: 3600, maxRedeliveries: 1000 } }),
      }).catch(() => undefined);
      if (put?.status === 200) return;
      last = put?.status ?? -1;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`app create: ${last}`);
}
