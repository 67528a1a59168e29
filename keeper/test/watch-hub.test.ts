// The watch guarantees of watch-hub.ts, each checked by name over seeded
// random workloads (after etcd's robustness validate/watch.go): many streams
// on random keys and prefixes, from random past revisions, with listeners
// that pause and resume, slow ones cut off and resumed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Command } from '../src/command.js';
import type { WatchEvent, WatchMessage, WatchRequest, Watcher } from '../src/keeper.js';
import { apply } from '../src/state-machine.js';
import { emptyState } from '../src/state.js';
import { WatchHub } from '../src/watch-hub.js';
import { Rng, seeds } from './rng.js';

interface Stream {
  readonly req: WatchRequest & { readonly fromRevision: number };
  readonly messages: WatchMessage[];
  watcher?: Watcher;
  paused: boolean;
  /** The stream this one resumes (opened from its lastRevision + 1). */
  readonly resumes?: Stream;
}

interface Run {
  readonly seed: number;
  /** Every event `apply` produced, in order. */
  readonly events: readonly WatchEvent[];
  readonly streams: readonly Stream[];
  readonly hub: WatchHub;
}

const KEYS = ['a', 'ab', 'b', 'cfg/x', 'cfg/y', 'cfg/z/1'];
const PREFIXES = ['', 'a', 'cfg/', 'cfg/z/'];

function matches(req: WatchRequest, key: string): boolean {
  return req.prefix === true ? key.startsWith(req.key) : key === req.key;
}

function workload(seed: number, opts: { steps: number; history: number; queue: number }): Run {
  const rng = new Rng(seed);
  const state = emptyState();
  const hub = new WatchHub(0, { watchHistoryEventsMax: opts.history, watcherQueueEventsMax: opts.queue, schedule: () => undefined });
  const events: WatchEvent[] = [];
  const streams: Stream[] = [];
  let index = 0;
  let now = 0;
  /** At the end every listener drains, so each stream's completeness can be checked. */
  let settling = false;
  const open = (req: Stream['req'], resumes?: Stream): void => {
    const s: Stream = { req, messages: [], paused: false, ...(resumes === undefined ? {} : { resumes }) };
    s.watcher = hub.watch(req, (m) => {
      s.messages.push(m);
      if (m.kind === 'cancelled' && m.reason === 'slow') open({ ...req, fromRevision: m.lastRevision + 1 }, s);
      // Some listeners report a full buffer now and then.
      if (!settling && rng.chance(0.2)) s.paused = true;
      return !s.paused;
    });
    streams.push(s);
  };
  for (let step = 0; step < opts.steps; step++) {
    const roll = rng.next();
    let cmd: Command;
    if (roll < 0.5) cmd = { type: 'put', key: rng.pick(KEYS), value: `v${step}`, ...(rng.chance(0.2) ? { lease: rng.pick(['L1', 'L2']) } : {}) };
    else if (roll < 0.65) cmd = { type: 'delete', key: rng.chance(0.5) ? rng.pick(KEYS) : rng.pick(PREFIXES.filter((p) => p !== '')), prefix: rng.chance(0.5) };
    else if (roll < 0.75) cmd = { type: 'leaseGrant', id: rng.pick(['L1', 'L2']), ttl: 1, now };
    else if (roll < 0.8) cmd = { type: 'leaseExpire', id: rng.pick(['L1', 'L2']), now: (now += 1000) };
    else if (roll < 0.85) cmd = { type: 'leaseRevoke', id: rng.pick(['L1', 'L2']) };
    else {
      const from = Math.max(1, state.revision - rng.int(opts.history));
      open({ key: rng.chance(0.5) ? rng.pick(KEYS) : rng.pick(PREFIXES), prefix: rng.chance(0.5), fromRevision: from });
      continue;
    }
    index += 1;
    const applied = apply(state, cmd, index);
    events.push(...applied.events);
    hub.publish(state.revision, applied.events);
    if (rng.chance(0.1)) hub.progress();
    // Paused listeners drain their buffer at random moments.
    for (const s of streams) {
      if (s.paused && rng.chance(0.3)) {
        s.paused = false;
        s.watcher?.resume();
      }
    }
    if (rng.chance(0.5)) hub.flush();
  }
  settling = true;
  for (const s of streams) {
    s.paused = false;
    s.watcher?.resume();
  }
  hub.flush();
  hub.progress();
  hub.flush();
  return { seed, events, streams, hub };
}

