// One wall clock for every bench process on this host: milliseconds since the
// epoch with sub-millisecond resolution, so a timestamp written by one process
// can be subtracted from a timestamp read in another.
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
