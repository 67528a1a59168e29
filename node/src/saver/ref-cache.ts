// A bounded cache of records loaded from the store and then owned by memory
// (a user's lastSeq and drop ranges, a topic's last offset). Such a record must
// exist at most once: two copies would hand out the same seq twice. So an
// entry is only evicted while no operation holds it (refs 0), and holders
// release it only after their writes are in the store, so a reload reads what
// memory had.

/**
 * One record. Once loaded it holds just the value: a settled promise kept per
 * entry would cost ~50 B for each of up to cacheEntriesMax idle records.
 */
export class CacheEntry<T> {
  /** Set once loaded, for synchronous use inside a serial step. */
  value: T | undefined;
  refs = 0;
  private loading: Promise<T> | undefined;

  constructor(load: Promise<T>) {
    this.loading = load.then((value) => {
      this.value = value;
      this.loading = undefined;
      return value;
    });
  }

  /** Resolves with the value once loaded; rejects if the load failed. */
  get ready(): Promise<T> {
    return this.loading ?? Promise.resolve(this.value as T);
  }
}

/** Idle entries examined per insertion while the cache is over its cap. */
const EVICT_SCAN_MAX = 32;

export class RefCache<T> {
  private readonly entries = new Map<string, CacheEntry<T>>();

  constructor(private readonly max: number) {}

  /** The entry for `key`, loading it on first use; the caller must `release` it. */
  acquire(key: string, load: () => Promise<T>): CacheEntry<T> {
    let entry = this.entries.get(key);
    if (entry === undefined) {
      this.evictIdle();
      const created = new CacheEntry(load());
      entry = created;
      this.entries.set(key, created);
      // A failed load is forgotten so that the next call retries it.
      created.ready.catch(() => {
        if (this.entries.get(key) === created) this.entries.delete(key);
      });
    }
    entry.refs++;
    return entry;
  }

  /** Whether `key` has an entry (loaded, loading or held). */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  release(entry: CacheEntry<T>): void {
    entry.refs--;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Oldest-inserted first (FIFO): cheap, and a hot record evicted is just reloaded. */
  private evictIdle(): void {
    let scanned = 0;
    for (const [key, e] of this.entries) {
      if (this.entries.size < this.max || scanned >= EVICT_SCAN_MAX) return;
      scanned++;
      if (e.refs === 0 && e.value !== undefined) this.entries.delete(key);
    }
  }
}