function runs(): Run[] {
  return seeds(20).map((seed) => workload(seed, { steps: 300, history: 40, queue: 6 }));
}

function eventsOf(s: Stream): WatchEvent[] {
  return s.messages.flatMap((m) => (m.kind === 'events' ? [...m.events] : []));
}

function describe(run: Run, s: Stream): string {
  return `SEED=${run.seed} stream ${JSON.stringify(s.req)}`;
}

/** The last revision up to which the stream promises completeness, or undefined if it never started (compacted). */
function coveredUpTo(run: Run, s: Stream): number | undefined {
  const last = s.messages.at(-1);
  if (last?.kind === 'compacted') return undefined;
  if (last?.kind === 'cancelled') return last.lastRevision;
  return run.hub.revision;
}

test('watch guarantee: ordered — events arrive in increasing revision order, keys ordered within a revision', () => {
  for (const run of runs()) {
    for (const s of run.streams) {
      let last = 0;
      for (const m of s.messages) {
        if (m.kind !== 'events') continue;
        const revs = new Set(m.events.map((e) => e.revision));
        const rev = m.events[0]?.revision ?? 0;
        assert.ok(revs.size === 1 && rev > last, `ordered: "events arrive in increasing revision order" broken at ${rev} after ${last}, ${describe(run, s)}`);
        const keys = m.events.map((e) => e.key);
        assert.deepEqual(keys, [...keys].sort(), `ordered: keys within revision ${rev}, ${describe(run, s)}`);
        last = rev;
      }
    }
  }
});

test('watch guarantee: unique — no event is delivered twice on one stream', () => {
  for (const run of runs()) {
    for (const s of run.streams) {
      const seen = new Set<string>();
      for (const e of eventsOf(s)) {
        const id = `${e.revision}/${e.key}`;
        assert.ok(!seen.has(id), `unique: "no event is delivered twice on one stream" broken by ${id}, ${describe(run, s)}`);
        seen.add(id);
      }
    }
  }
});

test('watch guarantee: atomic per revision — all matching events of a revision come in one message', () => {
  for (const run of runs()) {
    for (const s of run.streams) {
      for (const m of s.messages) {
        if (m.kind !== 'events') continue;
        const rev = m.events[0]?.revision;
        const expected = run.events.filter((e) => e.revision === rev && matches(s.req, e.key));
        assert.deepEqual(m.events, expected, `atomic: "the matching events of one revision arrive in one message" broken at ${rev}, ${describe(run, s)}`);
      }
    }
  }
});

test('watch guarantee: reliable — every matching event from fromRevision on, without gaps, until the stream ends', () => {
  let checked = 0;
  for (const run of runs()) {
    for (const s of run.streams) {
      const upTo = coveredUpTo(run, s);
      if (upTo === undefined) {
        assert.equal(s.messages.length, 1, `reliable: a compacted stream delivers nothing else, ${describe(run, s)}`);
        continue;
      }
      const expected = run.events.filter((e) => e.revision >= s.req.fromRevision && e.revision <= upTo && matches(s.req, e.key));
      assert.deepEqual(eventsOf(s), expected, `reliable: "every matching event from fromRevision on is delivered, with no gap" broken, ${describe(run, s)}`);
      checked += 1;
    }
  }
  assert.ok(checked > 100, `reliable: too few streams checked (${checked})`);
});

test('watch guarantee: resumable — a stream reopened from lastRevision + 1 continues exactly where it stopped', () => {
  let resumed = 0;
  for (const run of runs()) {
    for (const s of run.streams) {
      if (s.resumes === undefined) continue;
      const first = s.resumes;
      const firstLast = first.messages.at(-1);
      assert.ok(firstLast?.kind === 'cancelled' && firstLast.reason === 'slow', 'resumed streams follow a slow cancel');
      assert.equal(s.req.fromRevision, firstLast.lastRevision + 1);
      if (s.messages[0]?.kind === 'compacted') continue; // explicit, never a silent gap
      const upTo = coveredUpTo(run, s);
      assert.ok(upTo !== undefined);
      const joined = [...eventsOf(first), ...eventsOf(s)];
      const expected = run.events.filter((e) => e.revision >= first.req.fromRevision && e.revision <= upTo && matches(s.req, e.key));
      assert.deepEqual(joined, expected, `resumable: "a new stream from lastRevision + 1 continues exactly where it stopped" broken, ${describe(run, s)}`);
      resumed += 1;
    }
  }
  assert.ok(resumed > 0, 'resumable: the workload produced no slow-cancelled stream to resume');
});

