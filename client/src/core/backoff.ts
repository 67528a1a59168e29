// Exponential backoff with full jitter (AWS architecture blog, "Exponential
// Backoff And Jitter"): the delay is uniform in [0, min(max, min * 2^attempt)],
// so a fleet that lost a node does not come back in lockstep.

export interface BackoffRange {
  readonly minMs: number;
  readonly maxMs: number;
}

/** Upper bound of the delay before reconnect attempt number `attempt` (0-based). */
export function backoffCeilingMs(range: BackoffRange, attempt: number): number {
  // 2^30 already exceeds any sane max; clamping keeps the arithmetic finite.
  return Math.min(range.maxMs, range.minMs * 2 ** Math.min(attempt, 30));
}

/** `random` is uniform in [0, 1), injected so tests pin the jitter. */
export function backoffDelayMs(range: BackoffRange, attempt: number, random: () => number): number {
  return Math.floor(random() * backoffCeilingMs(range, attempt));
}
