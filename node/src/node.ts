// The composition root: opens the stores, wires the parts and listens. Shut
// down in order: stop accepting, close connections, flush cursors and the
// saver, close the keeper.
import { announceFeatures } from './member-features.js';
import { X509Certificate, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { Agent, fetch as undiciFetch } from 'undici';
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
import { DEFAULT_PEER_LIMITS, peerCallName } from './peer/peer-client.js';
import { Inboxes } from './inbox.js';
import { StoredNotifier } from './stored-notifier.js';
import { ClusterBroadcasts } from './cluster-broadcasts.js';
import { ClusterTopics } from './cluster-topics.js';
import { TopicReaper } from './topic-reaper.js';
import { OwnerMoves } from './owner-moves.js';
import { Ownership } from './ownership.js';
import { HandoffGate } from './handoff-gate.js';
import { Drainer } from './drain.js';
import { JoinMove } from './join-move.js';
import { JoinRelease } from './join-release.js';
import { openSaver } from './saver/saver-level.js';
import type { Saver } from './saver/saver.js';
import { DEFAULT_GATEWAY_SETTINGS, DEFAULT_PUSH_SETTINGS, DEFAULT_STATUS_SETTINGS } from './settings.js';
import { NodeSettings } from './node-settings.js';
import { StatusCallbacks } from './status-callbacks.js';
import { LingeringSessions } from './gateway/lingering.js';
import { AddressLimiter } from './address-limiter.js';
import type { GatewayContext } from './gateway/context.js';
import type { PeerSecurity, PeerTlsPem } from '../../keeper/src/raft-worker-messages.js';
import { AdminTokens } from './admin-tokens.js';
import { Auth } from './center/auth.js';
import { PeerAuth } from './peer/peer-auth.js';
import { PeerHttp, peerConnectOptions, type PeerTransport } from './peer/peer-http.js';
import { PeerKey } from './peer/peer-key.js';
import { joinProof, type JoinCredentials } from './join-proof.js';
import { readTlsPair, type TlsPair } from './server-tls.js';
import type { Server as HttpsServer } from 'node:https';

/** How often the saver drops expired messages and old records. */
const SWEEP_MS = 10_000;
/** A full API port is logged at most this often (every refusal is counted). */
const DROP_WARN_EVERY_MS = 10_000;
/** On stop, how long clients get to finish their close handshake after `redirect` before they are cut. */
export const DRAIN_WAIT_MS = 5000;

export interface RunningNode {
  /** This node's admin token; none on a node that joined with a cluster secret or certificate and no --admin-token. */
  readonly adminToken: string | undefined;
  readonly adminTokenCreated: boolean;
  readonly gatewayPort: number;
  readonly apiPort: number;
  readonly keeper: Keeper;
  readonly apps: AppRegistry;
  readonly log: Logger;
  /** Re-reads --tls-cert/--tls-key for new connections (SIGHUP); throws, keeping the old pair, if they do not load. */
  reloadTls(): void;
  /** Re-reads --peer-ca/--peer-cert/--peer-key for Raft links made from now on (SIGHUP); rejects, keeping the old, if they do not load. */
  reloadPeerTls(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The admin token is the cluster's: a given --admin-token is saved in the
 * data dir when none is saved yet (a joined node restarted without flags keeps
 * the cluster's token); otherwise the saved one is used, or a new one made.
 */
async function adminTokenOf(cfg: NodeConfig, joining: boolean): Promise<{ token: string | undefined; created: boolean }> {
  const file = join(cfg.dataDir, 'admin-token');
  if (cfg.adminToken !== undefined) {
    await writeFile(file, cfg.adminToken + '\n', { mode: 0o600, flag: 'wx' }).catch(() => undefined);
    return { token: cfg.adminToken, created: false };
  }
  try {
    return { token: (await readFile(file, 'utf8')).trim(), created: false };
  } catch {
    // A joining node uses the cluster's tokens (kept in the keeper); a new one would be valid nowhere.
    if (joining) return { token: undefined, created: false };
    const token = randomBytes(24).toString('base64url');
    await writeFile(file, token + '\n', { mode: 0o600 });
    return { token, created: true };
  }
}

/** How long a joining node keeps asking the member it was pointed at (it may be electing a leader). */
export const JOIN_WAIT_MS = 30_000;

/**
 * Asks the member at `url` (POST /v1/cluster/members) to add this node as a
 * learner, proving the right to with the cluster secret or the peer
 * certificate (join-proof.ts), or in development with the admin token.
 */
async function requestJoin(cfg: NodeConfig, url: string, creds: JoinCredentials, adminToken: string | undefined, transport: PeerTransport, log: Logger): Promise<JoinInfo> {
  const addr = (h: { host: string; port: number }): string => `${h.host}:${h.port}`;
  const body = JSON.stringify({ id: cfg.id, peer: addr(cfg.peer), api: addr(cfg.api), gateway: addr(cfg.gateway), zone: cfg.zone });
  const dispatcher = new Agent({ connect: peerConnectOptions(transport) });
  const deadline = Date.now() + JOIN_WAIT_MS;
  for (;;) {
    let retry: string;
    try {
      // A fresh proof per attempt: each is good for a short window only.
      const proof = joinProof(creds, body, Date.now()) ?? { authorization: `Bearer ${adminToken ?? ''}` };
      const res = await undiciFetch(`${url.replace(/\/+$/, '')}/v1/cluster/members`, {
        method: 'POST',
        headers: { ...proof, 'content-type': 'application/json' },
        body,
        dispatcher,
      });
      const text = await res.text();
      if (res.ok) {
        await dispatcher.close();
        return JSON.parse(text) as JoinInfo;
      }
      if (res.status !== 503 && res.status !== 409) {
        await dispatcher.close();
        throw new Error(`join via ${url} refused (${res.status}): ${text}`);
      }
      retry = `${res.status} ${text}`;
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('join via')) throw err;
      retry = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      await dispatcher.close();
      throw new Error(`join via ${url} failed for ${JOIN_WAIT_MS} ms: ${retry}`);
    }
    log.warn({ url, reason: retry }, 'join: retrying');
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function startNode(cfg: NodeConfig): Promise<RunningNode> {
  const log = createLogger({ level: cfg.logLevel, pretty: cfg.prettyLogs, nodeId: cfg.id });
  await mkdir(cfg.dataDir, { recursive: true });
  const admin = await adminTokenOf(cfg, cfg.join !== undefined);
  const now = (): number => Date.now();
  const addr = (h: { host: string; port: number }): string => `${h.host}:${h.port}`;
  const metrics = new Metrics();
  const joinUrl = cfg.join;
  // Read now: a missing or bad file stops the start with its reason, before anything listens.
  let tlsPair: TlsPair | undefined = cfg.tls === undefined ? undefined : readTlsPair(cfg.tls);
  const peer = peerSecurityOf(cfg);
  if (peer.security.tls === undefined && peer.security.secret === undefined) {
    // Only this host can reach a loopback peer port (the demo, tests): not worth alarming anyone.
    const local = cfg.peer.host === 'localhost' || cfg.peer.host === '::1' || cfg.peer.host.startsWith('127.');
    const what = 'peer links are unauthenticated: anyone who reaches the peer port can speak Raft to this node; set --cluster-secret or --peer-ca/--peer-cert/--peer-key';
    if (local) log.info({ peer: addr(cfg.peer) }, `${what} (the peer port is on loopback)`);
    else log.warn({ peer: addr(cfg.peer) }, what);
  }
  const transport: PeerTransport = { https: tlsPair !== undefined, ...(peer.security.tls === undefined ? {} : { ca: peer.security.tls.ca }) };
  const refusals = refusalLog(log);
  const raftKeeper = await RaftKeeper.open({
    dataDir: join(cfg.dataDir, 'raft'),
    member: { id: cfg.id, peer: addr(cfg.peer), api: addr(cfg.api), gateway: addr(cfg.gateway), zone: cfg.zone },
    // Used only on an empty data dir; a restarted member finds its cluster in its Raft log.
    ...(joinUrl === undefined ? {} : { join: () => requestJoin(cfg, joinUrl, peer.join, admin.token, transport, log) }),
    metrics: raftMetrics(metrics.registry),
    quotaBytes: cfg.keeperQuotaMb * 1024 * 1024,
    groupCommitMs: cfg.keeperGroupCommitMs,
    peerSecurity: peer.security,
    onPeerRefused: (r) => {
      metrics.peerRefused.labels('raft', r.auth ? 'auth' : 'protocol').inc();
      refusals({ link: 'raft', remote: r.remote, reason: r.reason });
    },
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
  const adminTokens = new AdminTokens(keeper, now);
  await adminTokens.start(admin.token);
  const peerKey = new PeerKey(keeper);
  await peerKey.start();
  await announceFeatures(keeper, cfg.id);
  const peerAuth = new PeerAuth({ selfId: cfg.id, key: () => peerKey.value, isMember: (id) => keeper.cluster().members.some((m) => m.id === id), now });
  const auth = new Auth(adminTokens, peerAuth, (reason) => {
    metrics.peerRefused.labels('rpc', 'auth').inc();
    refusals({ link: 'rpc', reason });
  });
  const peerHttp = new PeerHttp(peerAuth, transport);
  // Data links to peers go to their API port (docs/PROTOCOL.md, "Where this build differs").
  const peers = new Peers(peerAuth, transport, DEFAULT_PEER_LIMITS, (method, body) => metrics.peerCalls.labels(peerCallName(method, body)).inc());
  const ownership = new Ownership(cfg.id, keeper);
  await ownership.start();
  // While a join moves users of this node to the joiner, none of them gets a seq or cursor here (ownership.ts).
  saver.setMovingOut((app, user) => ownership.movingOut(app, user));
  const gate = new HandoffGate(cfg.id, ownership, saver, peers, metrics);
  const inboxes = new Inboxes(cfg.id, ownership, saver, peers, gate);
  const delivery = new Delivery(saver, hub, apps, () => nodeSettings.gateway.inflightMsgsMax, (err) => log.error({ err }, 'delivery failed'), inboxes);
  const notifier = new StoredNotifier(cfg.id, keeper, peers, (err) => log.error({ err }, 'stored notice failed'));
  const topics = new ClusterTopics(cfg.id, keeper, ownership, saver, hub, peers, metrics, log);
  topics.start();
  const topicReaper = new TopicReaper(keeper, {
    nodeId: cfg.id,
    idleMs: cfg.topicIdleS * 1000,
    now,
    onReaped: (n) => {
      metrics.topicKeysReaped.inc(n);
      log.info({ keys: n }, 'idle topic keys deleted');
    },
    onError: (err) => log.warn({ err }, 'idle topic keys: check failed'),
  });
  topicReaper.start();
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
    tls: tlsPair !== undefined,
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
    topicSubscribed: (app, topic) => topics.subscribed(app, topic),
    keeper,
    coordinator,
    log,
    metrics,
    status,
    lingering,
    addresses,
    now,
  };
  const gateway = new Gateway(ctx, tlsPair, () => ownership.ringMembers());
  const ownerMoves = new OwnerMoves(ownership, hub, ctx.tls);
  const drainer = new Drainer(cfg.id, ownership, saver, peers, topics, () => gateway.drain('node-removed', DRAIN_WAIT_MS, true), metrics, log);
  const release = new JoinRelease(ownership, saver, peers, topics, metrics, log);
  const joinMove = new JoinMove(cfg.id, keeper, ownership, peers, metrics, log);
  const pusher = new Pusher(saver, delivery, hub, now, notifier, gate);
  const router = new PushRouter(cfg.id, keeper, pusher, peers, ownership);
  const broadcasts = new Broadcasts(saver, hub, delivery, metrics, DEFAULT_PUSH_SETTINGS.broadcastJobsMax, now);
  const clusterBroadcasts = new ClusterBroadcasts(cfg.id, keeper, broadcasts, peers);
  metrics.observe({ connectionsByApp: () => hub.connectionsByApp(), broadcastsRunning: () => broadcasts.running(), topicAudienceKeys: () => topics.audienceKeys() });
  const api = buildApp({ nodeId: cfg.id, auth, adminTokens, peerHttp, join: peer.join, keeper, watchesMax: cfg.watchesMax, apps, pusher, router, broadcasts, clusterBroadcasts, topics, saver, delivery, hub, metrics, log, push: DEFAULT_PUSH_SETTINGS, now, ownership, drainer, release, gate, peers }, tlsPair);

  const sweeper = setInterval(() => {
    saver.sweep(now()).catch((err: unknown) => log.error({ err }, 'sweep failed'));
  }, SWEEP_MS);
  sweeper.unref();

  const gatewayPort = await gateway.listen(cfg.gateway.host, cfg.gateway.port);
  // Bounded so that a flood of API connections (or watch streams) cannot take
  // the file descriptors the gateway's clients and the peer links need.
  api.server.maxConnections = cfg.apiConnectionsMax;
  let dropWarnedAt = -Infinity;
  api.server.on('drop', (conn?: { remoteAddress?: string }) => {
    metrics.apiConnectionsRefused.inc();
    const t = performance.now();
    if (t - dropWarnedAt < DROP_WARN_EVERY_MS) return;
    dropWarnedAt = t;
    log.warn({ remote: conn?.remoteAddress, max: cfg.apiConnectionsMax }, 'API port at --api-connections-max: new connections are closed (longwire_api_connections_refused_total counts them)');
  });
  await api.listen({
    host: cfg.api.host,
    port: cfg.api.port,
    // Fastify names the scheme from its own `https` option, which the server factory bypasses.
    ...(tlsPair === undefined ? {} : { listenTextResolver: (address: string) => `Server listening at ${address.replace(/^http:/, 'https:')}` }),
  });
  const apiAddr = api.server.address();
  const apiPort = typeof apiAddr === 'object' && apiAddr !== null ? apiAddr.port : cfg.api.port;
  log.info(
    { gateway: `${cfg.gateway.host}:${gatewayPort}`, api: `${cfg.api.host}:${apiPort}`, tls: tlsPair !== undefined, peerAuth: peer.mode, dataDir: cfg.dataDir, fsync: cfg.fsync },
    'listening',
  );

  const reloadTls = (): void => {
    if (cfg.tls === undefined) throw new Error('no --tls-cert/--tls-key to reload');
    const next = readTlsPair(cfg.tls);
    gateway.setTls(next);
    (api.server as unknown as HttpsServer).setSecureContext({ cert: next.cert, key: next.key });
    tlsPair = next;
    log.info({ cert: cfg.tls.certFile }, 'TLS certificate reloaded');
  };

  const reloadPeerTls = async (): Promise<void> => {
    if (cfg.peerTls === undefined) throw new Error('no --peer-ca/--peer-cert/--peer-key to reload');
    await raftKeeper.reloadPeerTls(readPeerTls(cfg.id, cfg.peerTls));
    log.info({ cert: cfg.peerTls.certFile }, 'peer TLS certificate reloaded (links made from now on use it)');
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      clearInterval(sweeper);
      ownerMoves.close();
      joinMove.close();
      ownership.close();
      await gateway.drain('shutdown', DRAIN_WAIT_MS);
      await api.close();
      await gateway.close();
      // Let socket close handlers release their bindings before the final flush.
      await new Promise((r) => setImmediate(r));
      await delivery.close();
      topics.stop();
      // After the last cursor writes, which go to the owners of remote inboxes.
      await peers.close();
      await peerHttp.close();
      adminTokens.close();
      topicReaper.close();
      peerKey.close();
      lingering.close();
      status.close();
      nodeSettings.close();
      apps.close();
      await saver.close();
      await keeper.close();
    })());

  return { adminToken: admin.token, adminTokenCreated: admin.created, gatewayPort, apiPort, keeper, apps, log, reloadTls, reloadPeerTls, stop };
}

/** The peer CA, certificate and key, read and checked (at start, and again on SIGHUP). */
function readPeerTls(id: string, f: NonNullable<NodeConfig['peerTls']>): PeerTlsPem {
  let tls: PeerTlsPem;
  try {
    tls = { ca: readFileSync(f.caFile, 'utf8'), cert: readFileSync(f.certFile, 'utf8'), key: readFileSync(f.keyFile, 'utf8') };
  } catch (err) {
    throw new Error(`cannot read peer TLS files: ${err instanceof Error ? err.message : String(err)}`);
  }
  // Peers check that a link's certificate names the member it claims to be: ours must name us.
  const cn = new X509Certificate(tls.cert).subject.split('\n').find((l) => l.startsWith('CN='));
  if (cn !== `CN=${id}`) throw new Error(`--peer-cert must name this node (CN=${id}), it has ${cn ?? 'no CN'}`);
  return tls;
}

/** How peer links and joins authenticate, from the flags: files read and checked now. */
function peerSecurityOf(cfg: NodeConfig): { security: PeerSecurity; join: JoinCredentials; mode: 'mtls' | 'secret' | 'mtls+secret' | 'none' } {
  const tls = cfg.peerTls === undefined ? undefined : readPeerTls(cfg.id, cfg.peerTls);
  const secret = cfg.clusterSecret;
  const security: PeerSecurity = { ...(tls === undefined ? {} : { tls }), ...(secret === undefined ? {} : { secret: Buffer.from(secret, 'utf8') }) };
  const join: JoinCredentials = { ...(tls === undefined ? {} : { tls }), ...(secret === undefined ? {} : { secret }) };
  const mode = tls !== undefined && secret !== undefined ? 'mtls+secret' : tls !== undefined ? 'mtls' : secret !== undefined ? 'secret' : 'none';
  return { security, join, mode };
}

/** Logs refused peers at most once per REFUSAL_LOG_MS (with the count since): a flood must not flood the log. */
const REFUSAL_LOG_MS = 10_000;
function refusalLog(log: Logger): (what: Record<string, unknown>) => void {
  let last = 0;
  let since = 0;
  return (what) => {
    since++;
    const t = Date.now();
    if (t - last < REFUSAL_LOG_MS) return;
    log.warn({ ...what, refusedSinceLastLog: since }, 'peer refused');
    last = t;
    since = 0;
  };
}
