// The topic checker. A topic is best effort live (a member that cannot be
// reached misses a publish) with a short history to recover from, so it is
// held to what docs/PROTOCOL.md promises of offsets and of the history:
//   unique     — no two answered publishes of a topic got the same offset;
//   growing    — a publish answered before another one started got the lower
//                offset (offsets only grow, also across a change of owner);
//   ordered    — on one subscriber connection, a topic's offsets increase;
//   faithful   — what a subscriber got under an offset is what the publish
//                answered with that offset carried;
//   complete   — on one subscriber connection, every stored publish between
//                two offsets it got was delivered too (a node that missed a
//                fan-out fills the hole from the history), as long as the
//                history had room for it; stored = answered, or unanswered
//                but found in the history read after the run;
//   kept       — the history read after the run holds every answered publish
//                it has room for (the newest `historyMax`, within its time),
//                wherever the topic's owner moved meanwhile;
//   caught-up  — after the faults healed, every subscriber got each topic's
//                newest record (a node that missed it while cut off, with no
//                later pub to show the hole, is sent it again by the owner).

export type PublishOutcome =
  | { readonly kind: 'ok'; readonly offset: number }
  /** The API answered an error: nothing was stored. */
  | { readonly kind: 'fail'; readonly status: number }
  /** No answer: it may or may not have been stored. */
  | { readonly kind: 'unknown' };

export interface PublishOp {
  readonly topic: string;
  /** Unique per publish. */
  readonly value: string;
  readonly call: number;
  readonly return: number;
  readonly outcome: PublishOutcome;
}

/** A pub frame a subscriber got on connection `conn` (history replay or live). */
export interface TopicPubEvent {
  readonly conn: number;
  readonly topic: string;
  readonly offset: number;
  readonly value: string;
  readonly at: number;
}

export interface SubscriberHistory {
  readonly subscriber: string;
  readonly pubs: readonly TopicPubEvent[];
  /** The highest offset it got of each topic, over all its connections, when it stopped. */
  readonly last: Readonly<Record<string, number>>;
}

/** The history of each topic as read after the run (`sub` with `after: 0`), oldest first. */
export interface FinalHistory {
  readonly topic: string;
  readonly records: readonly { readonly offset: number; readonly value: string }[];
  readonly readAt: number;
}

export interface TopicsHistory {
  readonly publishes: readonly PublishOp[];
  readonly subscribers: readonly SubscriberHistory[];
  readonly finals: readonly FinalHistory[];
  /** The history's record cap and time bound the cluster runs with. */
  readonly historyMax: number;
  readonly historyMs: number;
}

export const TOPIC_GUARANTEES = {
  unique: 'a topic has one offset sequence: no two publishes get the same offset',
  growing: 'offsets only grow, also when the owner changes (a join, a removal) or restarts',
  ordered: "a subscriber gets a topic's publishes in offset order",
  faithful: 'the message delivered under an offset is the publish answered with it',
  complete: "a subscription that got two offsets got every publish between them the history had room for (a node that missed a pub fills the hole from the topic's history)",
  kept: 'the history is the last records of the topic, wherever its owner moved (it moves with the topic)',
  'caught-up': "once the faults heal, every subscriber gets each topic's newest record, also one its node missed with no pub after it",
} as const;
export type TopicGuarantee = keyof typeof TOPIC_GUARANTEES;

export interface TopicViolation {
  readonly guarantee: TopicGuarantee;
  readonly topic: string;
  readonly detail: string;
}

export interface TopicsCheck {
  readonly ok: boolean;
  readonly violations: readonly TopicViolation[];
  readonly stats: { readonly answered: number; readonly unknown: number; readonly received: number; readonly kept: number };
}

/** Violations beyond this many per guarantee are counted, not listed. */
const LISTED_MAX = 20;

