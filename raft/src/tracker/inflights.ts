import { assert } from '../assert.js';
import type { Index } from '../types.js';

/**
 * The MsgApp messages sent to one follower and not yet acknowledged, as a
 * ring buffer of (last index, bytes). Full when `msgsMax` messages or
 * `bytesMax` bytes are in flight; the leader then stops sending appends.
 */
export class Inflights {
  /** Invariant: 0 <= start < capacity (when capacity > 0). */
  private start = 0;
  /** Invariant: 0 <= count <= msgsMax. */
  private count = 0;
  /** Invariant: bytes == sum of the sizes of the `count` slots from `start`. */
  private bytes = 0;
  private readonly indexes: number[] = [];
  private readonly sizes: number[] = [];

  constructor(
    readonly msgsMax: number,
    readonly bytesMax: number,
  ) {
    assert(msgsMax > 0, 'inflight msgsMax must be positive');
  }

  /** Records a MsgApp whose last entry is `last`. Invariant: `last` increases. */
  add(last: Index, size: number): void {
    assert(!this.full(), 'cannot add to full inflights');
    const slot = (this.start + this.count) % this.msgsMax;
    if (this.count > 0) {
      const prevSlot = (this.start + this.count - 1) % this.msgsMax;
      assert(this.indexes[prevSlot]! < last, `inflights out of order: ${this.indexes[prevSlot]} >= ${last}`);
    }
    this.indexes[slot] = last;
    this.sizes[slot] = size;
    this.count++;
    this.bytes += size;
  }

  /** Frees every message whose last index is <= `to`. */
  freeLE(to: Index): void {
    while (this.count > 0 && this.indexes[this.start]! <= to) {
      this.bytes -= this.sizes[this.start]!;
      this.start = (this.start + 1) % this.msgsMax;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  full(): boolean {
    return this.count === this.msgsMax || (this.bytesMax > 0 && this.bytes >= this.bytesMax);
  }

  size(): number {
    return this.count;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytes = 0;
  }
}
