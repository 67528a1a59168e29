// Snapshots of the whole keeper state, applied index included, so that the
// state and the point in the log it reflects are always stored together.
// Derived values (a lease's keys and sessions, the bytes of keys and
// values) are not stored; restore rebuilds them, so they cannot disagree
// with the data on disk.
//
// Invariant: restore(snapshot(s)) is deep-equal to s.

import { arr, corrupt, num, obj, ownStr, packr, str, unpack } from './codec.js';
import type { Member } from './keeper.js';
import { addSession, hasSession, registeredSessions } from './register.js';
import { emptyState, kvBytes, makeKeyValue, makeMember } from './state.js';
import type { KeeperState, LeaseRecord, RegisteredSession } from './state.js';

/** Bumped on any change to the layout below; restore refuses others. */
export const SNAPSHOT_FORMAT = 1;

export function snapshot(state: KeeperState): Uint8Array {
  const kvs = [...state.kvs.values()].map((kv) => [kv.key, kv.value, kv.createRevision, kv.modRevision, kv.version, kv.lease ?? null]);
  const leases = [...state.leases.values()].map((l) => [l.id, l.ttl, l.deadline]);
  const members = [...state.members.values()].map((m) => [m.id, m.role, m.peer, m.api, m.gateway, m.zone]);
  const sessions: unknown[] = [];
  for (const s of registeredSessions(state)) sessions.push([s.app, s.user, s.device, s.session, s.node, s.since, s.lease]);
  return packr.pack({ format: SNAPSHOT_FORMAT, appliedIndex: state.appliedIndex, revision: state.revision, kvs, leases, members, sessions });
}

/** Throws KeeperError 'corrupt' when the bytes are not a snapshot this code wrote. */
export function restore(bytes: Uint8Array): KeeperState {
  const o = obj(unpack(bytes), 'snapshot');
  if (o['format'] !== SNAPSHOT_FORMAT) throw corrupt(`snapshot format ${JSON.stringify(o['format'])}, expected ${SNAPSHOT_FORMAT}`);
  const state = emptyState();
  state.appliedIndex = num(o['appliedIndex'], 'appliedIndex');
  state.revision = num(o['revision'], 'revision');
  for (const row of arr(o['leases'], 'leases')) {
    const [id, ttl, deadline] = arr(row, 'lease');
    const lease = { id: str(id, 'lease id'), ttl: num(ttl, 'lease ttl'), deadline: num(deadline, 'lease deadline'), keys: new Set<string>(), sessions: new Set<RegisteredSession>() };
    state.leases.set(lease.id, lease);
  }
  for (const row of arr(o['kvs'], 'kvs')) {
    const [key, value, create, mod, version, leaseId] = arr(row, 'kv');
    const lease = leaseId === null ? undefined : leaseOf(state, str(leaseId, 'kv lease'));
    const kv = makeKeyValue(str(key, 'key'), str(value, 'value'), num(create, 'createRevision'), num(mod, 'modRevision'), num(version, 'version'), lease?.id);
    if (kv.modRevision > state.revision) throw corrupt(`key ${kv.key} modified after the snapshot revision`);
    state.kvs.set(kv.key, kv);
    state.kvBytes += kvBytes(kv.key, kv.value);
    lease?.keys.add(kv.key);
  }
  for (const row of arr(o['members'], 'members')) {
    const [id, role, peer, api, gateway, zone] = arr(row, 'member');
    if (role !== 'voter' && role !== 'learner') throw corrupt(`bad member role ${JSON.stringify(role)}`);
    const m: Member = { id: str(id, 'member id'), role, peer: str(peer, 'peer'), api: str(api, 'api'), gateway: str(gateway, 'gateway'), zone: str(zone, 'zone') };
    state.members.set(m.id, makeMember(m));
  }
  for (const row of arr(o['sessions'], 'sessions')) {
    const [app, user, device, session, node, since, leaseId] = arr(row, 'session');
    const s = { app: str(app, 'app'), user: str(user, 'user'), device: ownStr(device, 'device'), session: ownStr(session, 'session'), node: str(node, 'node'), since: num(since, 'since') };
    if (hasSession(state, s.app, s.user, s.session)) throw corrupt(`session ${s.session} stored twice`);
    addSession(state, leaseOf(state, str(leaseId, 'session lease')), s);
  }
  return state;
}

function leaseOf(state: KeeperState, id: string): LeaseRecord {
  const lease = state.leases.get(id);
  if (lease === undefined) throw corrupt(`reference to missing lease ${id}`);
  return lease;
}
