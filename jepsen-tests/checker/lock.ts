// The lock checker: clients take the keeper client's lock (keeper-lock.ts)
// and, while they hold it, increment a counter with a transaction fenced on
// their own lock key still existing (compare its createRevision > 0) and on
// the counter's modRevision. A holder whose lease ran out (paused, cut off)
// has lost its key, so its fenced writes fail; in the keeper's order, the
// writes that went through must therefore come from holders in the order
// they took the lock: the fencing tokens (lock key createRevisions) of the
// successful writes, sorted by the revision they were written at, never go
// down, and the counter only goes up.

export const LOCK_GUARANTEE =
  "a lock's holders follow one another: in revision order, the fencing tokens of the writes fenced on holding it never go down, and each such write raises the counter";

export type LockWriteOutcome = 'done' | 'compare-failed' | 'unknown' | 'refused';

export interface LockWrite {
  readonly clientId: number;
  /** The holder's fencing token: its lock key's createRevision. */
  readonly token: number;
  /** ms on the run's clock. */
  readonly call: number;
  readonly return: number;
  readonly outcome: LockWriteOutcome;
  /** For 'done': the revision it was written at and the counter value it wrote. */
  readonly revision?: number;
  readonly counter?: number;
}

export interface LockCheckResult {
  readonly ok: boolean;
  readonly violations: readonly string[];
  readonly stats: { readonly holders: number } & Readonly<Record<LockWriteOutcome, number>>;
}

export function checkLock(writes: readonly LockWrite[]): LockCheckResult {
  const violations: string[] = [];
  const done = writes.filter((w) => w.outcome === 'done').sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0));
  for (let i = 1; i < done.length; i++) {
    const prev = done[i - 1];
    const w = done[i];
    if (prev === undefined || w === undefined) continue;
    if (w.token < prev.token) {
      violations.push(`client ${w.clientId} wrote at revision ${w.revision} holding token ${w.token}, after client ${prev.clientId} wrote at revision ${prev.revision} holding the later token ${prev.token}: two holders at once`);
    }
    if ((w.counter ?? 0) <= (prev.counter ?? 0)) {
      violations.push(`the counter went from ${prev.counter} (revision ${prev.revision}) to ${w.counter} (revision ${w.revision}): a fenced increment lost or repeated`);
    }
    if (w.revision === prev.revision) violations.push(`two fenced writes at one revision ${w.revision}`);
  }
  const count = (o: LockWriteOutcome): number => writes.filter((w) => w.outcome === o).length;
  return {
    ok: violations.length === 0,
    violations,
    stats: { holders: new Set(done.map((w) => w.token)).size, done: count('done'), 'compare-failed': count('compare-failed'), unknown: count('unknown'), refused: count('refused') },
  };
}
