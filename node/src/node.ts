// The composition root: opens the stores, wires the parts and listens. Shut
// down in order: stop accepting, close connections, flush cursors and the
// saver, close the keeper.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RaftKeeper } from '../../keeper/src/raft-keeper.js';
import type { JoinInfo, Keeper } from '../../keeper/src/keeper.js';
import { AppRegistry } from './apps.js';
import { Broadcasts } from './broadcast.js';
import { buildApp } from './center/app.js';
import type { NodeConfig } from './config.js';
import { Coordinator } from './coordinator.js';
import { Delivery } from './delivery.js';
import { Gateway } from './gateway/gateway.js';
import { Hub } from './hub.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { keeperGauges, raftMetrics } from './raft-metrics.js';
import { Pusher } from './pusher.js';
import { PushRouter } from './push-router.js';
import { Peers } from './peer/peers.js';
import { DEFAULT_PEER_LIMITS } from './peer/peer-client.js';
import { Inboxes } from './inbox.js';
import { StoredNotifier } from './stored-notifier.js';
import { ClusterBroadcasts } from './cluster-broadcasts.js';
import { ClusterTopics } from './cluster-topics.js';
import { OwnerMoves } from './owner-moves.js';
import { Ownership } from './ownership.js';
import { HandoffGate } from './handoff-gate.js';
import { Drainer } from './drain.js';
import { openSaver } from './saver/saver-level.js';
import type { Saver } from './saver/saver.js';
import { DEFAULT_GATEWAY_SETTINGS, DEFAULT_PUSH_SETTINGS, DEFAULT_STATUS_SETTINGS } from './settings.js';
import { NodeSettings } from './node-settings.js';
import { StatusCallbacks } from './status-callbacks.js';
import { LingeringSessions } from './gateway/lingering.js';
import { AddressLimiter } from './address-limiter.js';
import type { GatewayContext } from './gateway/context.js';

/** How often the saver drops expired messages and old records. */
const SWEEP_MS = 10_000;
/** On stop, how long clients get to finish their close handshake after `redirect` before they are cut. */
export const DRAIN_WAIT_MS = 5000;

export interface RunningNode {
  readonly adminToken: string;
  readonly adminTokenCreated: boolean;
  readonly gatewayPort: number;
  readonly apiPort: number;
  readonly keeper: Keeper;
  readonly apps: AppRegistry;
  readonly log: Logger;
  stop(): Promise<void>;
}

/**
 * The admin token is the cluster's: a given --admin-token is saved in the
 * data dir when none is saved yet (a joined node restarted without flags keeps
 * the cluster's token); otherwise the saved one is used, or a new one made.
 */
async function adminTokenOf(cfg: NodeConfig): Promise<{ token: string; created: boolean }> {
  const file = join(cfg.dataDir, 'admin-token');
  if (cfg.adminToken !== undefined) {
    await writeFile(file, cfg.adminToken + '\n', { mode: 0o600, flag: 'wx' }).catch(() => undefined);
    return { token: cfg.adminToken, created: false };
  }
  try {
    return { token: (await readFile(file, 'utf8')).trim(), created: false };
  } catch {
    const token = randomBytes(24).toString('base64url');
    await writeFile(file, token + '\n', { mode: 0o600 });
    return { token, created: true };
  }
}

/** How long a joining node keeps asking the member it was pointed at (it may be electing a leader). */
export const JOIN_WAIT_MS = 30_000;

