// The keeper's state machine: apply(state, command, index) → { result, events }.
// A pure function of the state and the command: no clock, no randomness, no
// I/O. Every member of the Raft-backed keeper feeds it its committed log in
// order, so they all agree on every result, revision and event.
//
// Revisions: a command advances the revision by exactly one when it changes
// what reads return (keys, members, the register; a lease revoke or expiry
// when it removes keys or sessions), and not otherwise (a failed compare, a
// delete of nothing, lease grants and keepalives), as in etcd, where leases
// live beside the revisioned store. So every event of a command carries the
// same revision, and a revision is never spent on nothing.

import { assert, assertNever } from './assert.js';
import type { Applied, Command } from './command.js';
import { applyDelete, applyPut } from './kv.js';
import { applyLeaseExpire, applyLeaseGrant, applyLeaseKeepAlive, applyLeaseRevoke } from './leases.js';
import { applyMemberAdd, applyMemberPromote, applyMemberRemove } from './members.js';
import { applyRegisterBatch } from './register.js';
import { applyTxn } from './txn.js';
import type { KeeperState } from './state.js';

/**
 * Applies `command`, committed at log `index`, to `state` in place.
 * Indexes must increase but may skip (Raft log entries that carry no command,
 * such as a new leader's empty entry, are not applied here).
 */
export function apply(state: KeeperState, command: Command, index: number): Applied {
  assert(Number.isSafeInteger(index) && index > state.appliedIndex, `apply: index ${index} after ${state.appliedIndex}`);
  const before = state.revision;
  const applied = dispatch(state, command);
  state.appliedIndex = index;
  assert(applied.result.revision === state.revision, 'apply: result revision is the state revision');
  assert(state.revision === before || state.revision === before + 1, 'apply: a command advances the revision by at most one');
  assert(applied.events.every((e) => e.revision === state.revision) && (applied.events.length === 0 || state.revision > before), 'apply: events carry the new revision');
  return applied;
}

function dispatch(state: KeeperState, command: Command): Applied {
  switch (command.type) {
    case 'put':
      return applyPut(state, command);
    case 'delete':
      return applyDelete(state, command);
    case 'txn':
      return applyTxn(state, command);
    case 'leaseGrant':
      return applyLeaseGrant(state, command);
    case 'leaseKeepAlive':
      return applyLeaseKeepAlive(state, command);
    case 'leaseRevoke':
      return applyLeaseRevoke(state, command);
    case 'leaseExpire':
      return applyLeaseExpire(state, command);
    case 'memberAdd':
      return applyMemberAdd(state, command);
    case 'memberPromote':
      return applyMemberPromote(state, command);
    case 'memberRemove':
      return applyMemberRemove(state, command);
    case 'registerBatch':
      return applyRegisterBatch(state, command);
    default:
      return assertNever(command, 'command');
  }
}
