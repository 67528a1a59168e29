// The session register: which user is connected on which node. Indexed by app
// then user (the lookup a push does) and, through each lease's `sessions`, by
// the node lease the session hangs on, so a dead node's sessions vanish with
// its lease in one command.

import { assert } from './assert.js';
import { errorResult } from './command.js';
import type { Applied, Command } from './command.js';
import type { RegisterOp, Session } from './keeper.js';
import { makeSession, sessionRef } from './state.js';
import type { KeeperState, LeaseRecord } from './state.js';

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

/** The sessions of one user, in registration order. */
export function sessionsOf(state: KeeperState, app: string, user: string): Session[] {
  const sessions = state.register.get(app)?.get(user);
  return sessions === undefined ? [] : [...sessions.values()].map((e) => e.session);
}

/** Drops every session attached to `lease`; returns how many. */
export function removeLeaseSessions(state: KeeperState, lease: LeaseRecord): number {
  const refs = [...lease.sessions];
  for (const ref of refs) {
    const [app, user, session] = ref.split('\u0000');
    assert(app !== undefined && user !== undefined && session !== undefined, `bad session ref ${ref}`);
    assert(removeSession(state, app, user, session), `indexed session ${ref} missing`);
  }
  return refs.length;
}

export function addSession(state: KeeperState, lease: LeaseRecord, s: Session): void {
  let users = state.register.get(s.app);
  if (users === undefined) state.register.set(s.app, (users = new Map()));
  let sessions = users.get(s.user);
  if (sessions === undefined) users.set(s.user, (sessions = new Map()));
  assert(!sessions.has(s.session), `session ${s.session} already registered`);
  sessions.set(s.session, { session: makeSession(s), lease: lease.id });
  lease.sessions.add(sessionRef(s.app, s.user, s.session));
}

function removeSession(state: KeeperState, app: string, user: string, session: string): boolean {
  const users = state.register.get(app);
  const sessions = users?.get(user);
  const entry = sessions?.get(session);
  if (users === undefined || sessions === undefined || entry === undefined) return false;
  sessions.delete(session);
  if (sessions.size === 0) users.delete(user);
  if (users.size === 0) state.register.delete(app);
  const lease = state.leases.get(entry.lease);
  assert(lease !== undefined && lease.sessions.delete(sessionRef(app, user, session)), `session ${session} not indexed under lease ${entry.lease}`);
  return true;
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
