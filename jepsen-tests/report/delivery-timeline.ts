// The delivery round's timeline: a lane per pusher (w0, w1, ...: the prefix
// of each pushed value) with a bar per push, and a lane per device with a bar
// per connection (connected to disconnected, or to the end of the round).
import { describe, type CheckResult } from '../checker/delivery.js';
import type { DeliveryHistory, DeviceHistory } from '../checker/history.js';
import type { NemesisEvent } from '../nemesis/nemesis-event.js';
import { renderTimeline, type TimelineOp } from './timeline.js';

export interface DeliveryTimelineInput {
  readonly seed: number;
  readonly history: DeliveryHistory;
  readonly nemesis: readonly NemesisEvent[];
  readonly result: CheckResult;
  readonly converged: boolean;
}

function connections(d: DeviceHistory): TimelineOp[] {
  const out: TimelineOp[] = [];
  const open = new Map<number, { at: number; msgs: number }>();
  for (const e of d.events) {
    if (e.type === 'connected') open.set(e.conn, { at: e.at, msgs: 0 });
    else if (e.type === 'msg') {
      const c = open.get(e.conn);
      if (c !== undefined) c.msgs++;
    } else if (e.type === 'disconnected') {
      const c = open.get(e.conn);
      if (c === undefined) continue;
      open.delete(e.conn);
      out.push({ lane: d.device, start: c.at, end: e.at, status: 'ok', label: `connection ${e.conn}: ${c.msgs} messages` });
    }
  }
  for (const [conn, c] of open) out.push({ lane: d.device, start: c.at, end: undefined, status: 'ok', label: `connection ${conn}: ${c.msgs} messages, open at the end` });
  return out;
}

export function renderDeliveryTimeline(t: DeliveryTimelineInput): string {
  const ops: TimelineOp[] = [
    ...t.history.pushes.map((p) => ({
      lane: p.value.split('-')[0] ?? 'push',
      start: p.call,
      end: p.return,
      status: p.outcome.kind,
      label: `push ${p.value} to ${p.user} → ${p.outcome.kind === 'ok' ? `seq ${p.outcome.seq}` : p.outcome.kind === 'fail' ? `status ${p.outcome.status}` : 'no answer'}`,
    })),
    ...t.history.devices.flatMap(connections),
  ];
  const first = t.result.violations[0];
  return renderTimeline({
    title: `delivery round, seed ${t.seed}`,
    ok: t.result.ok && t.converged,
    verdict: `delivery=${t.result.ok ? 'ok' : 'violated'} converged=${t.converged} ${JSON.stringify(t.result.stats)}`,
    firstAnomaly: first !== undefined ? describe(first) : t.converged ? undefined : 'devices did not converge after healing',
    ops,
    nemesis: t.nemesis,
  });
}
