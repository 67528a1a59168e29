// A map of the keeper keys under one prefix, kept current by a watch: the
// records every node must see alike (drains, joins). `refresh` reads them
// again linearizably, for a caller that must act on the newest state (the
// keeper's local view is then at least as new as that read): a topic's owner
// does before each publish, so it is cheap (no new watch).
import type { Keeper, WatchMessage, Watcher } from '../../keeper/src/keeper.js';

export class KeeperPrefix<T> {
  private readonly records = new Map<string, T>();
  private watcher: Watcher | undefined;
  /** Revision the records reflect: an event at or below it (late, from a replaced watch) is old news. */
  private revision = 0;
  private closed = false;

  constructor(
    private readonly keeper: Keeper,
    private readonly prefix: string,
    /** The record of the key `prefix + id`, or undefined for a value that is not one (ignored). */
    private readonly parse: (id: string, value: string) => T | undefined,
  ) {}

  async start(): Promise<void> {
    const r = await this.keeper.range(this.prefix, { prefix: true });
    this.records.clear();
    for (const kv of r.kvs) this.set(kv.key, kv.value);
    this.revision = Math.max(this.revision, r.revision);
    if (this.closed) return;
    this.watcher?.cancel();
    this.watcher = this.keeper.watch({ key: this.prefix, prefix: true, fromRevision: r.revision + 1 }, (m) => this.onWatch(m));
  }

  /**
   * Reads the records again (linearizable), keeping the watch: when it already
   * brought them to the read's revision or past it they stay, else the read's
   * records replace them and the watch's older events are skipped.
   */
  async refresh(): Promise<void> {
    const r = await this.keeper.range(this.prefix, { prefix: true });
    if (this.revision >= r.revision) return;
    this.records.clear();
    for (const kv of r.kvs) this.set(kv.key, kv.value);
    this.revision = r.revision;
  }

  get(id: string): T | undefined {
    return this.records.get(id);
  }

  values(): IterableIterator<T> {
    return this.records.values();
  }

  get size(): number {
    return this.records.size;
  }

  private onWatch(m: WatchMessage): void {
    switch (m.kind) {
      case 'events':
        for (const e of m.events) {
          if (e.revision <= this.revision) continue;
          this.revision = e.revision;
          if (e.type === 'put') this.set(e.key, e.value);
          else this.records.delete(e.key.slice(this.prefix.length));
        }
        return;
      case 'progress':
        return;
      case 'compacted':
      case 'cancelled':
        if (m.kind === 'cancelled' && m.reason === 'closed') return;
        this.watcher?.cancel();
        void this.start().catch(() => undefined);
        return;
    }
  }

  private set(key: string, value: string): void {
    const id = key.slice(this.prefix.length);
    const rec = this.parse(id, value);
    if (rec === undefined) this.records.delete(id);
    else this.records.set(id, rec);
  }

  close(): void {
    this.closed = true;
    this.watcher?.cancel();
  }
}
