// Per-user inbox metadata: the last assigned seq and which seqs were dropped.
//
// Invariant: every seq in 1..lastSeq is either stored in the inbox or dropped,
// never both. Dropped seqs are the floor (every seq <= floorTo) plus a sorted
// list of disjoint ranges above it. So the stored set, its count and its oldest
// members follow from this record alone, without reading the inbox.
import type { Gap } from './saver.js';

export type DropReason = 'expired' | 'overflow';

export interface DropRange {
  from: number;
  to: number;
  reason: DropReason;
}

export interface UserMeta {
  lastSeq: number;
  floorTo: number;
  floorReason: DropReason;
  ranges: DropRange[];
  /**
   * Set when this inbox was handed over from a drained node: that drain's
   * mark. The new owner touches the user only once it holds this mark.
   */
  handoff?: string;
  /**
   * Set on the previous owner when a join moved this user to the joining
   * node: that join's mark. From then on nothing is appended or acked here
   * for the user (a per-user seal, durable like the record itself); an
   * import (the user handed back) clears it.
   */
  movedOut?: string;
}

/**
 * Dropped ranges kept below the oldest stored message before older ones fold
 * into the floor (which keeps one reason). Ranges between stored messages are
 * bounded by the inbox cap, so the record stays bounded.
 */
export const DROP_RANGES_BELOW_MAX = 8;

export function emptyMeta(): UserMeta {
  return { lastSeq: 0, floorTo: 0, floorReason: 'overflow', ranges: [] };
}

export function isDropped(meta: UserMeta, seq: number): boolean {
  if (seq <= meta.floorTo) return true;
  return meta.ranges.some((r) => r.from <= seq && seq <= r.to);
}

export function storedCount(meta: UserMeta): number {
  let dropped = meta.floorTo;
  for (const r of meta.ranges) dropped += r.to - r.from + 1;
  return meta.lastSeq - dropped;
}

/** Marks stored seqs from..to as dropped, merging with same-reason neighbours. */
export function addDrop(meta: UserMeta, from: number, to: number, reason: DropReason): void {
  const ranges = meta.ranges;
  let i = 0;
  while (i < ranges.length && (ranges[i]?.to ?? 0) < from) i++;
  const prev = ranges[i - 1];
  const next = ranges[i];
  const joinPrev = prev !== undefined && prev.reason === reason && prev.to + 1 === from;
  const joinNext = next !== undefined && next.reason === reason && next.from === to + 1;
  if (prev !== undefined && joinPrev && next !== undefined && joinNext) {
    prev.to = next.to;
    ranges.splice(i, 1);
  } else if (prev !== undefined && joinPrev) {
    prev.to = to;
  } else if (next !== undefined && joinNext) {
    next.from = from;
  } else {
    ranges.splice(i, 0, { from, to, reason });
  }
  foldIntoFloor(meta);
}

/**
 * Drops the oldest stored messages until at most `maxInbox` remain; returns the
 * dropped runs so the caller deletes those messages in the same batch.
 */
export function dropOverflow(meta: UserMeta, maxInbox: number): { from: number; to: number }[] {
  let excess = storedCount(meta) - Math.max(0, maxInbox);
  const runs: { from: number; to: number }[] = [];
  let s = meta.floorTo + 1;
  for (const r of [...meta.ranges, { from: meta.lastSeq + 1, to: meta.lastSeq }]) {
    if (excess <= 0) break;
    const take = Math.min(excess, r.from - s);
    if (take > 0) {
      runs.push({ from: s, to: s + take - 1 });
      excess -= take;
    }
    s = r.to + 1;
  }
  for (const run of runs) addDrop(meta, run.from, run.to, 'overflow');
  return runs;
}

/** Ranges wholly below the oldest stored seq are a prefix of `ranges`; fold all but the newest few. */
function foldIntoFloor(meta: UserMeta): void {
  let below = 0;
  let s = meta.floorTo + 1;
  for (const r of meta.ranges) {
    if (r.from !== s) break;
    s = r.to + 1;
    below++;
  }
  const fold = below - DROP_RANGES_BELOW_MAX;
  if (fold <= 0) return;
  const last = meta.ranges[fold - 1];
  if (last === undefined) return;
  meta.floorTo = last.to;
  meta.floorReason = last.reason;
  meta.ranges.splice(0, fold);
}

/** Dropped seqs above `afterSeq`, in order, as gaps. */
export function gapsAfter(meta: UserMeta, afterSeq: number): Gap[] {
  const gaps: Gap[] = [];
  if (meta.floorTo > afterSeq) gaps.push({ from: afterSeq + 1, to: meta.floorTo, reason: meta.floorReason });
  for (const r of meta.ranges) {
    if (r.to > afterSeq) gaps.push({ from: Math.max(r.from, afterSeq + 1), to: r.to, reason: r.reason });
  }
  return gaps;
}

export function cloneMeta(meta: UserMeta): UserMeta {
  return { ...meta, ranges: meta.ranges.map((r) => ({ ...r })) };
}
