// A topic's offsets across owners. The owner node assigns them (one sequence
// per topic), and ownership moves when the members change: a new owner that
// started again at its own last offset would hand out offsets a subscriber has
// already seen (the client SDK drops those as repeats) or reuse them. So an
// owner takes its offsets from blocks reserved in the keeper, under
// /sys/topics/<app>/<topic>, whose value bounds every offset any owner may
// have used: a new owner (or this one after a restart, or after the members
// changed) reserves a fresh block above it by compare-and-swap, and an owner
// that uses up its block reserves the next one before going on. Offsets only
// grow; they skip the rest of a block when the owner changes or restarts. The
// key of a topic idle for long is deleted (topic-reaper.ts), raising a floor
// above its offsets: a topic without a key starts above that floor.
import type { Keeper } from '../../keeper/src/keeper.js';
import { KeeperError } from '../../keeper/src/errors.js';

/** Offsets per reservation: one keeper write per this many publishes of a topic on one owner. */
export const TOPIC_OFFSET_BLOCK = 1024;
/** Compare-and-swap attempts against other reservations of the same topic before giving up. */
const RESERVE_ATTEMPTS_MAX = 10;
/** Blocks held in memory; past it the oldest is forgotten (its topic's next publish reserves again, skipping its rest). */
const BLOCKS_MAX = 10_000;

export const TOPICS_PREFIX = '/sys/topics/';
/** Above every offset of the topics whose keys were deleted. */
export const TOPIC_FLOOR_KEY = '/sys/topics-floor';

export function topicOffsetsKey(app: string, topic: string): string {
  return `${TOPICS_PREFIX}${app}/${topic}`;
}

interface Block {
  next: number;
  readonly last: number;
  /** The members the block was reserved under: a change of owners voids it. */
  readonly members: string;
}

export class TopicOffsets {
  private readonly blocks = new Map<string, Block>();
  /** Reservations in progress, so concurrent publishes of a topic share one. */
  private readonly reserving = new Map<string, Promise<void>>();

  constructor(
    private readonly keeper: Keeper,
    /** The highest offset this node stored for the topic (a floor for data written before blocks). */
    private readonly storedLast: (app: string, topic: string) => Promise<number>,
  ) {}

  /** The offset for the next publish of the topic on this owner; `members` names the current members (any change voids blocks). */
  async next(app: string, topic: string, members: string): Promise<number> {
    const key = topicOffsetsKey(app, topic);
    for (;;) {
      const b = this.blocks.get(key);
      if (b !== undefined && b.members === members && b.next <= b.last) return b.next++;
      await this.reserve(key, app, topic, members);
    }
  }

  private reserve(key: string, app: string, topic: string, members: string): Promise<void> {
    let p = this.reserving.get(key);
    if (p === undefined) {
      p = this.reserveOnce(key, app, topic, members).finally(() => this.reserving.delete(key));
      this.reserving.set(key, p);
    }
    return p;
  }

  private async reserveOnce(key: string, app: string, topic: string, members: string): Promise<void> {
    const stored = await this.storedLast(app, topic);
    for (let attempt = 1; ; attempt++) {
      const kv = (await this.keeper.range(key)).kvs[0];
      // No key: a new topic, or one whose key was reaped (and the floor raised past it in the same write).
      const bound = Number(kv === undefined ? ((await this.keeper.range(TOPIC_FLOOR_KEY)).kvs[0]?.value ?? 0) : kv.value);
      // Past every offset handed out: the bound is this owner's own last block when nobody reserved since, so it goes on without a gap.
      const from = Math.max(Number.isSafeInteger(bound) ? bound : 0, stored) + 1;
      const b: Block = { next: from, last: from + TOPIC_OFFSET_BLOCK - 1, members };
      try {
        await this.keeper.put(key, String(b.last), { ifModRevision: kv?.modRevision ?? 0 });
        this.blocks.delete(key);
        this.blocks.set(key, b);
        if (this.blocks.size > BLOCKS_MAX) {
          const oldest = this.blocks.keys().next().value;
          if (oldest !== undefined) this.blocks.delete(oldest);
        }
        return;
      } catch (err) {
        if (!(err instanceof KeeperError && err.code === 'compare-failed') || attempt >= RESERVE_ATTEMPTS_MAX) throw err;
      }
    }
  }
}