test('watch guarantee: bookmarkable — a progress at p means every matching event up to p was delivered', () => {
  let progresses = 0;
  for (const run of runs()) {
    for (const s of run.streams) {
      let delivered = 0;
      for (const m of s.messages) {
        if (m.kind === 'events') {
          delivered += m.events.length;
        } else if (m.kind === 'progress') {
          const expected = run.events.filter((e) => e.revision >= s.req.fromRevision && e.revision <= m.revision && matches(s.req, e.key)).length;
          assert.equal(delivered, expected, `bookmarkable: "a progress at revision p promises every matching event up to p was delivered" broken at ${m.revision}, ${describe(run, s)}`);
          progresses += 1;
        }
      }
    }
  }
  assert.ok(progresses > 50, `bookmarkable: too few progress messages (${progresses})`);
});

/** Histories trimmed to (2, 5]: a watch from 2 answers compacted at 2, one from 3 replays 3, 4 and 5. */
function assertCompactedAt2ThenReplaysFrom3(hub: WatchHub): void {
  const got: WatchMessage[] = [];
  for (const fromRevision of [2, 3]) {
    hub.watch({ key: 'k', fromRevision }, (m) => {
      got.push(m);
    });
  }
  hub.flush();
  assert.deepEqual(got.map((m) => (m.kind === 'events' ? m.events[0]?.revision : m)), [{ kind: 'compacted', compactRevision: 2 }, 3, 4, 5]);
}

test('watch hub: a revision dropped from the bounded history answers compacted, never a silent gap', () => {
  const hub = new WatchHub(0, { watchHistoryEventsMax: 3, schedule: () => undefined });
  for (let rev = 1; rev <= 5; rev++) hub.publish(rev, [{ type: 'put', revision: rev, key: 'k', value: String(rev) }]);
  assert.equal(hub.compactRevision, 2);
  assertCompactedAt2ThenReplaysFrom3(hub);
});

test('watch hub: a revision dropped by the byte bound of the history answers compacted; what is kept replays', () => {
  // Each revision: key 'k' (1) + a value of 99 = 100; a delete counts its key only.
  const hub = new WatchHub(0, { watchHistoryEventsMax: 1_000, watchHistoryBytesMax: 250, schedule: () => undefined });
  for (let rev = 1; rev <= 4; rev++) hub.publish(rev, [{ type: 'put', revision: rev, key: 'k', value: String(rev).padEnd(99, '.') }]);
  assert.equal(hub.compactRevision, 2, 'two revisions of 100 fit in 250, so 1 and 2 went; the event bound is far off');
  hub.publish(5, [{ type: 'delete', revision: 5, key: 'k' }]);
  assert.equal(hub.compactRevision, 2, 'a delete of 1 still fits (201)');
  assertCompactedAt2ThenReplaysFrom3(hub);
});

test('watch hub: a slow watcher is cancelled with reason slow and its last revision, while writes continue', () => {
  const hub = new WatchHub(0, { watcherQueueEventsMax: 10, schedule: () => undefined });
  const slow: WatchMessage[] = [];
  const fast: WatchMessage[] = [];
  hub.watch({ key: '', prefix: true }, (m) => {
    slow.push(m);
    return false; // its buffer is full and it never drains
  });
  hub.watch({ key: '', prefix: true }, (m) => {
    fast.push(m);
  });
  for (let rev = 1; rev <= 1000; rev++) {
    hub.publish(rev, [{ type: 'put', revision: rev, key: `k${rev % 7}`, value: String(rev) }]);
    if (rev % 5 === 0) hub.flush(); // a listener that keeps up: at most 5 queued
  }
  hub.flush();
  assert.equal(fast.length, 1000, 'the fast watcher got every revision');
  assert.equal(slow.length, 2, 'the slow one got one message, then the cut-off');
  assert.deepEqual(slow[1], { kind: 'cancelled', reason: 'slow', lastRevision: 1 });
  assert.equal(hub.watcherCount, 1);
});

