// Topic pubs a member missed. An owner sends each pub to every member at most
// once; a member that missed one (down, cut off, its link full) sees the hole
// at the topic's next pub (its `prev`) and fills it from the history — but
// if no next pub comes, its subscribers never get the topic's last ones. So
// the owner remembers, per member, the newest pub of each topic whose send
// failed, and sends it again every `intervalMs` until a send of it, or of a
// later pub of the topic, gets through. Sending the newest is enough: the
// member's subscriptions drop a pub at or below what they have, and read the
// hole before one from the history. Only the pub's place is remembered (not
// its data, which may be large): the record is read from the history when it
// is sent again, and one the history no longer holds is owed no more.

import type { TopicPub } from './cluster-topics.js';

/** Where a missed pub is: its record is read from the owner's history when it is sent again. */
export type TopicHead = Pick<TopicPub, 'app' | 'topic' | 'offset' | 'prev'>;

export interface TopicResendOptions {
  /** Between two rounds of resends. */
  readonly intervalMs: number;
  /** Topics owed per member; past it the one owed longest is forgotten (its subscribers there wait for the topic's next pub). */
  readonly topicsMax: number;
  /** Sends the pub at `head` to the member; resolves true once it got through or the history no longer holds it. */
  readonly send: (member: string, head: TopicHead) => Promise<boolean>;
  /** Whether the member is still in the cluster (a removed one is owed nothing). */
  readonly isMember: (member: string) => boolean;
  readonly onResent: (result: 'sent' | 'failed' | 'forgotten') => void;
}

export const TOPIC_RESEND_DEFAULTS = { intervalMs: 2000, topicsMax: 10_000 } as const;

const keyOf = (p: TopicHead): string => `${p.app}\u0000${p.topic}`;

export class TopicResends {
  /** Per member, by topic key, the newest pub it missed; insertion order = owed longest first. */
  private readonly owed = new Map<string, Map<string, TopicHead>>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private running = false;

  constructor(private readonly o: TopicResendOptions) {}

  start(): void {
    this.timer ??= setInterval(() => void this.round(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A send of `pub` to `member` failed. */
  missed(member: string, pub: TopicHead): void {
    let topics = this.owed.get(member);
    if (topics === undefined) this.owed.set(member, (topics = new Map()));
    const key = keyOf(pub);
    const had = topics.get(key);
    if (had !== undefined && had.offset >= pub.offset) return;
    topics.delete(key);
    topics.set(key, { app: pub.app, topic: pub.topic, offset: pub.offset, ...(pub.prev === undefined ? {} : { prev: pub.prev }) });
    if (topics.size > this.o.topicsMax) {
      const oldest = topics.keys().next();
      if (!oldest.done) topics.delete(oldest.value);
      this.o.onResent('forgotten');
    }
  }

  /** A send of `pub` to `member` got through: what the member missed of the topic before it, its `prev` shows. */
  delivered(member: string, pub: TopicHead): void {
    const topics = this.owed.get(member);
    const key = keyOf(pub);
    const had = topics?.get(key);
    if (topics === undefined || had === undefined || had.offset > pub.offset) return;
    topics.delete(key);
    if (topics.size === 0) this.owed.delete(member);
  }

  /** Topics owed to `member` now. */
  owedTo(member: string): number {
    return this.owed.get(member)?.size ?? 0;
  }

  /** Sends every owed pub again, one member's at a time in parallel; a round still running skips the next. */
  async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const work: Promise<void>[] = [];
      for (const [member, topics] of this.owed) {
        if (!this.o.isMember(member)) {
          this.owed.delete(member);
          continue;
        }
        work.push(this.resendTo(member, [...topics.values()]));
      }
      await Promise.all(work);
    } finally {
      this.running = false;
    }
  }

  private async resendTo(member: string, pubs: readonly TopicHead[]): Promise<void> {
    for (const pub of pubs) {
      const ok = await this.o.send(member, pub).catch(() => false);
      this.o.onResent(ok ? 'sent' : 'failed');
      if (ok) this.delivered(member, pub);
      // The member is still unreachable: the rest wait for the next round rather than each waiting out a call.
      else return;
    }
  }
}
