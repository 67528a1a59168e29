import { assert } from './assert.js';

/** A Raft term. Invariant: a safe non-negative integer. */
export type Term = number & { readonly __brand: 'Term' };
/** A log index. Invariant: a safe non-negative integer; 0 means "before the first entry". */
export type Index = number & { readonly __brand: 'Index' };
/** A member id. Invariant: a positive safe integer; 0 means "none". */
export type NodeId = number;

export const NONE: NodeId = 0;

export function term(n: number): Term {
  assert(Number.isSafeInteger(n) && n >= 0, `term must be a non-negative safe integer, got ${n}`);
  return n as Term;
}

export function index(n: number): Index {
  assert(Number.isSafeInteger(n) && n >= 0, `index must be a non-negative safe integer, got ${n}`);
  return n as Index;
}

export const EntryType = { Normal: 'normal', ConfChange: 'conf-change' } as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  readonly term: Term;
  readonly index: Index;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be durable before any message of the same Ready is sent. */
export interface HardState {
  readonly term: Term;
  readonly vote: NodeId;
  readonly commit: Index;
}

export const EMPTY_HARD_STATE: HardState = { term: term(0), vote: NONE, commit: index(0) };

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === NONE && hs.commit === 0;
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** The membership: disjoint sets of voters and learners. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMeta {
  readonly index: Index;
  readonly term: Term;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

export const EMPTY_SNAPSHOT: Snapshot = {
  meta: { index: index(0), term: term(0), confState: { voters: [], learners: [] } },
  data: new Uint8Array(0),
};

export function isEmptySnapshot(s: Snapshot): boolean {
  return s.meta.index === 0;
}

export const StateType = {
  Follower: 'follower',
  Candidate: 'candidate',
  Leader: 'leader',
  PreCandidate: 'pre-candidate',
} as const;
export type StateType = (typeof StateType)[keyof typeof StateType];

/** Volatile state, reported only when it changes. */
export interface SoftState {
  readonly lead: NodeId;
  readonly state: StateType;
}

/**
 * The answer to a ReadIndex request: once the local applied index reaches
 * `index`, a read of the state machine is linearizable with respect to the
 * moment `readIndex(context)` was called.
 */
export interface ReadState {
  readonly index: Index;
  readonly context: Uint8Array;
}

/** Bytes an entry counts for in every byte limit (payload plus a fixed header). */
export function entryBytes(e: Entry): number {
  return e.data.length + ENTRY_HEADER_BYTES;
}
export const ENTRY_HEADER_BYTES = 16;

/** Bytes an entry counts for in the uncommitted-bytes cap (payload only, as etcd). */
export function payloadBytes(entries: readonly Entry[]): number {
  let n = 0;
  for (const e of entries) n += e.data.length;
  return n;
}

/**
 * The longest prefix of `entries` whose size is at most `bytesMax`, but always
 * at least one entry (a single oversized entry must still make progress).
 */
export function limitBytes(entries: readonly Entry[], bytesMax: number): readonly Entry[] {
  if (entries.length === 0) return entries;
  let size = entryBytes(entries[0]!);
  let n = 1;
  for (; n < entries.length; n++) {
    size += entryBytes(entries[n]!);
    if (size > bytesMax) break;
  }
  return n === entries.length ? entries : entries.slice(0, n);
}
