// One connection's subscription to one topic. It keeps the highest offset
// written on the connection, and a live pub at or below it is dropped (a
// fan-out arriving late, after the history already gave that record): a
// topic's offsets only grow on one connection. While the history of a `sub`
// with `after` is being read from the topic's owner, the connection is
// already subscribed and the live pubs that arrive meanwhile wait here, to be
// written after the history: none falls between the read and the
// subscription. A live pub whose previous record (`prev`, from the owner) is
// above what the connection has means this node missed a pub (it was down or
// cut off when the owner sent it): the pub waits the same way while the
// history fills the hole (a catch-up).
import type { SharedFrame } from '../protocol/codec.js';

/** Live pubs held while a history is read; past it they are dropped (live delivery is at most once). */
export const REPLAY_BUFFER_MAX = 256;

export type LiveVerdict = 'write' | 'repeat' | 'held' | 'buffer-full' | 'catch-up';

export class TopicSubscription {
  private held: { offset: number; frame: SharedFrame }[] | undefined;

  /** `last`: the highest offset the client already has (its `after`); undefined for a live-only subscription until its first pub. */
  constructor(private last: number | undefined) {}

  get lastOffset(): number | undefined {
    return this.last;
  }

  /** A live pub (`prev`: the owner's record before it, if the owner said): whether to write it now, or read the history first ('catch-up'). */
  live(offset: number, prev: number | undefined, frame: SharedFrame): LiveVerdict {
    if (this.held !== undefined) {
      if (this.held.length >= REPLAY_BUFFER_MAX) return 'buffer-full';
      this.held.push({ offset, frame });
      return 'held';
    }
    if (this.last !== undefined && offset <= this.last) return 'repeat';
    if (this.last !== undefined && prev !== undefined && prev > this.last) {
      this.held = [{ offset, frame }];
      return 'catch-up';
    }
    this.last = offset;
    return 'write';
  }

  /**
   * The topic's owner has offsets up to `head` (an interest sync): true if
   * this subscription lacks some (this node was not sent them) and should
   * read the history now; live pubs are then held until `replayed`.
   */
  behind(head: number): boolean {
    if (this.held !== undefined || this.last === undefined || head <= this.last) return false;
    this.held = [];
    return true;
  }

  /** A history read starts: live pubs are held until `replayed`. */
  replaying(): void {
    this.held ??= [];
  }

  /**
   * The history arrived (oldest first), or could not be read (empty): answers
   * the records to write, then the held live pubs, each above everything
   * before it.
   */
  replayed<R extends { readonly offset: number }>(history: readonly R[]): { records: R[]; pubs: SharedFrame[] } {
    const records: R[] = [];
    let last = this.last ?? 0;
    for (const r of history) {
      if (r.offset <= last) continue;
      records.push(r);
      last = r.offset;
    }
    const held = this.held ?? [];
    this.held = undefined;
    const pubs: SharedFrame[] = [];
    for (const h of held.sort((a, b) => a.offset - b.offset)) {
      if (h.offset <= last) continue;
      pubs.push(h.frame);
      last = h.offset;
    }
    if (records.length > 0 || pubs.length > 0) this.last = last;
    return { records, pubs };
  }
}
