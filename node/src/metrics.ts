// Prometheus metrics, named longwire_<subsystem>_<name>_<unit>. Ids are never
// labels (app names are: an operator's bounded set); hot-path children are
// created once here. Gauges that mirror node state are computed at scrape time
// by collect(), not updated per event. Not exported: inbox sizes (counting a
// user's inbox is a store scan, too dear per scrape).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CloseCode } from './protocol/close-codes.js';
import { Tally } from './tally.js';

/**
 * Close codes kept as label values: the contract's and the standard ones a
 * socket ends with. A client may close with any code in 3000–4999; those are
 * counted as "other" so a client cannot create series at will.
 */
const DISCONNECT_CODES_LABELLED: ReadonlySet<number> = new Set([...Object.values(CloseCode), 1000, 1001, 1005, 1006, 1011]);

/** Node state read at scrape time; set once the parts exist (see Metrics.observe). */
export interface MetricSources {
  connectionsByApp(): ReadonlyMap<string, number>;
  broadcastsRunning(): number;
  topicAudienceKeys(): number;
}

export class Metrics {
  readonly registry = new Registry();
  private sources: MetricSources | undefined;
  readonly appConnections = new Gauge({
    name: 'longwire_gateway_app_connections',
    help: 'Connections bound to each app (a connection bound to two apps counts in both)',
    labelNames: ['app'],
    registers: [this.registry],
    collect: () => {
      if (this.sources === undefined) return;
      this.appConnections.reset();
      for (const [app, n] of this.sources.connectionsByApp()) this.appConnections.labels(app).set(n);
    },
  });
  readonly connections = new Gauge({ name: 'longwire_gateway_connections', help: 'Open WebSocket connections', registers: [this.registry] });
  readonly connects = new Counter({ name: 'longwire_gateway_connects_total', help: 'Accepted WebSocket connections', registers: [this.registry] });
  readonly disconnects = new Counter({ name: 'longwire_gateway_disconnects_total', help: 'Closed WebSocket connections by close code', labelNames: ['code'], registers: [this.registry] });
  /** Counted per frame on the hot path; added to framesIn / framesOut when they are collected. */
  readonly frameIn = new Tally();
  readonly frameOut = new Tally();
  readonly framesIn: Counter = new Counter({
    name: 'longwire_gateway_frames_in_total',
    help: 'Frames received from clients',
    registers: [this.registry],
    collect: () => this.frameIn.flushInto(this.framesIn),
  });
  readonly framesOut: Counter = new Counter({
    name: 'longwire_gateway_frames_out_total',
    help: 'Frames sent to clients',
    registers: [this.registry],
    collect: () => this.frameOut.flushInto(this.framesOut),
  });
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
  readonly peerRefused = new Counter({
    name: 'longwire_peer_refused_total',
    help: 'Peer connections or calls refused: link raft|rpc|join, reason auth (failed authentication, not a member) or protocol',
    labelNames: ['link', 'reason'],
    registers: [this.registry],
  });
  readonly apiConnectionsRefused = new Counter({
    name: 'longwire_api_connections_refused_total',
    help: 'Connections to the API port closed at once because it held --api-connections-max',
    registers: [this.registry],
  });
  readonly apiErrors = new Counter({
    name: 'longwire_api_errors_total',
    help: 'Error answers of the HTTP API by code (timeout, not-ready, forbidden, unauthorized, invalid, …)',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly topicKeysReaped = new Counter({
    name: 'longwire_topic_keys_reaped_total',
    help: 'Offset keys of topics idle past --topic-idle-s deleted from the keeper by this node as leader',
    registers: [this.registry],
  });
  readonly watchStreamsRefused = new Counter({
    name: 'longwire_keeper_watch_streams_refused_total',
    help: 'Watch streams (GET /v1/watch) refused because this node served --watches-max',
    registers: [this.registry],
  });
  readonly keeperWireConnections = new Gauge({ name: 'longwire_keeper_wire_connections', help: 'Open keeper wire connections (clients of the keeper over /v1/keeper/wire)', registers: [this.registry] });
  readonly keeperWireCalls = new Counter({
    name: 'longwire_keeper_wire_calls_total',
    help: 'Calls received over the keeper wire, by op (range, put, delete, txn and the lease calls)',
    labelNames: ['op'],
    registers: [this.registry],
  });
  readonly peerCalls = new Counter({
    name: 'longwire_peer_calls_total',
    help: 'Peer RPC calls this node sent, by method (inbox calls by op: inbox.read, inbox.setCursors, ...)',
    labelNames: ['method'],
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({ name: 'longwire_ratelimit_rejections_total', help: 'Requests or frames refused by a rate limit', labelNames: ['kind'], registers: [this.registry] });
  readonly rateLimitedFrames = this.rateLimited.labels('frames');
  readonly rateLimitedAddress = this.rateLimited.labels('address');
  readonly rateLimitedUpstream = this.rateLimited.labels('upstream');
  private readonly disconnectsByCode = new Map<number, Counter.Internal>();
  /** Children by qos, indexed by the qos value. */
  readonly pushRequestsByQos = [this.pushRequests.labels('0'), this.pushRequests.labels('1')] as const;
  readonly pushMessagesByQos = [this.pushMessages.labels('0'), this.pushMessages.labels('1')] as const;
  readonly handoffUsers = new Counter({ name: 'longwire_handoff_users_total', help: 'Inboxes handed over, by move (drain: a member being removed hands its inboxes out; join: previous owners hand a joining member its users) and direction (out: handed by this node, in: taken by it)', labelNames: ['move', 'direction'], registers: [this.registry] });
  readonly handoffMessages = new Counter({ name: 'longwire_handoff_messages_total', help: 'Stored messages moved with those inboxes, by move and direction', labelNames: ['move', 'direction'], registers: [this.registry] });
  readonly handoffPulls = new Counter({ name: 'longwire_handoff_pulls_total', help: 'Inboxes this node pulled from their previous owner ahead of its batches (a push, bind or ack needed them first), by move', labelNames: ['move'], registers: [this.registry] });
  readonly handoffSealsLifted = new Counter({ name: 'longwire_handoff_seals_lifted_total', help: 'Users sealed for a join that ended without them (the joiner removed by force) and served here again', registers: [this.registry] });
  readonly topicPubsDroppedTotal = new Counter({ name: 'longwire_topic_pubs_dropped_total', help: "Live topic pubs not written to a subscriber: repeat (at or below an offset the connection already has, e.g. a fan-out arriving after the history gave it), buffer-full (more than 256 arrived while the subscription's history was read)", labelNames: ['reason'], registers: [this.registry] });
  readonly topicPubResendsTotal = new Counter({ name: 'longwire_topic_pub_resends_total', help: "A topic's newest pub sent again by its owner to a member that missed it: sent (got through), failed (tried again next round), forgotten (more topics owed to one member than kept)", labelNames: ['result'], registers: [this.registry] });
  readonly topicPubResends = { sent: this.topicPubResendsTotal.labels('sent'), failed: this.topicPubResendsTotal.labels('failed'), forgotten: this.topicPubResendsTotal.labels('forgotten') };
  readonly topicPubsDropped = { repeat: this.topicPubsDroppedTotal.labels('repeat'), 'buffer-full': this.topicPubsDroppedTotal.labels('buffer-full') };
  readonly topicPubFanoutTotal = new Counter({ name: 'longwire_topic_pub_fanout_total', help: "Other members, per topic pub, on the topic's owner: interested (a subscriber there, by the member's interest record: sent), unsynced (no usable record of the member: sent anyway), skipped (no subscriber there: not sent)", labelNames: ['kind'], registers: [this.registry] });
  readonly topicPubFanout = { interested: this.topicPubFanoutTotal.labels('interested'), unsynced: this.topicPubFanoutTotal.labels('unsynced'), skipped: this.topicPubFanoutTotal.labels('skipped') };
  readonly topicInterestSyncs = new Counter({ name: 'longwire_topic_interest_syncs_total', help: "Whole lists of this node's subscribed topics sent to an owner whose copy differed (it restarted, the ring changed, a change was lost)", registers: [this.registry] });
  readonly topicAudienceKeys = new Gauge({
    name: 'longwire_topic_audience_keys',
    help: 'Topic keys this node holds as owner of which members have subscribers (bounded; a member past the bound gets every pub)',
    registers: [this.registry],
    collect: () => {
      if (this.sources !== undefined) this.topicAudienceKeys.set(this.sources.topicAudienceKeys());
    },
  });
  readonly topicCatchUpsTotal = new Counter({ name: 'longwire_topic_catchups_total', help: "Subscriptions that got a pub whose previous record they lacked (this node missed a fan-out) and read the history to fill the hole first, by result (failed: the hole stays)", labelNames: ['result'], registers: [this.registry] });
  readonly topicCatchUps = { ok: this.topicCatchUpsTotal.labels('ok'), failed: this.topicCatchUpsTotal.labels('failed') };
  readonly topicPulls = new Counter({ name: 'longwire_topic_history_pulls_total', help: "Topic histories this node, their new owner, pulled from the previous owner ahead of its batches (a publish or a history read needed them first), by move and result (failed: the publish went on without the history)", labelNames: ['move', 'result'], registers: [this.registry] });
  readonly topicRecordsIn = new Counter({ name: 'longwire_topic_history_records_in_total', help: 'Topic history records this node took from a previous owner (pulled or in batches), by move', labelNames: ['move'], registers: [this.registry] });
  readonly topicRecordsOut = new Counter({ name: 'longwire_topic_history_records_out_total', help: "Topic history records this node handed to the topics' new owners in batches, by move", labelNames: ['move'], registers: [this.registry] });
  readonly joinMoveRunning = new Gauge({ name: 'longwire_join_move_running', help: '1 while this node, having joined, waits for its previous owners to hand its users over; 0 once its join record is cleared', registers: [this.registry] });
  readonly handoffUsersOut = { drain: this.handoffUsers.labels('drain', 'out'), join: this.handoffUsers.labels('join', 'out') };
  readonly handoffUsersIn = { drain: this.handoffUsers.labels('drain', 'in'), join: this.handoffUsers.labels('join', 'in') };
  readonly handoffMessagesOut = { drain: this.handoffMessages.labels('drain', 'out'), join: this.handoffMessages.labels('join', 'out') };
  readonly handoffMessagesIn = { drain: this.handoffMessages.labels('drain', 'in'), join: this.handoffMessages.labels('join', 'in') };
  readonly broadcastDelivered = new Counter({ name: 'longwire_broadcast_deliveries_total', help: 'Broadcast frames written to connections', registers: [this.registry] });
  readonly broadcastTargets = new Counter({ name: 'longwire_broadcast_targets_total', help: 'Connections broadcast jobs set out to reach (compare with deliveries for progress)', registers: [this.registry] });
  readonly broadcastJobs = new Counter({ name: 'longwire_broadcast_jobs_total', help: 'Broadcast jobs started', registers: [this.registry] });
  readonly broadcastRunning = new Gauge({
    name: 'longwire_broadcast_jobs_running',
    help: 'Broadcast jobs still writing to connections',
    registers: [this.registry],
    collect: () => {
      if (this.sources !== undefined) this.broadcastRunning.set(this.sources.broadcastsRunning());
    },
  });
  readonly deliveryLatency = new Histogram({
    name: 'longwire_delivery_latency_seconds',
    help: 'qos 1: from the push (message timestamp) to its frame written to a connection; path live = sent as stored, store = read back (replay on bind, after an ack opened the window)',
    labelNames: ['path'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 600, 3600],
    registers: [this.registry],
  });
  readonly deliveryLive = this.deliveryLatency.labels('live');
  readonly deliveryStore = this.deliveryLatency.labels('store');
  readonly ackLatency = new Histogram({
    name: 'longwire_delivery_ack_latency_seconds',
    help: 'qos 1: from writing the newest message on a connection to the ack that covers it',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly gaps = new Counter({ name: 'longwire_delivery_gaps_total', help: 'gap frames sent, by reason (expired, overflow, redelivery-limit)', labelNames: ['reason'], registers: [this.registry] });
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
    // Includes event-loop lag (longwire_process_nodejs_eventloop_lag_*) and GC pauses (longwire_process_nodejs_gc_duration_seconds).
    collectDefaultMetrics({ register: this.registry, prefix: 'longwire_process_' });
  }

  /** Counts a closed connection under its close code (child cached per code). */
  disconnected(code: number): void {
    let c = this.disconnectsByCode.get(code);
    if (c === undefined) {
      c = this.disconnects.labels(DISCONNECT_CODES_LABELLED.has(code) ? String(code) : 'other');
      this.disconnectsByCode.set(code, c);
    }
    c.inc();
  }

  /** Connects the scrape-time gauges to the node's parts. */
  observe(sources: MetricSources): void {
    this.sources = sources;
  }
}
