// The linearizability checker, after Porcupine (anishathalye/porcupine): the
// Wing & Gong search with Lowe's memoization, on histories partitioned by key
// (P-compositionality: a history is linearizable iff each key's is).
//
// The history becomes a doubly linked list of call and return entries in time
// order (at equal times calls come first: intervals are closed, so touching
// operations are concurrent). The search walks it: at a call it tries to
// linearize that operation now (step the model; "lift" the call and its
// return out of the list); reaching a return whose call is not yet lifted
// means the current choice failed, so it backtracks. A (set of linearized
// operations, model state) pair is visited once: the cache turns the
// exponential search into one bounded by distinct configurations.
//
// Operations with an unknown outcome have return = Infinity, so their returns
// sit after every finite one: they may be linearized anywhere after their
// call, or at the very end, where they constrain nothing.
//
// The search is bounded by `stepsMax` per partition; past it the answer is
// "unknown", never a guess.
import type { Model } from '../model/model.js';
import type { Operation } from './operation.js';

export type Verdict = 'ok' | 'illegal' | 'unknown';

export interface PartitionResult {
  readonly partition: string;
  readonly verdict: Verdict;
  readonly operations: number;
  readonly steps: number;
  /** For 'illegal': the longest linearized prefix found, then the operations that could not follow it. */
  readonly explanation?: string;
}

export interface LinearizabilityResult {
  readonly verdict: Verdict;
  readonly partitions: readonly PartitionResult[];
}

export interface CheckOptions {
  /** Search steps per partition before answering 'unknown'. */
  readonly stepsMax: number;
}

export const DEFAULT_CHECK_OPTIONS: CheckOptions = { stepsMax: 5_000_000 };

interface Entry {
  /** Operation index; the call and the return of one operation share it. */
  readonly id: number;
  readonly isCall: boolean;
  readonly time: number;
  /** For a call: its return entry. */
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/** A fixed-size bitset of linearized operations. */
class Bits {
  readonly words: Uint32Array;
  constructor(n: number) {
    this.words = new Uint32Array(Math.ceil(n / 32) || 1);
  }
  set(i: number): void {
    this.words[i >>> 5] = (this.words[i >>> 5] ?? 0) | (1 << (i & 31));
  }
  clear(i: number): void {
    this.words[i >>> 5] = (this.words[i >>> 5] ?? 0) & ~(1 << (i & 31));
  }
  key(): string {
    let s = '';
    for (const w of this.words) s += w.toString(36) + ',';
    return s;
  }
}

function buildList<I, O>(ops: readonly Operation<I, O>[]): Entry {
  const entries: Entry[] = [];
  ops.forEach((op, id) => {
    const ret: Entry = { id, isCall: false, time: op.return, match: undefined, prev: undefined, next: undefined };
    const call: Entry = { id, isCall: true, time: op.call, match: ret, prev: undefined, next: undefined };
    entries.push(call, ret);
  });
  entries.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.id - b.id : a.isCall ? -1 : 1));
  const head: Entry = { id: -1, isCall: false, time: -Infinity, match: undefined, prev: undefined, next: undefined };
  let last = head;
  for (const e of entries) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}

/** Removes a call and its return from the list (they stay linked to their neighbours for unlift). */
function lift(call: Entry): void {
  const ret = call.match;
  if (call.prev !== undefined) call.prev.next = call.next;
  if (call.next !== undefined) call.next.prev = call.prev;
  if (ret !== undefined) {
    if (ret.prev !== undefined) ret.prev.next = ret.next;
    if (ret.next !== undefined) ret.next.prev = ret.prev;
  }
}

function unlift(call: Entry): void {
  const ret = call.match;
  if (ret !== undefined) {
    if (ret.prev !== undefined) ret.prev.next = ret;
    if (ret.next !== undefined) ret.next.prev = ret;
  }
  if (call.prev !== undefined) call.prev.next = call;
  if (call.next !== undefined) call.next.prev = call;
}

