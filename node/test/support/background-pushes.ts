// Pushes that go on while a test moves users between members (a join, a
// drain), round-robin over the users, paced so that a bounded count spans
// the kill, the restart and the repeated call, until the test stops them.
export const BACKGROUND_PUSHES_MAX = 3000;
const DEADLINE_MS = 60_000;
const PACE_MS = 10;

export class BackgroundPushes {
  private sent = 0;
  private lost = 0;
  private stopped = false;
  private readonly done: Promise<void>;

  /** `pushOne` answers whether the push was answered (its seq recorded). */
  constructor(pushOne: (user: string) => Promise<boolean>, users: readonly string[]) {
    this.done = (async () => {
      const deadline = Date.now() + DEADLINE_MS;
      for (; !this.stopped && Date.now() < deadline && this.sent < BACKGROUND_PUSHES_MAX; this.sent++) {
        if (!(await pushOne(users[this.sent % users.length] ?? ''))) this.lost++;
        await new Promise((r) => setTimeout(r, PACE_MS));
      }
    })();
    // A failed push check surfaces at stop(), not as an unhandled rejection meanwhile.
    this.done.catch(() => undefined);
  }

  get pushes(): number {
    return this.sent;
  }

  /** Pushes with no answer (their outcome unknown to the test). */
  get unanswered(): number {
    return this.lost;
  }

  /** Stops after the push in progress; resolves once it is answered (rejects if a push's check failed). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}
