// Leases: a TTL that keys and sessions hang on. They expire through the log,
// never through a clock read here: the leader's timer proposes `leaseExpire`
// with its clock reading, and every replica applies the same decision at the
// same revision.
//
// Remaining TTL is kept as an absolute deadline in unix ms, set from the
// proposer's clock (`now` in grant and keepalive). Why not ticks: a tick count
// is local to one member; replicating it needs a log entry per tick, and a new
// leader cannot know how many ticks its predecessor counted. A replicated
// deadline survives leader changes and restarts as is; the new leader compares
// it with its own clock, so the only error is the clock skew between members
// (milliseconds under NTP, against TTLs of seconds). A leader whose clock runs
// ahead could expire early, so the shell refreshes leases when it takes over,
// as etcd's lessor.Promote does.

import { errorResult } from './command.js';
import type { Applied, Command } from './command.js';
import { compareKeys } from './ordered-map.js';
import { deleteKeys } from './kv.js';
import { removeLeaseSessions } from './register.js';
import type { KeeperState, LeaseRecord } from './state.js';
import type { WatchEvent } from './keeper.js';

type LeaseGrant = Extract<Command, { type: 'leaseGrant' }>;
type LeaseKeepAlive = Extract<Command, { type: 'leaseKeepAlive' }>;
type LeaseRevoke = Extract<Command, { type: 'leaseRevoke' }>;
type LeaseExpire = Extract<Command, { type: 'leaseExpire' }>;

export function applyLeaseGrant(state: KeeperState, cmd: LeaseGrant): Applied {
  if (cmd.id.length === 0) return invalid(state, 'empty lease id');
  if (!Number.isSafeInteger(cmd.ttl) || cmd.ttl <= 0) return invalid(state, `lease ttl ${cmd.ttl} is not a positive integer`);
  if (!Number.isFinite(cmd.now)) return invalid(state, `bad clock reading ${cmd.now}`);
  if (state.leases.has(cmd.id)) return invalid(state, `lease ${cmd.id} exists`);
  const lease: LeaseRecord = { id: cmd.id, ttl: cmd.ttl, deadline: cmd.now + cmd.ttl * 1000, keys: new Set(), sessions: new Set() };
  state.leases.set(cmd.id, lease);
  return { result: { type: 'leaseGrant', revision: state.revision, id: cmd.id, ttl: cmd.ttl }, events: [] };
}

export function applyLeaseKeepAlive(state: KeeperState, cmd: LeaseKeepAlive): Applied {
  const lease = state.leases.get(cmd.id);
  if (lease === undefined) return notFound(state, cmd.id);
  if (!Number.isFinite(cmd.now)) return invalid(state, `bad clock reading ${cmd.now}`);
  // max: a proposer whose clock lags must not shorten a lease another one extended.
  lease.deadline = Math.max(lease.deadline, cmd.now + lease.ttl * 1000);
  return { result: { type: 'leaseKeepAlive', revision: state.revision, id: lease.id, ttl: lease.ttl }, events: [] };
}

export function applyLeaseRevoke(state: KeeperState, cmd: LeaseRevoke): Applied {
  const lease = state.leases.get(cmd.id);
  if (lease === undefined) return notFound(state, cmd.id);
  const gone = removeLease(state, lease);
  return { result: { type: 'leaseRevoke', revision: state.revision, deleted: gone.events.length, sessionsRemoved: gone.sessionsRemoved }, events: gone.events };
}

export function applyLeaseExpire(state: KeeperState, cmd: LeaseExpire): Applied {
  const lease = state.leases.get(cmd.id);
  if (lease === undefined || cmd.now < lease.deadline) {
    return { result: { type: 'leaseExpire', revision: state.revision, expired: false, deleted: 0, sessionsRemoved: 0 }, events: [] };
  }
  const gone = removeLease(state, lease);
  const result = { type: 'leaseExpire', revision: state.revision, expired: true, deleted: gone.events.length, sessionsRemoved: gone.sessionsRemoved } as const;
  return { result, events: gone.events };
}

/** Ids of the leases whose deadline is at or before `now`, for the leader's expiry timer. */
export function expiredLeases(state: KeeperState, now: number): string[] {
  const ids: string[] = [];
  for (const lease of state.leases.values()) if (lease.deadline <= now) ids.push(lease.id);
  return ids;
}

/** Drops the lease with its keys and sessions, all at one new revision (none if nothing was attached). */
function removeLease(state: KeeperState, lease: LeaseRecord): { events: WatchEvent[]; sessionsRemoved: number } {
  let events: WatchEvent[] = [];
  let sessionsRemoved = 0;
  if (lease.keys.size > 0 || lease.sessions.size > 0) {
    const revision = (state.revision += 1);
    events = deleteKeys(state, [...lease.keys].sort(compareKeys), revision);
    sessionsRemoved = removeLeaseSessions(state, lease);
  }
  state.leases.delete(lease.id);
  return { events, sessionsRemoved };
}

function invalid(state: KeeperState, message: string): Applied {
  return { result: errorResult(state.revision, 'invalid', message), events: [] };
}

function notFound(state: KeeperState, id: string): Applied {
  return { result: errorResult(state.revision, 'lease-not-found', `lease ${id} not found`), events: [] };
}