/** Checks one partition (for example one key's operations). */
export function checkPartition<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[], partition: string, opts: CheckOptions = DEFAULT_CHECK_OPTIONS): PartitionResult {
  for (const op of ops) if (!(op.call <= op.return)) throw new Error(`operation of client ${op.clientId} returns (${op.return}) before its call (${op.call})`);
  const head = buildList(ops);
  const linearized = new Bits(ops.length);
  const cache = new Set<string>();
  const calls: { entry: Entry; state: S }[] = [];
  let state = model.init;
  let entry = head.next;
  let steps = 0;
  let deepest: number[] = [];
  while (head.next !== undefined) {
    if (++steps > opts.stepsMax) return { partition, verdict: 'unknown', operations: ops.length, steps };
    if (entry === undefined) break;
    if (entry.isCall) {
      const op = ops[entry.id];
      const ret = entry.match;
      if (op === undefined || ret === undefined) throw new Error('linearizable: malformed entry list');
      const [ok, next] = model.step(state, op.input, op.output);
      let advanced = false;
      if (ok) {
        linearized.set(entry.id);
        const k = `${linearized.key()}#${model.key(next)}`;
        if (!cache.has(k)) {
          cache.add(k);
          calls.push({ entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          advanced = true;
        } else {
          linearized.clear(entry.id);
        }
      }
      if (!advanced) entry = entry.next;
    } else {
      // A return whose call is still in the list: no choice so far lets this operation complete in time.
      if (calls.length > deepest.length) deepest = calls.map((c) => c.entry.id);
      const top = calls.pop();
      if (top === undefined) return { partition, verdict: 'illegal', operations: ops.length, steps, explanation: explain(model, ops, deepest) };
      entry = top.entry;
      state = top.state;
      linearized.clear(entry.id);
      unlift(entry);
      entry = entry.next;
    }
  }
  return { partition, verdict: 'ok', operations: ops.length, steps };
}

function explain<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[], deepest: readonly number[]): string {
  const fmt = (id: number): string => {
    const op = ops[id];
    if (op === undefined) return `#${id}`;
    return `client ${op.clientId} [${op.call}, ${op.return === Infinity ? '∞' : op.return}] ${model.describeOperation(op.input, op.output)}`;
  };
  const done = new Set(deepest);
  // The operations that return earliest among those left out: one of them has no legal place.
  const rest = ops
    .map((op, id) => ({ op, id }))
    .filter((x) => !done.has(x.id))
    .sort((a, b) => a.op.return - b.op.return)
    .slice(0, 5);
  const prefix = deepest.slice(-10).map(fmt);
  return [
    `longest linearizable prefix: ${deepest.length} of ${ops.length} operations${deepest.length > 10 ? ' (last 10 shown)' : ''}:`,
    ...prefix.map((l) => `    ${l}`),
    'none of these can be linearized next:',
    ...rest.map((x) => `    ${fmt(x.id)}`),
  ].join('\n');
}

/** Partitions the history with `partitionOf` and checks each part; 'illegal' beats 'unknown' beats 'ok'. */
export function checkLinearizable<S, I, O, Op extends Operation<I, O>>(
  model: Model<S, I, O>,
  ops: readonly Op[],
  partitionOf: (op: Op) => string,
  opts: CheckOptions = DEFAULT_CHECK_OPTIONS,
): LinearizabilityResult {
  const parts = new Map<string, Op[]>();
  for (const op of ops) {
    const p = partitionOf(op);
    let list = parts.get(p);
    if (list === undefined) parts.set(p, (list = []));
    list.push(op);
  }
  const partitions = [...parts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([p, list]) => checkPartition(model, list, p, opts));
  const verdict: Verdict = partitions.some((p) => p.verdict === 'illegal') ? 'illegal' : partitions.some((p) => p.verdict === 'unknown') ? 'unknown' : 'ok';
  return { verdict, partitions };
}
