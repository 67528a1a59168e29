// What a connection needs from the node, as one object so Client stays a pure
// protocol state machine over these services.
import type { Keeper } from '../../../keeper/src/keeper.js';
import type { AppRegistry } from '../apps.js';
import type { Delivery } from '../delivery.js';
import type { Hub } from '../hub.js';
import type { Saver, TopicRecord } from '../saver/saver.js';
import type { GatewaySettings } from '../settings.js';
import type { Coordinator } from '../coordinator.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { StatusCallbacks } from '../status-callbacks.js';
import type { LingeringSessions } from './lingering.js';
import type { AddressLimiter } from '../address-limiter.js';
import type { IpPolicy } from '../ip-policy.js';

export interface GatewayContext {
  readonly nodeId: string;
  /** Whether the gateway serves wss:// (for the addresses in `redirect`). */
  readonly tls: boolean;
  /** Live: re-read on every use, so a settings change in the keeper applies at once. */
  readonly settings: GatewaySettings;
  readonly ipPolicy: IpPolicy;
  readonly hub: Hub;
  readonly apps: AppRegistry;
  readonly delivery: Delivery;
  readonly saver: Saver;
  /** A topic's kept history after an offset, from the topic's owner node. */
  topicHistory(app: string, topic: string, after: number): Promise<readonly TopicRecord[]>;
  /** A first subscription to the topic on this node: resolves once the topic's owner sends this node its pubs (topic-interest.ts). */
  topicSubscribed(app: string, topic: string): Promise<void>;
  readonly keeper: Keeper;
  readonly coordinator: Coordinator;
  readonly log: Logger;
  readonly status: StatusCallbacks;
  readonly lingering: LingeringSessions;
  readonly addresses: AddressLimiter;
  readonly metrics: Metrics;
  now(): number;
}
