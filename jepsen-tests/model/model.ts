// A sequential specification for the linearizability checker (Porcupine's
// Model): a pure `step` from a state, an operation's input and its observed
// output to whether that output is legal and the state after it.

export interface Model<S, I, O> {
  readonly init: S;
  /** Pure: never mutates `state`. Returns [false, state] when `output` is impossible from `state`. */
  step(state: S, input: I, output: O): readonly [ok: boolean, next: S];
  /** A canonical text for a state: two states with the same key behave the same. Used by the memo cache. */
  key(state: S): string;
  describeOperation(input: I, output: O): string;
}
