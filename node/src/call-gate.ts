// At most `max` calls of one connection running at once (the peer link's,
// the keeper wire's). A call past that waits here and the connection is
// paused, so a client's surplus waits in TCP, not in this node: the waiting
// list holds at most what was already read when the bound was reached.

export class CallGate<T> {
  private active = 0;
  private readonly waiting: T[] = [];

  constructor(
    private readonly max: number,
    private readonly run: (call: T) => Promise<void>,
    /** Stop and restart reading the connection. */
    private readonly flow: { pause(): void; resume(): void },
  ) {}

  /** Calls started and not finished. */
  get running(): number {
    return this.active;
  }

  submit(call: T): void {
    if (this.active < this.max) this.start(call);
    else {
      this.waiting.push(call);
      this.flow.pause();
    }
  }

  private start(call: T): void {
    this.active++;
    void this.run(call).finally(() => {
      this.active--;
      const next = this.waiting.shift();
      if (next !== undefined) this.start(next);
      else this.flow.resume();
    });
  }
}
