// WebSocket close codes of the contract. The client SDK mirrors this table to
// decide whether and how fast to reconnect.
export const CloseCode = {
  protocolError: 4000,
  unauthorized: 4001,
  kicked: 4002,
  noHello: 4003,
  rateLimited: 4008,
  redirect: 4009,
  /** The connection's send queue passed its bound: the client reads too slowly. */
  slowConsumer: 4010,
  /** Silent for 2× heartbeat plus grace. */
  idle: 4011,
  tooManyFromAddress: 4029,
  /** Set by ws itself when a frame exceeds maxPayload. */
  frameTooLarge: 1009,
  /** The node is at its global connection cap. */
  overloaded: 1013,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
