// The keeper holds a key per topic ever published (topic-offsets.ts: the
// bound of its offsets). Without this, a cluster with many short-lived topics
// would fill the keeper's quota with them. The leader deletes the keys of
// topics nobody published to for a while, and raises one floor,
// /sys/topics-floor, to the highest offset they held, in the same
// transaction: a topic whose key is gone starts above that floor, so its
// offsets still only grow (a subscriber's SDK drops offsets it has passed).
//
// Idle is told without a clock per key: every check records the store's
// revision; a key whose modRevision is at or below the revision of a check at
// least `idleMs` old has not been written since.
import type { Keeper, KeyValue, TxnCompare } from '../../keeper/src/keeper.js';
import { lacking } from './member-features.js';
import { TOPICS_PREFIX, TOPIC_FLOOR_KEY } from './topic-offsets.js';

/** Keys per transaction: their compares, the floor's, and as many deletes (the keeper takes 128 compares). */
const BATCH_KEYS = 64;
/** Keys looked at per page of the scan. */
const PAGE_KEYS = 512;
/** Keys deleted per check at most, so one check is a bounded load on the keeper. */
const REAP_PER_CHECK_MAX = 8192;

export interface TopicReaperOptions {
  readonly nodeId: string;
  /** A topic's key goes once nobody published to it for this long (0: never). */
  readonly idleMs: number;
  readonly now: () => number;
  readonly onReaped: (keys: number) => void;
  readonly onError: (err: unknown) => void;
}

export class TopicReaper {
  /** (time, store revision) of the checks made as leader, oldest first. */
  private checks: { readonly at: number; readonly revision: number }[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private running = false;

  constructor(
    private readonly keeper: Keeper,
    private readonly o: TopicReaperOptions,
  ) {}

  /** Checks every quarter of the idle time (at most every 10 min), so a key goes within 1¼ idle times of its last publish. */
  start(): void {
    if (this.o.idleMs <= 0) return;
    const every = Math.min(this.o.idleMs / 4, 600_000);
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = true;
      void this.check()
        .catch((err: unknown) => this.o.onError(err))
        .finally(() => (this.running = false));
    }, every);
    this.timer.unref();
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  /** One check: record the revision; as leader, delete the keys idle since the newest check at least idleMs old. Answers how many went. */
  async check(): Promise<number> {
    if (this.keeper.cluster().leader !== this.o.nodeId) {
      // A new leader starts counting afresh: deletion waits, nothing is deleted early.
      this.checks = [];
      return 0;
    }
    const now = this.o.now();
    const revision = (await this.keeper.range(TOPIC_FLOOR_KEY)).revision;
    this.checks.push({ at: now, revision });
    while ((this.checks[1]?.at ?? Infinity) <= now - this.o.idleMs) this.checks.shift();
    const cut = this.checks[0];
    if (cut === undefined || cut.at > now - this.o.idleMs) return 0;
    // An older member would start a topic whose key is gone at its own stored offset, not above the floor.
    if ((await lacking(this.keeper, 'topic-floor')).length > 0) return 0;
    return this.reapUpTo(cut.revision);
  }

  private async reapUpTo(revision: number): Promise<number> {
    let reaped = 0;
    let after: string | undefined;
    for (let pages = 0; reaped < REAP_PER_CHECK_MAX && pages < 10_000; pages++) {
      const page = await this.keeper.range(TOPICS_PREFIX, { prefix: true, limit: PAGE_KEYS, ...(after === undefined ? {} : { after }) });
      const idle = page.kvs.filter((kv) => kv.modRevision <= revision);
      for (let i = 0; i < idle.length && reaped < REAP_PER_CHECK_MAX; i += BATCH_KEYS) reaped += await this.reap(idle.slice(i, Math.min(i + BATCH_KEYS, i + REAP_PER_CHECK_MAX - reaped)));
      after = page.kvs.at(-1)?.key;
      if (!page.more || after === undefined) break;
    }
    if (reaped > 0) this.o.onReaped(reaped);
    return reaped;
  }

  /** Deletes `keys` and raises the floor to their highest bound, all or nothing: a key written meanwhile (or the floor moved) fails the compares, and the batch waits for the next check. */
  private async reap(keys: readonly KeyValue[]): Promise<number> {
    const floor = (await this.keeper.range(TOPIC_FLOOR_KEY)).kvs[0];
    const bounds = keys.map((kv) => Number(kv.value)).filter((n) => Number.isSafeInteger(n));
    const top = Math.max(floor === undefined ? 0 : Number(floor.value) || 0, ...bounds);
    const compare: TxnCompare[] = [
      { key: TOPIC_FLOOR_KEY, target: 'modRevision', op: '=', value: floor?.modRevision ?? 0 },
      ...keys.map((kv): TxnCompare => ({ key: kv.key, target: 'modRevision', op: '=', value: kv.modRevision })),
    ];
    const r = await this.keeper.txn({
      compare,
      success: [{ type: 'put', key: TOPIC_FLOOR_KEY, value: String(top) }, ...keys.map((kv) => ({ type: 'delete' as const, key: kv.key, prefix: false }))],
      failure: [],
    });
    return r.succeeded ? r.deleted : 0;
  }
}
