// What a test's pushes were answered with, per user: seq → the data pushed.
// A seq answered twice (two messages under one seq) fails at once.
import assert from 'node:assert/strict';

export class Answered {
  private readonly byUser = new Map<string, Map<number, unknown>>();

  constructor(users: readonly string[]) {
    for (const u of users) this.byUser.set(u, new Map());
  }

  record(user: string, seq: number, data: unknown): void {
    const m = this.mapOf(user);
    const prev = m.get(seq);
    assert.equal(prev, undefined, `seq ${seq} of ${user} answered twice (${String(prev)} and ${String(data)})`);
    m.set(seq, data);
  }

  /** The user's answered seq → data (empty for a user never pushed to). */
  of(user: string): ReadonlyMap<number, unknown> {
    return this.mapOf(user);
  }

  private mapOf(user: string): Map<number, unknown> {
    let m = this.byUser.get(user);
    if (m === undefined) this.byUser.set(user, (m = new Map()));
    return m;
  }

  /** The highest seq answered for the user (0 if none). */
  last(user: string): number {
    return Math.max(0, ...this.of(user).keys());
  }
}
