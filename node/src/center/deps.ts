// What the API needs from the node.
import type { Keeper } from '../../../keeper/src/keeper.js';
import type { AppRegistry } from '../apps.js';
import type { Broadcasts } from '../broadcast.js';
import type { ClusterBroadcasts } from '../cluster-broadcasts.js';
import type { ClusterTopics } from '../cluster-topics.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Pusher } from '../pusher.js';
import type { PushRouter } from '../push-router.js';
import type { PushSettings } from '../settings.js';
import type { Hub } from '../hub.js';
import type { Saver } from '../saver/saver.js';
import type { Delivery } from '../delivery.js';
import type { Auth } from './auth.js';
import type { KeeperWireLimits } from './keeper-wire-server.js';
import type { AdminTokens } from '../admin-tokens.js';
import type { PeerHttp } from '../peer/peer-http.js';
import type { JoinCredentials } from '../join-proof.js';
import type { Drainer } from '../drain.js';
import type { JoinRelease } from '../join-release.js';
import type { HandoffGate } from '../handoff-gate.js';
import type { Ownership } from '../ownership.js';
import type { Peers } from '../peer/peers.js';

export interface CenterDeps {
  readonly nodeId: string;
  readonly auth: Auth;
  readonly adminTokens: AdminTokens;
  /** Signed calls to other members' APIs. */
  readonly peerHttp: PeerHttp;
  /** What a joining node's proof is checked against. */
  readonly join: JoinCredentials;
  readonly keeper: Keeper;
  /** Watch streams served at once (--watches-max). */
  readonly watchesMax: number;
  /** The keeper wire's bounds; DEFAULT_KEEPER_WIRE_LIMITS (app.ts) when not given. */
  readonly keeperWire?: KeeperWireLimits;
  readonly apps: AppRegistry;
  /** Node-local push paths (topics, kick, and the owner's side of a routed push). */
  readonly pusher: Pusher;
  /** Push on any node: groups users by owner and forwards. */
  readonly router: PushRouter;
  readonly broadcasts: Broadcasts;
  /** Broadcast jobs on every member, with summed progress. */
  readonly clusterBroadcasts: ClusterBroadcasts;
  /** Topic publishes through each topic's owner, to subscribers on every member. */
  readonly topics: ClusterTopics;
  /** For peer RPC: the inboxes this node owns, and delivery to its own connections. */
  readonly saver: Saver;
  readonly delivery: Delivery;
  readonly hub: Hub;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly push: PushSettings;
  /** Owners with draining and joining members taken into account; the drain of this node; its hand-over to a joiner; the new owner's side of handoffs. */
  readonly ownership: Ownership;
  readonly drainer: Drainer;
  readonly release: JoinRelease;
  readonly gate: HandoffGate;
  readonly peers: Peers;
  now(): number;
}
