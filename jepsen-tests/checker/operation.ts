// A Porcupine-shaped operation: one client's call and its return, as a closed
// interval [call, return] on a monotonic clock (ms). An operation whose outcome
// is unknown (timeout, connection dropped, node killed) keeps its place in the
// history with `return = Infinity`: it may have taken effect at any point after
// its call, or never.

export interface Operation<I, O> {
  readonly clientId: number;
  readonly input: I;
  readonly call: number;
  readonly output: O;
  /** Infinity when the outcome is unknown. Invariant: call <= return. */
  readonly return: number;
}