/** Asks the member at `url` (POST /v1/cluster/members) to add this node as a learner. */
async function requestJoin(cfg: NodeConfig, url: string, adminToken: string, log: Logger): Promise<JoinInfo> {
  const addr = (h: { host: string; port: number }): string => `${h.host}:${h.port}`;
  const body = { id: cfg.id, peer: addr(cfg.peer), api: addr(cfg.api), gateway: addr(cfg.gateway), zone: cfg.zone };
  const deadline = Date.now() + JOIN_WAIT_MS;
  for (;;) {
    let retry: string;
    try {
      const res = await fetch(`${url.replace(/\/+$/, '')}/v1/cluster/members`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (res.ok) return JSON.parse(text) as JoinInfo;
      if (res.status !== 503 && res.status !== 409) throw new Error(`join via ${url} refused (${res.status}): ${text}`);
      retry = `${res.status} ${text}`;
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('join via')) throw err;
      retry = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) throw new Error(`join via ${url} failed for ${JOIN_WAIT_MS} ms: ${retry}`);
    log.warn({ url, reason: retry }, 'join: retrying');
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function startNode(cfg: NodeConfig): Promise<RunningNode> {
  const log = createLogger({ level: cfg.logLevel, pretty: cfg.prettyLogs, nodeId: cfg.id });
  await mkdir(cfg.dataDir, { recursive: true });
  const admin = await adminTokenOf(cfg);
  const now = (): number => Date.now();
  const addr = (h: { host: string; port: number }): string => `${h.host}:${h.port}`;
  const metrics = new Metrics();
  const joinUrl = cfg.join;
  const raftKeeper = await RaftKeeper.open({
    dataDir: join(cfg.dataDir, 'raft'),
    member: { id: cfg.id, peer: addr(cfg.peer), api: addr(cfg.api), gateway: addr(cfg.gateway), zone: cfg.zone },
    // Used only on an empty data dir; a restarted member finds its cluster in its Raft log.
    ...(joinUrl === undefined ? {} : { join: () => requestJoin(cfg, joinUrl, admin.token, log) }),
    metrics: raftMetrics(metrics.registry),
    onFatal: (err) => {
      log.fatal({ err }, 'keeper storage failed: exiting');
      process.exit(1);
    },
  });
  keeperGauges(metrics.registry, raftKeeper);
  const keeper: Keeper = raftKeeper;
  const saver: Saver = await openSaver({ dir: join(cfg.dataDir, 'saver'), fsync: cfg.fsync });
  const hub = new Hub();
  const apps = new AppRegistry(keeper);
  await apps.start();
  const nodeSettings = new NodeSettings({ ...DEFAULT_GATEWAY_SETTINGS, heartbeatSeconds: cfg.heartbeatSeconds }, keeper, log);
  await nodeSettings.start();
  // Data links to peers go to their API port (docs/PROTOCOL.md, "Where this build differs").
  const peers = new Peers(admin.token, DEFAULT_PEER_LIMITS);
  const ownership = new Ownership(cfg.id, keeper);
  await ownership.start();
  const gate = new HandoffGate(cfg.id, ownership, saver, peers, metrics);
  const inboxes = new Inboxes(cfg.id, ownership, saver, peers, gate);
  const delivery = new Delivery(saver, hub, apps, () => nodeSettings.gateway.inflightMsgsMax, (err) => log.error({ err }, 'delivery failed'), inboxes);
  const notifier = new StoredNotifier(cfg.id, keeper, peers, (err) => log.error({ err }, 'stored notice failed'));
  const topics = new ClusterTopics(cfg.id, keeper, saver, hub, peers);
  const coordinator = new Coordinator(apps, metrics, now);
  const status = new StatusCallbacks(apps, DEFAULT_STATUS_SETTINGS, metrics, now);
  const lingering = new LingeringSessions(
    (session, device, left) => {
      keeper
        .register(left.map((b) => ({ op: 'remove' as const, app: b.app, user: b.user, session })))
        .catch((err: unknown) => log.error({ err }, 'register remove failed'));
      for (const b of left) status.emit(b.app, { user: b.user, device, session, online: false });
    },
    (n) => metrics.lingering.set(n),
  );
  const addresses = new AddressLimiter(() => nodeSettings.gateway);
  const ctx: GatewayContext = {
    nodeId: cfg.id,
    tls: false,
    get settings() {
      return nodeSettings.gateway;
    },
    get ipPolicy() {
      return nodeSettings.ipPolicy;
    },
    hub,
    apps,
    delivery,
    saver,
    topicHistory: (app, topic, after) => topics.history(app, topic, after),
    keeper,
    coordinator,
    log,
    metrics,
    status,
    lingering,
    addresses,
    now,
  };
  const gateway = new Gateway(ctx, ctx.tls, () => ownership.ringMembers());
  const ownerMoves = new OwnerMoves(ownership, hub, ctx.tls);
  const drainer = new Drainer(cfg.id, ownership, saver, peers, () => gateway.drain('node-removed', DRAIN_WAIT_MS, true), metrics, log);
  const pusher = new Pusher(saver, delivery, hub, now, notifier, gate);
  const router = new PushRouter(cfg.id, keeper, pusher, peers, ownership);
  const broadcasts = new Broadcasts(saver, hub, delivery, metrics, DEFAULT_PUSH_SETTINGS.broadcastJobsMax, now);
  const clusterBroadcasts = new ClusterBroadcasts(cfg.id, keeper, broadcasts, peers);
  metrics.observe({ connectionsByApp: () => hub.connectionsByApp(), broadcastsRunning: () => broadcasts.running() });
  const api = buildApp({ nodeId: cfg.id, adminToken: admin.token, keeper, apps, pusher, router, broadcasts, clusterBroadcasts, topics, saver, delivery, hub, metrics, log, push: DEFAULT_PUSH_SETTINGS, now, ownership, drainer, gate, peers });

  const sweeper = setInterval(() => {
    saver.sweep(now()).catch((err: unknown) => log.error({ err }, 'sweep failed'));
  }, SWEEP_MS);
  sweeper.unref();

  const gatewayPort = await gateway.listen(cfg.gateway.host, cfg.gateway.port);
  await api.listen({ host: cfg.api.host, port: cfg.api.port });
  const apiAddr = api.server.address();
  const apiPort = typeof apiAddr === 'object' && apiAddr !== null ? apiAddr.port : cfg.api.port;
  log.info({ gateway: `${cfg.gateway.host}:${gatewayPort}`, api: `${cfg.api.host}:${apiPort}`, dataDir: cfg.dataDir, fsync: cfg.fsync }, 'listening');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      clearInterval(sweeper);
      ownerMoves.close();
      ownership.close();
      await gateway.drain('shutdown', DRAIN_WAIT_MS);
      await api.close();
      await gateway.close();
      // Let socket close handlers release their bindings before the final flush.
      await new Promise((r) => setImmediate(r));
      await delivery.close();
      // After the last cursor writes, which go to the owners of remote inboxes.
      await peers.close();
      lingering.close();
      status.close();
      nodeSettings.close();
      apps.close();
      await saver.close();
      await keeper.close();
    })());

  return { adminToken: admin.token, adminTokenCreated: admin.created, gatewayPort, apiPort, keeper, apps, log, stop };
}
