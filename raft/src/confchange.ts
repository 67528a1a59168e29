import type { ConfState, NodeId } from './types.js';

/**
 * One membership change at a time (see README: why not joint consensus).
 * - add-node: adds a voter, or promotes a learner to voter.
 * - add-learner: adds a learner (a voter cannot be demoted).
 * - remove-node: removes a voter or learner.
 */
export type ConfChange =
  | { readonly type: 'add-node'; readonly nodeId: NodeId }
  | { readonly type: 'add-learner'; readonly nodeId: NodeId }
  | { readonly type: 'remove-node'; readonly nodeId: NodeId };

export type ConfChangeResult = { readonly ok: true; readonly confState: ConfState } | { readonly ok: false; readonly message: string };

/** The configuration after `cc`, or why `cc` is not allowed. Never changes more than one voter. */
export function applyConfChange(cs: ConfState, cc: ConfChange): ConfChangeResult {
  const voters = new Set(cs.voters);
  const learners = new Set(cs.learners);
  const id = cc.nodeId;
  if (!Number.isSafeInteger(id) || id <= 0) return { ok: false, message: `invalid node id ${id}` };
  switch (cc.type) {
    case 'add-node':
      learners.delete(id);
      voters.add(id);
      break;
    case 'add-learner':
      if (voters.has(id)) return { ok: false, message: `node ${id} is a voter and cannot be demoted to learner` };
      learners.add(id);
      break;
    case 'remove-node':
      voters.delete(id);
      learners.delete(id);
      if (voters.size === 0) return { ok: false, message: 'removing the last voter' };
      break;
  }
  const sort = (s: Set<NodeId>): NodeId[] => [...s].sort((a, b) => a - b);
  return { ok: true, confState: { voters: sort(voters), learners: sort(learners) } };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify({ type: cc.type, nodeId: cc.nodeId }));
}

/** Decodes a conf change entry's payload; undefined if it is not one. */
export function decodeConfChange(data: Uint8Array): ConfChange | undefined {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as { type?: unknown; nodeId?: unknown };
  if (typeof o.nodeId !== 'number') return undefined;
  if (o.type === 'add-node' || o.type === 'add-learner' || o.type === 'remove-node') {
    return { type: o.type, nodeId: o.nodeId };
  }
  return undefined;
}
