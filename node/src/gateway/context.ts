// What a connection needs from the node, as one object so Client stays a pure
// protocol state machine over these services.
import type { Keeper } from '../../../keeper/src/keeper.js';
import type { AppRegistry } from '../apps.js';
import type { Delivery } from '../delivery.js';
import type { Hub } from '../hub.js';
import type { Saver } from '../saver/saver.js';
import type { GatewaySettings } from '../settings.js';
import type { Coordinator } from '../coordinator.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

export interface GatewayContext {
  readonly nodeId: string;
  readonly settings: GatewaySettings;
  readonly hub: Hub;
  readonly apps: AppRegistry;
  readonly delivery: Delivery;
  readonly saver: Saver;
  readonly keeper: Keeper;
  readonly coordinator: Coordinator;
  readonly log: Logger;
  readonly metrics: Metrics;
  now(): number;
}
