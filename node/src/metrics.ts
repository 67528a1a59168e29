// Prometheus metrics, named longwire_<subsystem>_<name>_<unit>. Ids are never
// labels; hot-path children are created once here.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({ name: 'longwire_gateway_connections', help: 'Open WebSocket connections', registers: [this.registry] });
  readonly connects = new Counter({ name: 'longwire_gateway_connects_total', help: 'Accepted WebSocket connections', registers: [this.registry] });
  readonly disconnects = new Counter({ name: 'longwire_gateway_disconnects_total', help: 'Closed WebSocket connections by close code', labelNames: ['code'], registers: [this.registry] });
  readonly framesIn = new Counter({ name: 'longwire_gateway_frames_in_total', help: 'Frames received from clients', registers: [this.registry] });
  readonly framesOut = new Counter({ name: 'longwire_gateway_frames_out_total', help: 'Frames sent to clients', registers: [this.registry] });
  readonly protocolErrors = new Counter({ name: 'longwire_gateway_protocol_errors_total', help: 'Malformed or invalid client frames', registers: [this.registry] });
  readonly authFailures = new Counter({ name: 'longwire_gateway_auth_failures_total', help: 'Rejected bind tokens', registers: [this.registry] });
  readonly slowConsumers = new Counter({ name: 'longwire_gateway_slow_consumers_total', help: 'Connections closed because their send queue was full', registers: [this.registry] });
  readonly pushRequests = new Counter({ name: 'longwire_push_requests_total', help: 'Push API requests by qos', labelNames: ['qos'], registers: [this.registry] });
  readonly pushMessages = new Counter({ name: 'longwire_push_messages_total', help: 'Messages pushed (one per user) by qos', labelNames: ['qos'], registers: [this.registry] });
  readonly pushDuration = new Histogram({
    name: 'longwire_push_store_duration_seconds',
    help: 'Time from push request to durable store',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({ name: 'longwire_ratelimit_rejections_total', help: 'Requests or frames refused by a rate limit', labelNames: ['kind'], registers: [this.registry] });
  readonly broadcastDelivered = new Counter({ name: 'longwire_broadcast_deliveries_total', help: 'Broadcast frames written to connections', registers: [this.registry] });
  readonly webhookCalls = new Counter({ name: 'longwire_webhook_calls_total', help: 'Upstream webhook calls by outcome', labelNames: ['outcome'], registers: [this.registry] });
  readonly webhookDuration = new Histogram({
    name: 'longwire_webhook_duration_seconds',
    help: 'Upstream webhook call latency',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly statusCalls = new Counter({ name: 'longwire_status_callbacks_total', help: 'Status callback batches by outcome', labelNames: ['outcome'], registers: [this.registry] });
  readonly statusDropped = new Counter({ name: 'longwire_status_events_dropped_total', help: 'Status events dropped because an app buffer was full', registers: [this.registry] });
  readonly lingering = new Gauge({ name: 'longwire_gateway_lingering_sessions', help: 'Sessions waiting for a flash reconnect', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'longwire_process_' });
  }
}
