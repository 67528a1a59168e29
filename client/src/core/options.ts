// Client options, their exported defaults, and the one place they are checked.
import type { Clock } from './clock.js';
import { ConfigError } from './errors.js';

export const DEFAULT_PROTOCOL = 'json';
/** Reconnect delays: full jitter in [0, min(max, min * 2^attempt)]. */
export const DEFAULT_BACKOFF_MIN_MS = 500;
export const DEFAULT_BACKOFF_MAX_MS = 30_000;
/** After 4008 (rate limited), 4029 (too many connections) and 1013 (overloaded). */
export const DEFAULT_LIMIT_BACKOFF_MIN_MS = 5_000;
export const DEFAULT_LIMIT_BACKOFF_MAX_MS = 120_000;
/** Socket open plus welcome; past it the attempt counts as failed. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_UP_TIMEOUT_MS = 15_000;
export const DEFAULT_DISPATCH_TIMEOUT_MS = 5_000;
/** How long a redirect's nodes are preferred over asking the dispatcher. */
export const DEFAULT_REDIRECT_TTL_MS = 60_000;
/** Redirects followed at once before the client falls back to backoff (guards against redirect loops). */
export const DEFAULT_REDIRECTS_IN_ROW_MAX = 3;
/** Ids of seq-less messages remembered for dedup; the oldest are forgotten. */
export const DEFAULT_DEDUP_IDS_MAX = 4096;

export interface Message {
  readonly app: string;
  readonly id: string;
  /** Present for qos 1 messages; absent for qos 0 and broadcasts. */
  readonly seq?: number;
  readonly data: unknown;
  readonly ts: number;
  readonly qos: 0 | 1;
}

export interface TopicMessage {
  readonly app: string;
  readonly topic: string;
  readonly offset: number;
  readonly data: unknown;
  readonly ts: number;
}

/** The message is acked once the returned promise resolves; a rejection gets it redelivered. */
export type MessageHandler = (msg: Message) => void | Promise<void>;
export type TopicHandler = (msg: TopicMessage) => void | Promise<void>;
export type TokenSource = (app: string) => string | Promise<string>;

export interface AppOptions {
  readonly app: string;
  readonly handler: MessageHandler;
  /** A fixed token; otherwise `getToken` is asked on every connect. */
  readonly token?: string;
  /** Resume after this seq (an app that persists its progress); otherwise the server's cursor. */
  readonly after?: number;
}

export interface ClientOptions {
  /** Base URL of any node's gateway, e.g. `http://127.0.0.1:7800`. Exactly one of dispatchUrl and urls. */
  readonly dispatchUrl?: string;
  /** Fixed gateway WebSocket URLs (`ws://host:port/ws`), walked in order. */
  readonly urls?: readonly string[];
  /** The user id for the dispatcher; default: the `sub` claim of the first app's token. */
  readonly user?: string;
  /** Default: generated, and kept in localStorage in browsers. */
  readonly device?: string;
  readonly protocol?: 'json' | 'msgpack';
  /** Called for each app on every connect, so expired tokens are replaced. */
  readonly getToken?: TokenSource;
  readonly apps?: readonly AppOptions[];
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  readonly limitBackoffMinMs?: number;
  readonly limitBackoffMaxMs?: number;
  readonly connectTimeoutMs?: number;
  readonly upTimeoutMs?: number;
  readonly dispatchTimeoutMs?: number;
  readonly redirectTtlMs?: number;
  readonly redirectsInRowMax?: number;
  readonly dedupIdsMax?: number;
  /** For tests: time, jitter and HTTP. */
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly fetch?: typeof fetch;
}

export interface ResolvedOptions {
  readonly dispatchUrl: string | undefined;
  readonly urls: readonly string[] | undefined;
  readonly user: string | undefined;
  readonly protocol: 'json' | 'msgpack';
  readonly getToken: TokenSource | undefined;
  readonly apps: readonly AppOptions[];
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  readonly limitBackoffMinMs: number;
  readonly limitBackoffMaxMs: number;
  readonly connectTimeoutMs: number;
  readonly upTimeoutMs: number;
  readonly dispatchTimeoutMs: number;
  readonly redirectTtlMs: number;
  readonly redirectsInRowMax: number;
  readonly dedupIdsMax: number;
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new ConfigError('bad-option', `${name} must be a positive number, got ${v}`);
  return v;
}

export function resolveOptions(o: ClientOptions): ResolvedOptions {
  if ((o.dispatchUrl === undefined) === (o.urls === undefined)) {
    throw new ConfigError('bad-option', 'give exactly one of dispatchUrl and urls');
  }
  if (o.urls !== undefined && o.urls.length === 0) throw new ConfigError('bad-option', 'urls is empty');
  const r: ResolvedOptions = {
    dispatchUrl: o.dispatchUrl,
    urls: o.urls,
    user: o.user,
    protocol: o.protocol ?? DEFAULT_PROTOCOL,
    getToken: o.getToken,
    apps: o.apps ?? [],
    backoffMinMs: positive('backoffMinMs', o.backoffMinMs ?? DEFAULT_BACKOFF_MIN_MS),
    backoffMaxMs: positive('backoffMaxMs', o.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS),
    limitBackoffMinMs: positive('limitBackoffMinMs', o.limitBackoffMinMs ?? DEFAULT_LIMIT_BACKOFF_MIN_MS),
    limitBackoffMaxMs: positive('limitBackoffMaxMs', o.limitBackoffMaxMs ?? DEFAULT_LIMIT_BACKOFF_MAX_MS),
    connectTimeoutMs: positive('connectTimeoutMs', o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS),
    upTimeoutMs: positive('upTimeoutMs', o.upTimeoutMs ?? DEFAULT_UP_TIMEOUT_MS),
    dispatchTimeoutMs: positive('dispatchTimeoutMs', o.dispatchTimeoutMs ?? DEFAULT_DISPATCH_TIMEOUT_MS),
    redirectTtlMs: positive('redirectTtlMs', o.redirectTtlMs ?? DEFAULT_REDIRECT_TTL_MS),
    redirectsInRowMax: o.redirectsInRowMax ?? DEFAULT_REDIRECTS_IN_ROW_MAX,
    dedupIdsMax: positive('dedupIdsMax', o.dedupIdsMax ?? DEFAULT_DEDUP_IDS_MAX),
  };
  if (r.backoffMinMs > r.backoffMaxMs) throw new ConfigError('bad-option', 'backoffMinMs exceeds backoffMaxMs');
  if (r.limitBackoffMinMs > r.limitBackoffMaxMs) throw new ConfigError('bad-option', 'limitBackoffMinMs exceeds limitBackoffMaxMs');
  for (const a of r.apps) checkTokenSource(a.app, a.token, r.getToken);
  return r;
}

export function checkTokenSource(app: string, token: string | undefined, getToken: TokenSource | undefined): void {
  if (token === undefined && getToken === undefined) throw new ConfigError('no-token', `app ${app} has no token and there is no getToken`);
}
