// The session register: which user is connected on which node. Indexed by app
// then user (the lookup a push does) and, through each lease's `sessions`, by
// the node lease the session hangs on, so a dead node's sessions vanish with
// its lease in one command.

import { assert } from './assert.js';
import { errorResult } from './command.js';
import type { Applied, Command } from './command.js';
import type { RegisterOp, Session } from './keeper.js';
import { makeRegisteredSession } from './state.js';
import type { KeeperState, LeaseRecord, RegisteredSession, UserSessions } from './state.js';

type RegisterBatch = Extract<Command, { type: 'registerBatch' }>;

export function applyRegisterBatch(state: KeeperState, cmd: RegisterBatch): Applied {
  const lease = state.leases.get(cmd.lease);
  if (lease === undefined) {
    return { result: errorResult(state.revision, 'lease-not-found', `lease ${cmd.lease} not found`), events: [] };
  }
  // Validate all before changing anything: a batch applies whole or not at all.
  for (const op of cmd.ops) {
    const problem = invalidRegisterOp(op);
    if (problem !== undefined) return { result: errorResult(state.revision, 'invalid', problem), events: [] };
  }
  let added = 0;
  let removed = 0;
  for (const op of cmd.ops) {
    if (op.op === 'add') {
      const s = op.session;
      removeSession(state, s.app, s.user, s.session);
      addSession(state, lease, s);
      added += 1;
    } else if (removeSession(state, op.app, op.user, op.session)) {
      removed += 1;
    }
  }
  const changed = added + removed > 0;
  const revision = changed ? (state.revision += 1) : state.revision;
  return { result: { type: 'registerBatch', revision, added, removed }, events: [] };
}

/** The entries of one user's sessions, in registration order. */
function entriesOf(us: UserSessions | undefined): readonly RegisteredSession[] {
  if (us === undefined) return [];
  return us instanceof Map ? [...us.values()] : [us];
}

/** The sessions of one user, in registration order. */
export function sessionsOf(state: KeeperState, app: string, user: string): Session[] {
  // The entries themselves: a RegisteredSession is a Session (readers pick the fields they need).
  return [...entriesOf(state.register.get(app)?.get(user))];
}

/** Every register entry: by app, then user, then registration order. */
export function* registeredSessions(state: KeeperState): Generator<RegisteredSession> {
  for (const users of state.register.values()) for (const us of users.values()) yield* entriesOf(us);
}

/** Whether the user has a session with this id. */
export function hasSession(state: KeeperState, app: string, user: string, session: string): boolean {
  return entriesOf(state.register.get(app)?.get(user)).some((e) => e.session === session);
}

/** Drops every session attached to `lease`; returns how many. */
export function removeLeaseSessions(state: KeeperState, lease: LeaseRecord): number {
  const entries = [...lease.sessions];
  for (const s of entries) assert(removeSession(state, s.app, s.user, s.session), `indexed session ${s.session} missing`);
  return entries.length;
}

export function addSession(state: KeeperState, lease: LeaseRecord, s: Session): void {
  let users = state.register.get(s.app);
  if (users === undefined) state.register.set(s.app, (users = new Map()));
  const entry = makeRegisteredSession(s, state.members.get(s.node)?.id ?? s.node, lease.id);
  const us = users.get(s.user);
  if (us === undefined) {
    users.set(s.user, entry);
  } else if (us instanceof Map) {
    assert(!us.has(s.session), `session ${s.session} already registered`);
    us.set(s.session, entry);
  } else {
    assert(us.session !== s.session, `session ${s.session} already registered`);
    users.set(
      s.user,
      new Map([
        [us.session, us],
        [s.session, entry],
      ]),
    );
  }
  lease.sessions.add(entry);
}

function removeSession(state: KeeperState, app: string, user: string, session: string): boolean {
  const users = state.register.get(app);
  const us = users?.get(user);
  if (users === undefined || us === undefined) return false;
  let entry: RegisteredSession | undefined;
  if (us instanceof Map) {
    entry = us.get(session);
    if (entry === undefined) return false;
    us.delete(session);
    // Back to the single-entry form: most users' second session is a short overlap.
    const [rest] = us.values();
    if (us.size === 1 && rest !== undefined) users.set(user, rest);
  } else {
    if (us.session !== session) return false;
    entry = us;
    users.delete(user);
  }
  if (users.size === 0) state.register.delete(app);
  const lease = state.leases.get(entry.lease);
  assert(lease !== undefined && lease.sessions.delete(entry), `session ${session} not indexed under lease ${entry.lease}`);
  return true;
}

/** Whether two op lists have the same values (the fields `apply` reads). */
export function sameRegisterOps(a: readonly RegisterOp[], b: readonly RegisterOp[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i];
    if (y === undefined) return false;
    if (x.op === 'add') {
      if (y.op !== 'add') return false;
      const s = x.session;
      const t = y.session;
      return s.app === t.app && s.user === t.user && s.device === t.device && s.session === t.session && s.node === t.node && Object.is(s.since, t.since);
    }
    return y.op === 'remove' && x.app === y.app && x.user === y.user && x.session === y.session;
  });
}

/** Why `op` would be rejected, or undefined; proposers check first so one bad call cannot fail a shared batch. */
export function invalidRegisterOp(op: RegisterOp): string | undefined {
  const ids = op.op === 'add' ? [op.session.app, op.session.user, op.session.session, op.session.node] : [op.app, op.user, op.session];
  for (const id of ids) {
    if (id.length === 0 || id.includes('\u0000')) return `register ${op.op}: bad id ${JSON.stringify(id)}`;
  }
  if (op.op === 'add' && !Number.isFinite(op.session.since)) return `register add: bad since ${op.session.since}`;
  return undefined;
}