test('watch hub: batching alone never makes a stream slow (a group commit of many revisions before one flush)', () => {
  const hub = new WatchHub(0, { watcherQueueEventsMax: 10, schedule: () => undefined });
  const got: WatchMessage[] = [];
  hub.watch({ key: '', prefix: true }, (m) => {
    got.push(m);
  });
  for (let rev = 1; rev <= 100; rev++) hub.publish(rev, [{ type: 'put', revision: rev, key: 'k', value: String(rev) }]);
  hub.flush();
  assert.deepEqual(got.map((m) => (m.kind === 'events' ? m.events[0]?.revision : m.kind)), Array.from({ length: 100 }, (_, i) => i + 1));
});

test('watch hub: a stream from a future revision waits for it; cancel stops delivery', () => {
  const hub = new WatchHub(0, { schedule: () => undefined });
  const got: number[] = [];
  const w = hub.watch({ key: 'k', fromRevision: 3 }, (m) => {
    if (m.kind === 'events') got.push(m.events[0]?.revision ?? 0);
  });
  for (let rev = 1; rev <= 4; rev++) hub.publish(rev, [{ type: 'put', revision: rev, key: 'k', value: '' }]);
  hub.flush();
  w.cancel();
  hub.publish(5, [{ type: 'put', revision: 5, key: 'k', value: '' }]);
  hub.flush();
  assert.deepEqual(got, [3, 4]);
});

test('watch hub: reset (a snapshot installed) ends with compacted the streams that would miss events, never a silent gap', () => {
  const hub = new WatchHub(0, { schedule: () => undefined });
  for (let rev = 1; rev <= 3; rev++) hub.publish(rev, [{ type: 'put', revision: rev, key: 'k', value: '' }]);
  const live: WatchMessage[] = [];
  const future: WatchMessage[] = [];
  hub.watch({ key: 'k', fromRevision: 2 }, (m) => {
    live.push(m);
  });
  hub.watch({ key: 'k', fromRevision: 12 }, (m) => {
    future.push(m);
  });
  hub.reset(10);
  hub.publish(11, [{ type: 'put', revision: 11, key: 'k', value: '' }]);
  hub.publish(12, [{ type: 'put', revision: 12, key: 'k', value: '' }]);
  hub.flush();
  assert.deepEqual(live, [{ kind: 'compacted', compactRevision: 10 }]);
  assert.deepEqual(future.map((m) => (m.kind === 'events' ? m.events[0]?.revision : m.kind)), [12]);
  const late: WatchMessage[] = [];
  hub.watch({ key: 'k', fromRevision: 5 }, (m) => {
    late.push(m);
  });
  hub.flush();
  assert.deepEqual(late, [{ kind: 'compacted', compactRevision: 10 }]);
  assert.equal(hub.revision, 12);
});

test('watch hub: a reset that skips nothing ends no stream, though revisions without events went by', () => {
  const hub = new WatchHub(0, { schedule: () => undefined });
  hub.publish(1, [{ type: 'put', revision: 1, key: 'k', value: 'a' }]);
  const got: WatchMessage[] = [];
  hub.watch({ key: 'k' }, (m) => {
    got.push(m);
  });
  // Revisions that changed members or the register: no key events.
  hub.publish(2, []);
  hub.publish(3, []);
  // A snapshot at the revision this member is at already (the entries it skips advanced no revision).
  hub.reset(3);
  hub.publish(4, [{ type: 'put', revision: 4, key: 'k', value: 'b' }]);
  hub.flush();
  // One that skips revision 5, which the stream wants: compacted, not a silent gap.
  hub.reset(5);
  hub.flush();
  assert.deepEqual(
    got.map((m) => (m.kind === 'events' ? `events ${m.events[0]?.revision}` : m.kind)),
    ['events 4', 'compacted'],
  );
});
