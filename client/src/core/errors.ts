// Operating errors of the SDK: one base class with a stable `code` and an
// optional `cause`. Every class the close-code table or an API call can
// produce is listed here, so an app can `instanceof`-switch on them.

export class LongwireError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** 4001: a token was missing, malformed, expired or for another app. */
export class AuthError extends LongwireError {}
/** 4002: the service kicked this user's sessions. */
export class KickedError extends LongwireError {}
/** 4000 or a malformed server frame: one side broke the contract. */
export class ProtocolError extends LongwireError {}
/** 4003: the server got no hello in time. */
export class HelloTimeoutError extends LongwireError {}
/** 4009: the node moved this connection elsewhere (ring change, drain). */
export class RedirectError extends LongwireError {}
/** 4008: this connection sent too much. */
export class RateLimitError extends LongwireError {}
/** 4029: too many connections from this address. */
export class TooManyConnectionsError extends LongwireError {}
/** 4010: this client read too slowly and the server's send queue filled. */
export class SlowConsumerError extends LongwireError {}
/** 1009: a frame was larger than the peer accepts. */
export class FrameTooLargeError extends LongwireError {}
/** 1013: the node is at its connection cap. */
export class OverloadedError extends LongwireError {}
/** A socket closed for a network or unlisted reason, or never opened. */
export class ConnectionError extends LongwireError {}
/** No frame within twice the heartbeat, or no welcome in time. */
export class HeartbeatTimeoutError extends LongwireError {}
/** The dispatcher could not be reached or gave an unusable answer. */
export class DispatchError extends LongwireError {}
/** An `error` frame from the server. */
export class ServerError extends LongwireError {}
/** An `up` got `ok:false`; `code` is the reply's error code. */
export class UpstreamError extends LongwireError {}
/** An `up` got no reply in time. */
export class TimeoutError extends LongwireError {}
/** A message handler threw or rejected; the message is redelivered after a reconnect. */
export class HandlerError extends LongwireError {}
/** The client was closed, or the call cannot complete on this client any more. */
export class ClosedError extends LongwireError {}
/** Options that cannot work, reported once by the constructor. */
export class ConfigError extends LongwireError {}