export function checkTopics(h: TopicsHistory): TopicsCheck {
  const violations: TopicViolation[] = [];
  const listed = new Map<TopicGuarantee, number>();
  const v = (guarantee: TopicGuarantee, topic: string, detail: string): void => {
    const n = (listed.get(guarantee) ?? 0) + 1;
    listed.set(guarantee, n);
    if (n <= LISTED_MAX) violations.push({ guarantee, topic, detail });
  };
  const answered = h.publishes.filter((p): p is PublishOp & { outcome: { kind: 'ok'; offset: number } } => p.outcome.kind === 'ok');
  const byTopic = new Map<string, (typeof answered)[number][]>();
  /** The value answered under each topic and offset (the first, when two were: `unique` reports it). */
  const answeredValue = new Map<string, string>();
  const at = (topic: string, offset: number): string => `${topic}\u0000${offset}`;
  for (const p of answered) {
    let ops = byTopic.get(p.topic);
    if (ops === undefined) byTopic.set(p.topic, (ops = []));
    ops.push(p);
    const other = answeredValue.get(at(p.topic, p.outcome.offset));
    if (other !== undefined) v('unique', p.topic, `offset ${p.outcome.offset} answered to ${other} and ${p.value}`);
    else answeredValue.set(at(p.topic, p.outcome.offset), p.value);
  }

  for (const [topic, ops] of byTopic) {
    // Sorted by answer time: each publish must be above every one answered before it started.
    const byReturn = [...ops].sort((a, b) => a.return - b.return);
    let i = 0;
    let highest: (typeof answered)[number] | undefined;
    for (const p of [...ops].sort((a, b) => a.call - b.call)) {
      while (i < byReturn.length && (byReturn[i]?.return ?? Infinity) < p.call) {
        const q = byReturn[i++];
        if (q !== undefined && (highest === undefined || q.outcome.offset > highest.outcome.offset)) highest = q;
      }
      if (highest !== undefined && p.outcome.offset <= highest.outcome.offset) {
        v('growing', topic, `${p.value} (called at ${p.call}) got offset ${p.outcome.offset}, not above ${highest.value}'s ${highest.outcome.offset}, answered at ${highest.return}`);
      }
    }
  }

  // For `complete`: publishes stored under an offset — answered, or without an answer but found in a
  // history read after the run (a publish whose fan-out waited on a member cut off times out at the client).
  const stored = new Map<string, { offset: number; value: string; return: number }[]>();
  for (const [topic, ops] of byTopic) stored.set(topic, ops.map((p) => ({ offset: p.outcome.offset, value: p.value, return: p.return })));
  const unknownValues = new Map(h.publishes.filter((p) => p.outcome.kind === 'unknown').map((p) => [`${p.topic}\u0000${p.value}`, p]));
  for (const f of h.finals) {
    for (const r of f.records) {
      const p = unknownValues.get(`${f.topic}\u0000${r.value}`);
      if (p === undefined) continue;
      let list = stored.get(f.topic);
      if (list === undefined) stored.set(f.topic, (list = []));
      list.push({ offset: r.offset, value: r.value, return: p.call });
    }
  }

  let received = 0;
  for (const s of h.subscribers) {
    const last = new Map<string, number>();
    const got = new Map<string, TopicPubEvent[]>();
    for (const e of s.pubs) {
      const k = `${e.conn}\u0000${e.topic}`;
      let events = got.get(k);
      if (events === undefined) got.set(k, (events = []));
      events.push(e);
      received++;
      const prev = last.get(k);
      if (prev !== undefined && e.offset <= prev) v('ordered', e.topic, `${s.subscriber} connection ${e.conn}: offset ${e.offset} after ${prev}`);
      last.set(k, e.offset);
      const want = answeredValue.get(at(e.topic, e.offset));
      if (want !== undefined && want !== e.value) v('faithful', e.topic, `${s.subscriber} got ${e.value} under offset ${e.offset}, answered to ${want}`);
    }
    for (const events of got.values()) {
      const first = events[0];
      const lastEvent = events[events.length - 1];
      if (first === undefined || lastEvent === undefined || events.length < 2) continue;
      const have = new Set(events.map((e) => e.offset));
      const between = (stored.get(first.topic) ?? []).filter((p) => p.offset > first.offset && p.offset < lastEvent.offset).sort((a, b) => a.offset - b.offset);
      for (const [i, p] of between.entries()) {
        if (have.has(p.offset)) continue;
        // Owed only while the history could still hold it when a later pub showed the hole.
        const next = events.find((e) => e.offset > p.offset);
        if (between.length - i > h.historyMax || (next !== undefined && p.return + h.historyMs <= next.at)) continue;
        v('complete', first.topic, `${s.subscriber} connection ${first.conn} got offsets ${first.offset}..${lastEvent.offset} but not ${p.offset} (${p.value}, stored by ${p.return})`);
      }
    }
  }

  let kept = 0;
  for (const f of h.finals) {
    const have = new Map(f.records.map((r) => [r.offset, r.value]));
    for (const r of f.records) {
      const want = answeredValue.get(at(f.topic, r.offset));
      if (want !== undefined && want !== r.value) v('faithful', f.topic, `the history holds ${r.value} under offset ${r.offset}, answered to ${want}`);
    }
    // A full history may have let go of older records; below its oldest nothing is owed.
    const floor = f.records.length >= h.historyMax ? (f.records[0]?.offset ?? 0) : 0;
    for (const p of byTopic.get(f.topic) ?? []) {
      if (p.outcome.offset < floor || p.return + h.historyMs <= f.readAt) continue;
      if (have.get(p.outcome.offset) === p.value) kept++;
      else v('kept', f.topic, `${p.value} (offset ${p.outcome.offset}, answered at ${p.return}) is not in the history read at ${f.readAt} (${f.records.length} records${f.records.length > 0 ? `, ${f.records[0]?.offset}..${f.records[f.records.length - 1]?.offset}` : ''})`);
    }
  }
  for (const f of h.finals) {
    const newest = f.records[f.records.length - 1]?.offset;
    if (newest === undefined) continue;
    for (const s of h.subscribers) {
      const last = s.last[f.topic] ?? 0;
      if (last < newest) v('caught-up', f.topic, `${s.subscriber} got up to offset ${last}, the history holds ${newest}`);
    }
  }
  for (const [g, n] of listed) if (n > LISTED_MAX) violations.push({ guarantee: g, topic: '*', detail: `${n - LISTED_MAX} more` });
  return { ok: violations.length === 0, violations, stats: { answered: answered.length, unknown: h.publishes.filter((p) => p.outcome.kind === 'unknown').length, received, kept } };
}

/** One violation as a report line, with the guarantee it breaks. */
export function describeTopicViolation(v: TopicViolation): string {
  return `[topics ${v.guarantee}] ${v.topic}: ${v.detail}\n    guarantee: ${TOPIC_GUARANTEES[v.guarantee]}`;
}
