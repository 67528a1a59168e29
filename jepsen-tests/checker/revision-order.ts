// The store-wide revision order, which the per-key linearizability check
// cannot see (it looks at one key at a time): the keeper's revision is one
// counter that every write advances, so across all keys
//   - each acknowledged write or delete has its own revision, and
//   - a write that starts after another one completed gets a higher revision.
// Either failure means the writes are not linearizable as a whole store even
// if every key's history is.
import type { KvOperation } from './kv-history.js';

export const REVISION_ORDER_GUARANTEE = 'all writes are linearizable: the store revision is one counter, unique per write and increasing in real time across keys';

export interface RevisionOrderResult {
  readonly ok: boolean;
  readonly violations: readonly string[];
}

interface Acked {
  readonly op: KvOperation;
  readonly revision: number;
}

function acked(op: KvOperation): Acked | undefined {
  if (op.return === Infinity) return undefined;
  if (op.output.kind === 'written') return { op, revision: op.output.revision };
  if (op.output.kind === 'deleted' && op.output.deleted > 0) return { op, revision: op.output.revision };
  return undefined;
}

const describe = (a: Acked): string => `client ${a.op.clientId} ${a.op.input.op} ${a.op.key} [${a.op.call}, ${a.op.return}] @${a.revision}`;

export function checkRevisionOrder(ops: readonly KvOperation[], violationsMax = 20): RevisionOrderResult {
  const writes = ops.map(acked).filter((a): a is Acked => a !== undefined);
  const violations: string[] = [];
  const byRevision = new Map<number, Acked>();
  for (const w of writes) {
    const other = byRevision.get(w.revision);
    if (other !== undefined && violations.length < violationsMax) violations.push(`two writes share revision ${w.revision}: ${describe(other)} and ${describe(w)}`);
    byRevision.set(w.revision, w);
  }
  // Sweep by time: before each write's call, every write that returned earlier must have a lower revision.
  const byReturn = [...writes].sort((a, b) => a.op.return - b.op.return);
  const byCall = [...writes].sort((a, b) => a.op.call - b.op.call);
  let i = 0;
  let highest: Acked | undefined;
  for (const w of byCall) {
    for (; i < byReturn.length; i++) {
      const r = byReturn[i];
      if (r === undefined || !(r.op.return < w.op.call)) break;
      if (highest === undefined || r.revision > highest.revision) highest = r;
    }
    if (highest !== undefined && w.revision <= highest.revision && violations.length < violationsMax) {
      violations.push(`${describe(w)} started after ${describe(highest)} completed, but got a revision not above it`);
    }
  }
  return { ok: violations.length === 0, violations };
}
