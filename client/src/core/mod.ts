// What both entries (index.ts for Node, browser.ts for browsers) export.
export { LongwireClient } from './client.js';
export type { Platform } from './client.js';
export { CLOSE_CODES, closeRule } from './close-codes.js';
export type { CloseRule, Reconnect } from './close-codes.js';
export { SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK } from './codec.js';
export type { Clock } from './clock.js';
export type { DeviceStore } from './device-id.js';
export * from './errors.js';
export type { Json } from './frames.js';
export {
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_BACKOFF_MIN_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_DEDUP_IDS_MAX,
  DEFAULT_DISPATCH_TIMEOUT_MS,
  DEFAULT_LIMIT_BACKOFF_MAX_MS,
  DEFAULT_LIMIT_BACKOFF_MIN_MS,
  DEFAULT_PROTOCOL,
  DEFAULT_REDIRECT_TTL_MS,
  DEFAULT_REDIRECTS_IN_ROW_MAX,
  DEFAULT_UP_TIMEOUT_MS,
} from './options.js';
export type { AppOptions, ClientOptions, Message, MessageHandler, TokenSource, TopicHandler, TopicMessage } from './options.js';
export type { Status } from './status.js';
export type { Transport, Socket, SocketHandlers } from './transport.js';
