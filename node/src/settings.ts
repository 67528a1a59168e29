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
