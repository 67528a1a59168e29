// Node settings: every limit named with its unit last, with exported defaults.
// What happens at each limit is stated next to it.
export interface GatewaySettings {
  /** Seconds between client pings; a connection silent for 2× this plus grace is closed. */
  readonly heartbeatSeconds: number;
  readonly heartbeatGraceMs: number;
  /** A connection that sends no hello within this is closed with 4003. */
  readonly helloTimeoutMs: number;
  /** Larger frames are refused by ws with close 1009. */
  readonly frameBytesMax: number;
  /** Send queue bound: past either, the connection is closed with 4010 (slow consumer). */
  readonly sendQueueBytesMax: number;
  readonly sendQueueMsgsMax: number;
  /** Frames a client may send per second (burst = 2×); past it: error frame, then close 4008 on continued abuse. */
  readonly clientFramesPerSecond: number;
  /** Unacked qos 1 messages in flight per binding; delivery pauses until acks arrive. */
  readonly inflightMsgsMax: number;
  /** Global cap on connections held by this node: past it new upgrades are refused with 1013. */
  readonly connectionsMax: number;
  readonly perMessageDeflate: boolean;
  /** Open connections per client IP: past it new ones are closed with 4029. */
  readonly connectionsPerAddressMax: number;
  /** New connections per second per client IP (burst = the same): past it closed with 4029. */
  readonly connectionsPerAddressPerSecond: number;
  /** Global CIDR lists for client connections; a refused address is closed with 4001 before hello. */
  readonly ipAllow: readonly string[];
  readonly ipDeny: readonly string[];
  /** After an unclean disconnect the session lingers this long for a flash reconnect of the same device. */
  readonly lingerMs: number;
  /** Upstream frames of one connection beyond its app's upstreamPerSecond: answered `rate-limited`; this many in a row closes 4008. */
  readonly upstreamStrikesMax: number;
}

export const DEFAULT_GATEWAY_SETTINGS: GatewaySettings = {
  heartbeatSeconds: 25,
  heartbeatGraceMs: 5000,
  helloTimeoutMs: 10_000,
  frameBytesMax: 64 * 1024,
  sendQueueBytesMax: 4 * 1024 * 1024,
  sendQueueMsgsMax: 4096,
  clientFramesPerSecond: 100,
  inflightMsgsMax: 256,
  connectionsMax: 100_000,
  perMessageDeflate: false,
  connectionsPerAddressMax: 10_000,
  connectionsPerAddressPerSecond: 1000,
  ipAllow: [],
  ipDeny: [],
  lingerMs: 20_000,
  upstreamStrikesMax: 50,
};

/** Status callback batching: a batch is sent at statusBatchMax events or statusBatchMs, whichever first. */
export interface StatusSettings {
  readonly statusBatchMax: number;
  readonly statusBatchMs: number;
  /**
   * Events buffered per app while its callback is failing. Past it the oldest
   * events are dropped and counted (longwire_status_events_dropped_total); the
   * next delivered batch carries `dropped` so the backend knows to resync.
   */
  readonly statusBufferMax: number;
}

export const DEFAULT_STATUS_SETTINGS: StatusSettings = {
  statusBatchMax: 100,
  statusBatchMs: 1000,
  statusBufferMax: 10_000,
};

export interface PushSettings {
  /** Users in one push request: more is refused with 400 too-many-users. */
  readonly usersPerPushMax: number;
  /** Encoded size of a push's data: more is refused with 413. */
  readonly dataBytesMax: number;
  /** Upper bound on a message ttl in seconds: larger is refused with 400. */
  readonly ttlSecondsMax: number;
  /** Broadcast jobs kept for status queries; the oldest finished ones are forgotten. */
  readonly broadcastJobsMax: number;
  /** Default broadcast pace, connections per second. */
  readonly broadcastRateDefault: number;
}

export const DEFAULT_PUSH_SETTINGS: PushSettings = {
  usersPerPushMax: 10_000,
  dataBytesMax: 32 * 1024,
  ttlSecondsMax: 30 * 24 * 3600,
  broadcastJobsMax: 1000,
  broadcastRateDefault: 50_000,
};
