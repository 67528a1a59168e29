// The keeper's replicated state: everything `apply` reads and writes. Plain
// maps, mutated in place by `apply` (copying millions of register entries per
// command is not an option); determinism comes from `apply` reading nothing
// but this and the command.

import type { KeyValue, Member, Session } from './keeper.js';
import { OrderedMap } from './ordered-map.js';

export interface LeaseRecord {
  readonly id: string;
  /** Granted TTL in seconds. Invariant: a positive safe integer. */
  readonly ttl: number;
  /**
   * Unix ms on the proposer's clock after which the leader may expire the
   * lease. Replicated, so a new leader knows the remaining TTL.
   * Invariant: only grows (a keepalive never shortens a lease).
   */
  deadline: number;
  /** Derived index. Invariant: k ∈ keys ⇔ kvs.get(k).lease === id. */
  readonly keys: Set<string>;
  /** Derived index of register entries. Invariant: e ∈ sessions ⇔ e is in the register with e.lease === id. */
  readonly sessions: Set<RegisteredSession>;
}

/** A session as registered: the session itself (what reads return) and, in the same object, the lease it hangs on. */
export interface RegisteredSession extends Session {
  /** Invariant: a key of KeeperState.leases. */
  readonly lease: string;
}

/**
 * A user's sessions: almost every user has one, held as the entry itself; a
 * Map by session id (in registration order) only while there are two or more.
 * Invariant: a Map here holds at least two entries.
 */
export type UserSessions = RegisteredSession | Map<string, RegisteredSession>;

/** app → user → sessions. Invariant: no empty inner map is kept. */
export type RegisterIndex = Map<string, Map<string, UserSessions>>;

export interface KeeperState {
  /** Log index of the last applied command; stored with the state so a snapshot says where to resume. */
  appliedIndex: number;
  /** Invariant: ≥ every modRevision in kvs; advances by one per command that changes kvs, members or the register. */
  revision: number;
  /** Keys in order besides (key-space.ts), for prefix reads. */
  readonly kvs: OrderedMap<KeyValue>;
  /** Derived. Invariant: the sum of kvBytes(key, value) over kvs (what the space quota counts). */
  kvBytes: number;
  /** In id order besides, for listing leases a page at a time. */
  readonly leases: OrderedMap<LeaseRecord>;
  readonly members: Map<string, Member>;
  readonly register: RegisterIndex;
}

export function emptyState(): KeeperState {
  return { appliedIndex: 0, revision: 0, kvs: new OrderedMap(), kvBytes: 0, leases: new OrderedMap(), members: new Map(), register: new Map() };
}

/** What a key and its value count against the keeper's space quota: their UTF-8 bytes. */
export function kvBytes(key: string, value: string): number {
  return Buffer.byteLength(key) + Buffer.byteLength(value);
}

/**
 * Builders shared by `apply` and `restore`, so a restored state is deep-equal
 * to the original down to which optional fields are present.
 */
export function makeKeyValue(
  key: string,
  value: string,
  createRevision: number,
  modRevision: number,
  version: number,
  lease: string | undefined,
): KeyValue {
  return lease === undefined
    ? { key, value, createRevision, modRevision, version }
    : { key, value, createRevision, modRevision, version, lease };
}

/**
 * The entry keeps the strings of `s` as they are (decoders hand over own
 * copies, see codec.ts ownStr); `node` lets the register share the member
 * record's id string instead of a decoded copy per session.
 */
export function makeRegisteredSession(s: Session, node: string, lease: string): RegisteredSession {
  return { app: s.app, user: s.user, device: s.device, session: s.session, node, since: s.since, lease };
}

export function makeMember(m: Member): Member {
  return { id: m.id, role: m.role, peer: m.peer, api: m.api, gateway: m.gateway, zone: m.zone };
}
