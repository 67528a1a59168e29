/**
 * Programmer-error checks. They stay on in production, throw, and are never
 * caught: a failed assertion means the process state can no longer be trusted.
 * Operating errors (a dropped proposal, a compacted index) are result values,
 * see errors.ts.
 */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(cond: boolean, msg: string): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

export function assertNever(x: never, what: string): never {
  throw new AssertionError(`unreachable: unexpected ${what} ${JSON.stringify(x)}`);
}
