// The delivery checker. Each check's failure message quotes the guarantee of
// docs/PROTOCOL.md it defends. Per device:
//   complete   — every answered qos 1 push arrived, or was announced by a gap;
//   ordered    — on one connection, seqs always increase;
//   gap-free   — on one connection, each seq follows the previous one or a gap;
//   resumed    — a new connection starts right after the last acked seq;
//   faithful   — the message under seq s is the push answered with seq s;
//   redelivery — a seq is received again only if it was not yet acked;
//   idempotent — a push (repeated with its id) is stored once per user: its
//                value arrives under one seq only.
import type { DeliveryHistory, DeviceHistory, PushOp } from './history.js';

export const GUARANTEES = {
  complete: 'once push answered a seq, the message is delivered to every device of that user that binds within the TTL (only policy drops it, announced with a gap)',
  ordered: 'per device, messages arrive in seq order',
  gapFree: 'per device, messages arrive without gaps, starting after the device cursor',
  resumed: 'delivery resumes from the device cursor: after the last acked seq',
  faithful: 'the message delivered under a seq is the one the push was answered with',
  redelivery: 'duplicates occur only as redelivery of unacked messages',
  idempotent: 'repeating a push with the same id returns the first answer and stores nothing new',
} as const;
export type Guarantee = keyof typeof GUARANTEES;

export interface Violation {
  readonly guarantee: Guarantee;
  readonly device: string;
  readonly detail: string;
}

export interface CheckResult {
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  readonly stats: { readonly devices: number; readonly answered: number; readonly delivered: number; readonly redelivered: number; readonly unknownPushes: number };
}

function answeredByUser(pushes: readonly PushOp[]): Map<string, Map<number, string>> {
  const m = new Map<string, Map<number, string>>();
  for (const p of pushes) {
    if (p.outcome.kind !== 'ok') continue;
    let u = m.get(p.user);
    if (u === undefined) m.set(p.user, (u = new Map()));
    u.set(p.outcome.seq, p.value);
  }
  return m;
}

function checkDevice(d: DeviceHistory, answered: ReadonlyMap<number, string>, unknownValues: ReadonlySet<string>, out: Violation[]): { delivered: number; redelivered: number } {
  const v = (guarantee: Guarantee, detail: string): void => {
    out.push({ guarantee, device: d.device, detail });
  };
  const covered = new Set<number>();
  let acked = 0;
  let everAcked = 0;
  /** Highest seq received or announced on the current connection; undefined before the first. */
  let last: number | undefined;
  let delivered = 0;
  let redelivered = 0;
  const seen = new Set<number>();
  /** The seq each value first arrived under. */
  const seqOf = new Map<string, number>();
  for (const e of d.events) {
    switch (e.type) {
      case 'connected':
        last = undefined;
        break;
      case 'disconnected':
        break;
      case 'ack':
        if (e.seq > acked) acked = e.seq;
        if (acked > everAcked) everAcked = acked;
        break;
      case 'gap': {
        if (last === undefined) {
          if (e.from > acked + 1) v('resumed', `conn ${e.conn}: first item is gap ${e.from}..${e.to} but the device had acked ${acked}`);
        } else if (e.from !== last + 1) {
          v('gapFree', `conn ${e.conn}: gap ${e.from}..${e.to} after seq ${last}`);
        }
        for (let s = e.from; s <= e.to; s++) covered.add(s);
        last = e.to;
        break;
      }
      case 'msg': {
        if (last === undefined) {
          if (e.seq > acked + 1) v('resumed', `conn ${e.conn}: first msg is seq ${e.seq} but the device had acked only ${acked}`);
        } else if (e.seq <= last) {
          v('ordered', `conn ${e.conn}: seq ${e.seq} after seq ${last}`);
        } else if (e.seq !== last + 1) {
          v('gapFree', `conn ${e.conn}: seq ${e.seq} after seq ${last}, with no gap frame for ${last + 1}..${e.seq - 1}`);
        }
        const expected = answered.get(e.seq);
        if (expected !== undefined && expected !== e.value) {
          v('faithful', `seq ${e.seq} carried ${e.value}, but push answered seq ${e.seq} was ${expected}`);
        } else if (expected === undefined && !unknownValues.has(e.value)) {
          v('faithful', `seq ${e.seq} carried ${e.value}, which no push to user ${d.user} produced`);
        }
        const first = seqOf.get(e.value);
        if (first === undefined) seqOf.set(e.value, e.seq);
        else if (first !== e.seq) v('idempotent', `${e.value} arrived under seq ${first} and again under seq ${e.seq}`);
        if (seen.has(e.seq)) {
          redelivered++;
          if (e.seq <= everAcked) v('redelivery', `seq ${e.seq} received again after the device acked ${everAcked}`);
        } else {
          seen.add(e.seq);
          delivered++;
        }
        if (last === undefined || e.seq > last) last = e.seq;
        break;
      }
    }
  }
  for (const seq of answered.keys()) {
    if (!seen.has(seq) && !covered.has(seq)) v('complete', `answered seq ${seq} (${answered.get(seq) ?? ''}) never arrived and no gap announced it`);
  }
  return { delivered, redelivered };
}

export function checkDelivery(h: DeliveryHistory): CheckResult {
  const answered = answeredByUser(h.pushes);
  // Per user: a multicast push shares its value among its users, and a message is faithful only to a push to its own user.
  const unknownValues = new Map<string, Set<string>>();
  for (const p of h.pushes) {
    if (p.outcome.kind !== 'unknown') continue;
    let u = unknownValues.get(p.user);
    if (u === undefined) unknownValues.set(p.user, (u = new Set()));
    u.add(p.value);
  }
  const violations: Violation[] = [];
  let delivered = 0;
  let redelivered = 0;
  for (const d of h.devices) {
    const r = checkDevice(d, answered.get(d.user) ?? new Map(), unknownValues.get(d.user) ?? new Set(), violations);
    delivered += r.delivered;
    redelivered += r.redelivered;
  }
  return {
    ok: violations.length === 0,
    violations,
    stats: {
      devices: h.devices.length,
      answered: h.pushes.filter((p) => p.outcome.kind === 'ok').length,
      delivered,
      redelivered,
      unknownPushes: h.pushes.filter((p) => p.outcome.kind === 'unknown').length,
    },
  };
}

export function describe(v: Violation): string {
  return `[${v.guarantee}] ${v.device}: ${v.detail}\n    guarantee: ${GUARANTEES[v.guarantee]}`;
}
