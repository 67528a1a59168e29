// A bounded set of recently seen ids, evicting the oldest: dedups messages
// that carry no seq (broadcasts, qos 0) without growing forever.

export class IdSet {
  // A Set iterates in insertion order, so its first element is the oldest.
  private readonly ids = new Set<string>();
  constructor(private readonly capacity: number) {}

  /** Records `id`; returns false if it was already there. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      const oldest = this.ids.values().next();
      if (oldest.done !== true) this.ids.delete(oldest.value);
    }
    return true;
  }

  get size(): number {
    return this.ids.size;
  }
}
