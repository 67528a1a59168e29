// The bindings of one connection by app. Almost every connection binds one
// app: that one is held in a field, and a Map (~180 B with its hash table) is
// made only for a second app. Iteration is in binding order, as a Map's.
import type { Binding } from './binding.js';

const NONE: readonly Binding[] = [];

export class AppBindings {
  private one: Binding | undefined;
  /** Every binding, the first included, once there are two or more. */
  private many: Map<string, Binding> | undefined;

  get size(): number {
    return this.many !== undefined ? this.many.size : this.one === undefined ? 0 : 1;
  }

  get(app: string): Binding | undefined {
    if (this.many !== undefined) return this.many.get(app);
    return this.one?.app === app ? this.one : undefined;
  }

  has(app: string): boolean {
    return this.get(app) !== undefined;
  }

  /** Binds `b` under its app, replacing any binding of that app. */
  set(b: Binding): void {
    if (this.many !== undefined) {
      this.many.set(b.app, b);
    } else if (this.one === undefined || this.one.app === b.app) {
      this.one = b;
    } else {
      this.many = new Map([
        [this.one.app, this.one],
        [b.app, b],
      ]);
      this.one = undefined;
    }
  }

  delete(app: string): boolean {
    if (this.many !== undefined) {
      const deleted = this.many.delete(app);
      if (this.many.size === 1) {
        this.one = this.many.values().next().value;
        this.many = undefined;
      }
      return deleted;
    }
    if (this.one?.app !== app) return false;
    this.one = undefined;
    return true;
  }

  clear(): void {
    this.one = undefined;
    this.many = undefined;
  }

  /** The first binding (in binding order), if any. */
  first(): Binding | undefined {
    return this.many !== undefined ? this.many.values().next().value : this.one;
  }

  /** In binding order; like a Map's, not to be iterated while bindings change. */
  values(): IterableIterator<Binding> {
    if (this.many !== undefined) return this.many.values();
    return (this.one === undefined ? NONE : [this.one]).values();
  }
}
