// One table, mirrored from the server's (node/src/protocol/close-codes.ts and
// PROTOCOL.md): each close code maps to an error class and a reconnect
// decision. Codes not listed are network trouble: reconnect with backoff.
import {
  AuthError,
  ConnectionError,
  FrameTooLargeError,
  HeartbeatTimeoutError,
  HelloTimeoutError,
  KickedError,
  LongwireError,
  OverloadedError,
  ProtocolError,
  RateLimitError,
  RedirectError,
  SlowConsumerError,
  TooManyConnectionsError,
} from './errors.js';

/**
 * never: stay closed, the app must act (new token, user consent).
 * now: reconnect at once, to the nodes a redirect named.
 * backoff: reconnect after the normal exponential backoff.
 * slow: reconnect after the longer backoff for limits (rate, connection caps).
 */
export type Reconnect = 'never' | 'now' | 'backoff' | 'slow';

type ErrorClass = new (code: string, message: string, options?: { cause?: unknown }) => LongwireError;

export interface CloseRule {
  readonly name: string;
  readonly error: ErrorClass;
  readonly reconnect: Reconnect;
}

export const CLOSE_CODES: ReadonlyMap<number, CloseRule> = new Map<number, CloseRule>([
  [4000, { name: 'protocol-error', error: ProtocolError, reconnect: 'backoff' }],
  [4001, { name: 'unauthorized', error: AuthError, reconnect: 'never' }],
  [4002, { name: 'kicked', error: KickedError, reconnect: 'never' }],
  [4003, { name: 'no-hello', error: HelloTimeoutError, reconnect: 'backoff' }],
  [4008, { name: 'rate-limited', error: RateLimitError, reconnect: 'slow' }],
  [4009, { name: 'redirect', error: RedirectError, reconnect: 'now' }],
  [4010, { name: 'slow', error: SlowConsumerError, reconnect: 'backoff' }],
  // The server heard nothing for 2x heartbeat plus grace (a suspended tab, a stalled network).
  [4011, { name: 'idle', error: HeartbeatTimeoutError, reconnect: 'backoff' }],
  [4029, { name: 'too-many-connections', error: TooManyConnectionsError, reconnect: 'slow' }],
  [1009, { name: 'frame-too-large', error: FrameTooLargeError, reconnect: 'backoff' }],
  [1013, { name: 'overloaded', error: OverloadedError, reconnect: 'slow' }],
]);

const NETWORK: CloseRule = { name: 'closed', error: ConnectionError, reconnect: 'backoff' };

export function closeRule(code: number): CloseRule {
  return CLOSE_CODES.get(code) ?? NETWORK;
}

export function closeError(code: number, reason: string): LongwireError {
  const rule = closeRule(code);
  return new rule.error(rule.name, `connection closed with ${code}${reason === '' ? '' : `: ${reason}`}`);
}
