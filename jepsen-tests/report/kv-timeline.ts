// The keeper round's timeline: a lane per kv client (the healed phase's writes
// and final read share one lane), a lane per watcher with a bar per watch
// stream, and a lane per bank client with its reads and transfers; the first
// anomaly is the first the checkers name.
import type { BankCheckResult, BankHistory, BankRead, BankTransfer } from '../checker/bank.js';
import type { KvHistory, KvOperation, WatchStream } from '../checker/kv-history.js';
import type { LinearizabilityResult } from '../checker/linearizable.js';
import type { RevisionOrderResult } from '../checker/revision-order.js';
import { describeWatchViolation, type WatchCheckResult } from '../checker/watch.js';
import type { NemesisEvent } from '../nemesis/nemesis-event.js';
import { renderTimeline, type TimelineOp } from './timeline.js';

/** Client ids from here on are the healed phase's (see kv-run.ts). */
const HEALED_CLIENT_BASE = 90_000;

export interface KvTimelineInput {
  readonly seed: number;
  readonly history: KvHistory;
  readonly nemesis: readonly NemesisEvent[];
  readonly linearizable: LinearizabilityResult;
  readonly revisionOrder: RevisionOrderResult;
  readonly watch: WatchCheckResult;
  readonly bank: { readonly history: BankHistory; readonly result: BankCheckResult };
  readonly livenessFailure: string | undefined;
  readonly ok: boolean;
}

function opLine(op: KvOperation): string {
  const i = op.input;
  const txn = i.op !== 'delete' && i.via === 'txn' ? ' (txn)' : '';
  const call = (i.op === 'read' ? 'read' : i.op === 'write' ? `write ${i.value}` : i.op === 'cas' ? `cas @${i.ifModRevision}→${i.value}` : 'delete') + txn;
  const o = op.output;
  const out = o.kind === 'read' ? `${o.value ?? 'nil'}@${o.modRevision}` : o.kind === 'written' ? `rev ${o.revision}` : o.kind === 'deleted' ? `rev ${o.revision} (${o.deleted})` : o.kind;
  return `${op.key} ${call} via ${op.node} → ${out}`;
}

function opStatus(op: KvOperation): TimelineOp['status'] {
  if (op.return === Infinity || op.output.kind === 'unknown') return 'unknown';
  return op.output.kind === 'cas-failed' ? 'fail' : 'ok';
}

function streamOp(s: WatchStream): TimelineOp {
  const events = s.items.filter((x) => x.type === 'event').length;
  const ok = s.end.reason === 'client' || s.end.reason === 'compacted';
  return { lane: s.watcher, start: s.startedAt, end: s.end.at, status: ok ? 'ok' : 'fail', label: `stream ${s.stream} on ${s.node} from ${s.fromRevision}: ${events} events, ended ${s.end.reason}` };
}

function bankReadOp(r: BankRead, total: number): TimelineOp {
  const sum = Object.values(r.balances).reduce((n, b) => n + b, 0);
  const balances = Object.entries(r.balances).map(([k, b]) => `${k.slice(k.lastIndexOf('/') + 1)}=${b}`).join(' ');
  return { lane: `bank ${r.clientId}`, start: r.call, end: r.return, status: sum === total ? 'ok' : 'fail', label: `${r.via === 'transfer' ? 'failed transfer\'s read' : r.via === 'txn' ? 'read (txn)' : r.via === 'pages' ? 'read in pages' : 'read'} via ${r.node} at rev ${r.revision}: ${balances} (sum ${sum})${r.final === true ? ', final' : ''}` };
}

function transferOp(x: BankTransfer): TimelineOp {
  const status: TimelineOp['status'] = x.outcome === 'done' ? 'ok' : x.outcome === 'unknown' ? 'unknown' : 'fail';
  return { lane: `bank ${x.clientId}`, start: x.call, end: x.outcome === 'unknown' ? Infinity : x.return, status, label: `move ${x.amount} ${x.from} → ${x.to} via ${x.node}: ${x.outcome}` };
}

export function renderKvTimeline(t: KvTimelineInput): string {
  const ops: TimelineOp[] = [
    ...t.history.operations.map((op) => ({ lane: op.clientId >= HEALED_CLIENT_BASE ? 'healed' : `c${op.clientId}`, start: op.call, end: op.return, status: opStatus(op), label: opLine(op) })),
    ...t.history.watches.map(streamOp),
    ...t.bank.history.reads.map((r) => bankReadOp(r, t.bank.history.total)),
    ...t.bank.history.transfers.filter((x) => x.outcome !== 'insufficient').map(transferOp),
  ];
  const firstBank = t.bank.result.violations[0];
  const badKey = t.linearizable.partitions.find((p) => p.verdict !== 'ok');
  const firstWatch = t.watch.violations[0];
  const firstOrder = t.revisionOrder.violations[0];
  const firstAnomaly =
    badKey !== undefined
      ? `linearizability, key ${badKey.partition}: ${badKey.verdict}${badKey.explanation === undefined ? '' : `\n${badKey.explanation}`}`
      : firstOrder !== undefined
        ? `revision order: ${firstOrder}`
        : firstWatch !== undefined
          ? describeWatchViolation(firstWatch)
          : firstBank !== undefined
            ? `bank: ${firstBank}`
            : t.livenessFailure !== undefined
              ? `liveness: ${t.livenessFailure}`
              : undefined;
  return renderTimeline({
    title: `keeper round, seed ${t.seed}`,
    ok: t.ok,
    verdict: `linearizable=${t.linearizable.verdict} revisions=${t.revisionOrder.ok ? 'ok' : 'violated'} watch=${t.watch.ok ? 'ok' : 'violated'} bank=${t.bank.result.ok ? 'ok' : 'violated'} liveness=${t.livenessFailure ?? 'ok'}`,
    firstAnomaly,
    ops,
    nemesis: t.nemesis,
  });
}
