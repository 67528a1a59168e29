// The keeper's key, as seen through the HTTP API, as a compare-and-swap
// register (one model instance per key: the checker partitions by key).
//
// Operations: read (GET /v1/kv/<key>), write (PUT), cas (PUT with
// ifModRevision; 0 means "only if absent"), delete (DELETE). A compare on the
// value is done by the workload as read-then-cas on the modRevision it read,
// since the API compares only modRevisions.
//
// Revisions are global to the keeper, so per key we check only what one key
// can tell: a write's revision is above the key's current modRevision, a read
// returns exactly the value and modRevision of the last write, a cas succeeds
// exactly when its compare holds.
//
// Revisions only go up, also across a delete: a key deleted at revision 9 and
// created again gets a revision above 9, although its modRevision read 0 in
// between. Each possibility therefore carries `floor`, the revision every
// later write or delete of the key must exceed.
//
// A write whose outcome is unknown carries no revision. After it, the key's
// modRevision is known only to be above the previous one, so a state is a
// set of possibilities: each one either exact (`rev` is the modRevision) or a
// lower bound (the modRevision is > `rev`). A cas with an unknown outcome from
// an inexact state may have held or not: both possibilities are kept. The set
// is the powerset construction of a nondeterministic model, which keeps `step`
// deterministic for the checker's cache.
import type { Model } from './model.js';

/** `via: 'txn'`: the operation goes as a one-key transaction (POST /v1/txn) instead of a GET or PUT; the model is the same. */
export type RegisterInput =
  | { readonly op: 'read'; readonly via?: 'txn' }
  | { readonly op: 'write'; readonly value: string; readonly via?: 'txn' }
  | { readonly op: 'cas'; readonly value: string; readonly ifModRevision: number; readonly via?: 'txn' }
  | { readonly op: 'delete' };

export type RegisterOutput =
  /** value null and modRevision 0: the key was absent. */
  | { readonly kind: 'read'; readonly value: string | null; readonly modRevision: number }
  | { readonly kind: 'written'; readonly revision: number }
  /** The cas compare failed (409): nothing was written. */
  | { readonly kind: 'cas-failed' }
  | { readonly kind: 'deleted'; readonly revision: number; readonly deleted: number }
  /** No answer, or an answer that does not say whether the write happened. */
  | { readonly kind: 'unknown' };

export interface Possibility {
  readonly value: string | null;
  /** The key's modRevision (0 when absent) if `exact`, else a strict lower bound of it. */
  readonly rev: number;
  readonly exact: boolean;
  /** Every later write or delete of this key has a revision above this. Invariant: floor >= rev. */
  readonly floor: number;
}

/** Invariant: sorted by possibilityKey, no duplicates, never empty for a reachable state. */
export type RegisterState = readonly Possibility[];

/** Past this many possibilities a state stops growing (only reachable with many unknown cas in a row). */
export const POSSIBILITIES_MAX = 64;

const INIT: Possibility = { value: null, rev: 0, exact: true, floor: 0 };

function possibilityKey(p: Possibility): string {
  return `${p.exact ? '=' : '>'}${p.rev}/${p.floor}:${p.value === null ? '∅' : JSON.stringify(p.value)}`;
}

function normalize(ps: readonly Possibility[]): RegisterState {
  const m = new Map<string, Possibility>();
  for (const p of ps) m.set(possibilityKey(p), p);
  return [...m.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, POSSIBILITIES_MAX)
    .map((e) => e[1]);
}

/** Whether the compare "modRevision == k" can hold / can fail from possibility p. */
function compare(p: Possibility, k: number): { canHold: boolean; canFail: boolean } {
  if (k === 0) return { canHold: p.value === null, canFail: p.value !== null };
  if (p.value === null) return { canHold: false, canFail: true };
  return p.exact ? { canHold: p.rev === k, canFail: p.rev !== k } : { canHold: k > p.rev, canFail: true };
}

/** The next possibilities from one possibility; empty when the output is impossible from it. */
export function stepOne(p: Possibility, input: RegisterInput, output: RegisterOutput): Possibility[] {
  switch (input.op) {
    case 'read': {
      if (output.kind !== 'read') return [];
      if (output.value !== p.value) return [];
      if (p.value === null) return output.modRevision === 0 ? [p] : [];
      const revOk = p.exact ? output.modRevision === p.rev : output.modRevision > p.rev;
      return revOk ? [{ value: p.value, rev: output.modRevision, exact: true, floor: Math.max(p.floor, output.modRevision) }] : [];
    }
    case 'write':
      if (output.kind === 'unknown') return [{ value: input.value, rev: p.floor, exact: false, floor: p.floor }];
      if (output.kind !== 'written') return [];
      return output.revision > p.floor ? [{ value: input.value, rev: output.revision, exact: true, floor: output.revision }] : [];
    case 'cas': {
      const c = compare(p, input.ifModRevision);
      const bound = Math.max(p.floor, input.ifModRevision);
      const held: Possibility = { value: input.value, rev: bound, exact: false, floor: bound };
      if (output.kind === 'unknown') return [...(c.canHold ? [held] : []), ...(c.canFail ? [p] : [])];
      if (output.kind === 'cas-failed') return c.canFail ? [p] : [];
      if (output.kind !== 'written' || !c.canHold) return [];
      return output.revision > bound ? [{ value: input.value, rev: output.revision, exact: true, floor: output.revision }] : [];
    }
    case 'delete':
      if (output.kind === 'unknown') return [p.value === null ? p : { value: null, rev: 0, exact: true, floor: p.floor }];
      if (output.kind !== 'deleted') return [];
      if (p.value === null) return output.deleted === 0 ? [p] : [];
      return output.deleted === 1 && output.revision > p.floor ? [{ value: null, rev: 0, exact: true, floor: output.revision }] : [];
  }
}

export const registerModel: Model<RegisterState, RegisterInput, RegisterOutput> = {
  init: [INIT],
  step(state, input, output) {
    const next = normalize(state.flatMap((p) => stepOne(p, input, output)));
    return next.length === 0 ? [false, state] : [true, next];
  },
  key: (state) => state.map(possibilityKey).join('|'),
  describeOperation(input, output) {
    const i = input.op === 'read' ? 'read()' : input.op === 'write' ? `write(${input.value})` : input.op === 'cas' ? `cas(if modRevision=${input.ifModRevision}, ${input.value})` : 'delete()';
    const o =
      output.kind === 'read'
        ? `${output.value === null ? 'absent' : output.value}@${output.modRevision}`
        : output.kind === 'written'
          ? `ok@${output.revision}`
          : output.kind === 'cas-failed'
            ? 'compare failed'
            : output.kind === 'deleted'
              ? `deleted ${output.deleted}@${output.revision}`
              : 'unknown';
    return `${i} → ${o}`;
  },
};
