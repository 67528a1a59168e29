// Cluster members as the keeper records them: addresses, zone and role. The
// Raft configuration itself lives in raft/; this is the directory that the
// ring, the dispatcher and `GET /v1/cluster` read.

import { errorResult } from './command.js';
import type { Applied, Command } from './command.js';
import { makeMember } from './state.js';
import type { KeeperState } from './state.js';

type MemberAdd = Extract<Command, { type: 'memberAdd' }>;
type MemberPromote = Extract<Command, { type: 'memberPromote' }>;
type MemberRemove = Extract<Command, { type: 'memberRemove' }>;

export function applyMemberAdd(state: KeeperState, cmd: MemberAdd): Applied {
  const m = cmd.member;
  if (m.id.length === 0) return { result: errorResult(state.revision, 'invalid', 'empty member id'), events: [] };
  if (m.role !== 'voter' && m.role !== 'learner') {
    return { result: errorResult(state.revision, 'invalid', `bad role ${String(m.role)}`), events: [] };
  }
  if (state.members.has(m.id)) return { result: errorResult(state.revision, 'invalid', `member ${m.id} exists`), events: [] };
  state.members.set(m.id, makeMember(m));
  return { result: { type: 'memberAdd', revision: (state.revision += 1) }, events: [] };
}

export function applyMemberPromote(state: KeeperState, cmd: MemberPromote): Applied {
  const m = state.members.get(cmd.id);
  if (m === undefined) return notFound(state, cmd.id);
  // Promoting a voter again is a no-op, so a retried proposal is harmless.
  if (m.role === 'voter') return { result: { type: 'memberPromote', revision: state.revision }, events: [] };
  state.members.set(m.id, makeMember({ ...m, role: 'voter' }));
  return { result: { type: 'memberPromote', revision: (state.revision += 1) }, events: [] };
}

export function applyMemberRemove(state: KeeperState, cmd: MemberRemove): Applied {
  if (!state.members.delete(cmd.id)) return notFound(state, cmd.id);
  return { result: { type: 'memberRemove', revision: (state.revision += 1) }, events: [] };
}

function notFound(state: KeeperState, id: string): Applied {
  return { result: errorResult(state.revision, 'member-not-found', `member ${id} not found`), events: [] };
}
