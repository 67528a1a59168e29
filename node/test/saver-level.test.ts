import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSaver, type SaverOptions } from '../src/saver/saver-level.js';
import type { AppendRequest, InboxItem, Saver } from '../src/saver/saver.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'longwire-saver-'));
  dirs.push(d);
  return d;
}

/** A clock the test moves by hand. */
function clock(start = 1_000_000): { now: () => number; set: (t: number) => void } {
  let t = start;
  return { now: () => t, set: (v) => (t = v) };
}

async function open(extra: Partial<SaverOptions> = {}, dir?: string): Promise<{ saver: Saver; dir: string }> {
  const d = dir ?? (await tempDir());
  return { saver: await openSaver({ dir: d, fsync: false, ...extra }), dir: d };
}

function req(users: string[], data: AppendRequest['data'], more: Partial<AppendRequest> = {}): AppendRequest {
  return { app: 'app', users, id: 'id', data, ttlMs: 60_000, maxInbox: 1000, ...more };
}

/** Items as short strings: "m<seq>:<data>" or "gap <from>..<to> <reason>". */
function show(items: InboxItem[]): string[] {
  return items.map((i) => (i.kind === 'msg' ? `m${i.msg.seq}:${JSON.stringify(i.msg.data)}` : `gap ${i.gap.from}..${i.gap.to} ${i.gap.reason}`));
}

describe('saver-level', () => {
  it('reports the stored lastSeq of a user whose record is not cached, and appends after it', async () => {
    const { saver } = await open({ cacheEntriesMax: 1 });
    for (const d of ['a', 'b', 'c']) await saver.append(req(['u'], d));
    // Loading v's record evicts u's (at most one idle record cached).
    assert.deepEqual(await saver.append(req(['v'], 'x')), [1]);
    assert.equal(await saver.lastSeq('app', 'u'), 3);
    const [seqs, seen] = await Promise.all([saver.append(req(['u'], 'd')), saver.lastSeq('app', 'u')]);
    assert.deepEqual(seqs, [4]);
    assert.ok(seen === 3 || seen === 4, `lastSeq during the append: ${seen}`);
    assert.equal(await saver.lastSeq('app', 'u'), 4);
    assert.equal(await saver.lastSeq('app', 'nobody'), 0);
    assert.deepEqual(show(await saver.read('app', 'u', 2, 10)), ['m3:"c"', 'm4:"d"']);
    await saver.close();
  });

  it('assigns seqs from 1 in order and continues them after reopen', async () => {
    const { saver, dir } = await open();
    assert.equal(await saver.lastSeq('app', 'u'), 0);
    assert.deepEqual(await saver.append(req(['u', 'v'], 'a')), [1, 1]);
    assert.deepEqual(await saver.append(req(['u'], 'b')), [2]);
    assert.equal(await saver.lastSeq('app', 'u'), 2);
    await saver.close();

    const { saver: again } = await open({}, dir);
    assert.equal(await again.lastSeq('app', 'u'), 2);
    assert.deepEqual(await again.append(req(['u'], 'c')), [3]);
    const items = await again.read('app', 'u', 0, 10);
    assert.deepEqual(show(items), ['m1:"a"', 'm2:"b"', 'm3:"c"']);
    const first = items[0];
    assert.ok(first?.kind === 'msg');
    assert.equal(first.msg.id, 'id');
    assert.deepEqual(show(await again.read('app', 'u', 1, 1)), ['m2:"b"']);
    await again.close();
  });

  it('gives 200 concurrent appends to one user distinct seqs in call order, in few batches', async () => {
    const { saver } = await open();
    await saver.append(req(['warm'], 0));
    const before = saver.stats?.();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => saver.append(req(['u'], i))));
    assert.deepEqual(
      results.map((r) => r[0]),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    const items = await saver.read('app', 'u', 0, 1000);
    assert.equal(items.length, 200);
    items.forEach((item, i) => assert.ok(item.kind === 'msg' && item.msg.seq === i + 1 && item.msg.data === i));
    const stats = saver.stats?.();
    assert.ok(stats !== undefined && before !== undefined);
    assert.equal(stats.appends - before.appends, 200);
    assert.ok(stats.batches - before.batches <= 3, `200 appends took ${stats.batches - before.batches} batches`);
    await saver.close();
  });

  it('starts a new batch when one would exceed groupCommitOpsMax', async () => {
    const { saver } = await open({ groupCommitOpsMax: 30 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => saver.append(req([`u${i}`], i))));
    const stats = saver.stats?.();
    // Each append to a fresh user is 3 ops: message, expiry index entry, user record.
    assert.ok(stats !== undefined && stats.batches >= 5, `batches ${stats?.batches}`);
    await saver.close();
  });

  it('stores idempotency answers atomically with the append, for idempotencyMs', async () => {
    const c = clock();
    const { saver, dir } = await open({ now: c.now, idempotencyMs: 10_000 });
    assert.equal(await saver.idempotent('app', 'k1'), undefined);
    const appending = saver.append(req(['u'], 1, { idempotency: { key: 'k1', answer: (seqs) => ({ id: 'p1', seqs: [...seqs] }) } }));
    // Seen while the write is still in flight.
    assert.deepEqual(await saver.idempotent('app', 'k1'), { id: 'p1', seqs: [1] });
    await appending;
    assert.equal(await saver.idempotent('other', 'k1'), undefined);
    await saver.close();

    const { saver: again } = await open({ now: c.now, idempotencyMs: 10_000 }, dir);
    assert.deepEqual(await again.idempotent('app', 'k1'), { id: 'p1', seqs: [1] });
    c.set(1_000_000 + 10_000);
    assert.equal(await again.idempotent('app', 'k1'), undefined);
    await again.sweep(c.now());
    c.set(1_000_000);
    assert.equal(await again.idempotent('app', 'k1'), undefined, 'sweep deleted the record');

    // A key reused after expiry, before the old index entry is swept, keeps its new record.
    await again.append(req(['u'], 2, { idempotency: { key: 'k2', answer: () => 'first' } }));
    c.set(1_000_000 + 10_000);
    await again.append(req(['u'], 3, { idempotency: { key: 'k2', answer: () => 'second' } }));
    await again.sweep(c.now());
    assert.equal(await again.idempotent('app', 'k2'), 'second');
    await again.close();
  });

  it('drops the oldest messages past maxInbox and reports them as an overflow gap', async () => {
    const { saver, dir } = await open();
    for (let i = 1; i <= 8; i++) await saver.append(req(['u'], i, { maxInbox: 3 }));
    assert.deepEqual(show(await saver.read('app', 'u', 0, 10)), ['gap 1..5 overflow', 'm6:6', 'm7:7', 'm8:8']);
    assert.deepEqual(show(await saver.read('app', 'u', 3, 10)), ['gap 4..5 overflow', 'm6:6', 'm7:7', 'm8:8']);
    assert.deepEqual(show(await saver.read('app', 'u', 6, 10)), ['m7:7', 'm8:8']);
    assert.deepEqual(show(await saver.read('app', 'u', 0, 1)), ['gap 1..5 overflow', 'm6:6']);
    await saver.close();
    const { saver: again } = await open({}, dir);
    assert.deepEqual(show(await again.read('app', 'u', 0, 10)), ['gap 1..5 overflow', 'm6:6', 'm7:7', 'm8:8']);
    assert.deepEqual(await again.append(req(['u'], 9, { maxInbox: 3 })), [9]);
    assert.deepEqual(show(await again.read('app', 'u', 0, 10)), ['gap 1..6 overflow', 'm7:7', 'm8:8', 'm9:9']);
    await again.close();
  });

  it('drops a whole burst that exceeds maxInbox in one group', async () => {
    const { saver } = await open();
    await Promise.all(Array.from({ length: 10 }, (_, i) => saver.append(req(['u'], i + 1, { maxInbox: 2 }))));
    assert.deepEqual(show(await saver.read('app', 'u', 0, 10)), ['gap 1..8 overflow', 'm9:9', 'm10:10']);
    await saver.close();
  });

  it('reports expired messages as gaps before and after sweep', async () => {
    const c = clock();
    const { saver, dir } = await open({ now: c.now });
    await saver.append(req(['u'], 1, { ttlMs: 1_000 }));
    await saver.append(req(['u'], 2, { ttlMs: 1_000 }));
    await saver.append(req(['u'], 3, { ttlMs: 100_000 }));
    await saver.append(req(['u'], 4, { ttlMs: 1_000 }));
    await saver.append(req(['u'], 5, { ttlMs: 100_000 }));
    assert.deepEqual(show(await saver.read('app', 'u', 0, 10)), ['m1:1', 'm2:2', 'm3:3', 'm4:4', 'm5:5']);
    c.set(1_000_000 + 1_000);
    const expected = ['gap 1..2 expired', 'm3:3', 'gap 4..4 expired', 'm5:5'];
    assert.deepEqual(show(await saver.read('app', 'u', 0, 10)), expected);
    assert.deepEqual(show(await saver.read('app', 'u', 0, 1)), ['gap 1..2 expired', 'm3:3']);
    await saver.sweep(c.now());
    assert.deepEqual(show(await saver.read('app', 'u', 0, 10)), expected);
    await saver.close();
    const { saver: again } = await open({ now: c.now }, dir);
    assert.deepEqual(show(await again.read('app', 'u', 0, 10)), expected);
    assert.deepEqual(show(await again.read('app', 'u', 3, 10)), ['gap 4..4 expired', 'm5:5']);
    c.set(1_000_000 + 100_000);
    await again.sweep(c.now());
    assert.deepEqual(show(await again.read('app', 'u', 0, 10)), ['gap 1..5 expired']);
    assert.equal(await again.lastSeq('app', 'u'), 5);
    assert.deepEqual(await again.append(req(['u'], 6)), [6]);
    await again.close();
  });

  it('mixes overflow and expired gaps in seq order', async () => {
    const c = clock();
    const { saver } = await open({ now: c.now });
    await saver.append(req(['u'], 1, { maxInbox: 3 }));
    await saver.append(req(['u'], 2, { maxInbox: 3 }));
    await saver.append(req(['u'], 3, { maxInbox: 3, ttlMs: 10 }));
    await saver.append(req(['u'], 4, { maxInbox: 3 }));
    await saver.append(req(['u'], 5, { maxInbox: 3 }));
    c.set(1_000_000 + 10);
    assert.deepEqual(show(await saver.read('app', 'u', 0, 10)), ['gap 1..2 overflow', 'gap 3..3 expired', 'm4:4', 'm5:5']);
    await saver.sweep(c.now());
    // After the sweep message 3 no longer counts, so the cap keeps 4, 5, 6.
    await saver.append(req(['u'], 6, { maxInbox: 3 }));
    assert.deepEqual(show(await saver.read('app', 'u', 0, 10)), ['gap 1..2 overflow', 'gap 3..3 expired', 'm4:4', 'm5:5', 'm6:6']);
    await saver.close();
  });

  it('reads cover every seq exactly once while appends overflow and sweeps run', async () => {
    const c = clock();
    const { saver } = await open({ now: c.now });
    const work: Promise<unknown>[] = [];
    const reads: Promise<{ after: number; items: InboxItem[] }>[] = [];
    for (let i = 0; i < 300; i++) {
      work.push(saver.append(req(['u'], i, { maxInbox: 20, ttlMs: i % 3 === 0 ? 50 : 100_000 })));
      if (i % 10 === 0) {
        c.set(1_000_000 + i);
        work.push(saver.sweep(c.now()));
        const after = i % 40;
        reads.push(saver.read('app', 'u', after, 7).then((items) => ({ after, items })));
      }
    }
    await Promise.all(work);
    for (const { after, items } of await Promise.all(reads)) {
      let next = after + 1;
      for (const item of items) {
        const [from, to] = item.kind === 'msg' ? [item.msg.seq, item.msg.seq] : [item.gap.from, item.gap.to];
        assert.equal(from, next, `read after ${after}: ${show(items).join(', ')}`);
        next = to + 1;
      }
      assert.ok(items.filter((i) => i.kind === 'msg').length <= 7);
    }
    await saver.close();
  });

  it('sweeps a bounded number of index entries per call', async () => {
    const c = clock();
    const { saver } = await open({ now: c.now, sweepEntriesMax: 100 });
    const n = 150;
    await Promise.all(Array.from({ length: n }, (_, i) => saver.append(req([`u${i % 7}`], i, { ttlMs: 5 }))));
    c.set(1_000_000 + 5);
    const before = saver.stats?.().ops ?? 0;
    await saver.sweep(c.now());
    // 100 entries: each deletes its index entry and message; plus one record per user touched.
    const ops = (saver.stats?.().ops ?? 0) - before;
    assert.ok(ops > 100 * 2 && ops <= 100 * 2 + 7, `ops ${ops}`);
    await saver.sweep(c.now());
    for (let u = 0; u < 7; u++) {
      const items = await saver.read('app', `u${u}`, 0, 10_000);
      assert.equal(items.length, 1);
      assert.ok(items[0]?.kind === 'gap' && items[0].gap.reason === 'expired' && items[0].gap.from === 1);
    }
    await saver.close();
  });

  it('keeps cursors per device; an unknown device has none', async () => {
    const { saver, dir } = await open();
    assert.equal(await saver.cursor('app', 'u', 'd1'), undefined);
    await saver.setCursor('app', 'u', 'd1', { acked: 3, pendingSeq: 4, pendingSends: 2, broadcastPos: 7 });
    await saver.setCursor('app', 'u', 'd2', { acked: 1, pendingSeq: 0, pendingSends: 0, broadcastPos: 0 });
    await saver.setCursor('app', 'u', 'd1', { acked: 4, pendingSeq: 0, pendingSends: 0, broadcastPos: 7 });
    assert.deepEqual(await saver.cursor('app', 'u', 'd1'), { acked: 4, pendingSeq: 0, pendingSends: 0, broadcastPos: 7 });
    assert.equal(await saver.cursor('app', 'u', 'd3'), undefined);
    // Length-prefixed fields: ("u","d1d") and ("ud","1d")-like splits are different keys.
    assert.equal(await saver.cursor('app', 'ud', '1'), undefined);
    await saver.close();
    const { saver: again } = await open({}, dir);
    assert.deepEqual(await again.cursor('app', 'u', 'd2'), { acked: 1, pendingSeq: 0, pendingSends: 0, broadcastPos: 0 });
    await again.close();
  });

  it('keeps users whose ids contain separators, NULs and unicode apart', async () => {
    const { saver } = await open();
    const users = ['a', 'a!b', 'b!', 'a\u0000b', 'a\u0000', '\u0000', 'a/b', 'a\u00ffb', 'a\uffff', '用户', '😀', 'x'.repeat(256), 'é'.repeat(128)];
    for (const [i, u] of users.entries()) await saver.append(req([u], i));
    for (const [i, u] of users.entries()) {
      assert.deepEqual(show(await saver.read('app', u, 0, 10)), [`m1:${i}`], JSON.stringify(u));
    }
    await saver.setCursor('app', 'a', 'b!c', { acked: 1, pendingSeq: 0, pendingSends: 0, broadcastPos: 0 });
    assert.equal(await saver.cursor('app', 'a!b', 'c'), undefined);
    assert.equal(await saver.cursor('app', 'a', 'b'), undefined);
    await saver.publish('app', 'a', 'topic-a');
    assert.deepEqual(await saver.readTopic('app', 'a!', 0), []);
    await saver.close();
  });

  it('refuses invalid apps and ids instead of colliding them', async () => {
    const { saver } = await open();
    await assert.rejects(saver.append(req(['\ud800'], 1)), RangeError);
    await assert.rejects(saver.append(req(['a\udfffb'], 1)), RangeError);
    await assert.rejects(saver.append(req([''], 1)), RangeError);
    await assert.rejects(saver.append(req(['x'.repeat(257)], 1)), RangeError);
    await assert.rejects(saver.append(req(['é'.repeat(129)], 1)), RangeError);
    await assert.rejects(saver.append({ ...req(['u'], 1), app: 'bad app' }), RangeError);
    await assert.rejects(saver.append({ ...req(['u'], 1), app: '-x' }), RangeError);
    await assert.rejects(saver.read('app', '', 0, 1), RangeError);
    await assert.rejects(saver.cursor('app', 'u', ''), RangeError);
    await saver.close();
  });

  it('reads a long broadcast log whole, and nothing past its newest position, also after reopen', async () => {
    const { saver, dir } = await open();
    // More than the first read chunks together (16 + 32 + 64): the chunks grow until the log ends.
    for (let i = 1; i <= 150; i++) await saver.appendBroadcast('app', `b${i}`, i, 60_000);
    const all = await saver.readBroadcasts('app', 0);
    assert.deepEqual(
      all.map((b) => b.pos),
      Array.from({ length: 150 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      (await saver.readBroadcasts('app', 148)).map((b) => b.id),
      ['b149', 'b150'],
    );
    assert.deepEqual(await saver.readBroadcasts('app', 150), []);
    assert.deepEqual(await saver.readBroadcasts('app', 151), []);
    assert.deepEqual(await saver.readBroadcasts('none', 0), []);
    await saver.close();
    const { saver: again } = await open({}, dir);
    assert.deepEqual(await again.readBroadcasts('app', 150), []);
    assert.deepEqual(
      (await again.readBroadcasts('app', 149)).map((b) => b.data),
      [150],
    );
    await again.close();
  });

  it('replays nothing once every broadcast has expired, swept or not, also after reopen', async () => {
    const c = clock();
    const { saver, dir } = await open({ now: c.now });
    await saver.appendBroadcast('app', 'short', 1, 1_000);
    await saver.appendBroadcast('app', 'long', 2, 5_000);
    await saver.appendBroadcast('app', 'shorter', 3, 500);
    c.set(1_000_000 + 4_999);
    assert.deepEqual(
      (await saver.readBroadcasts('app', 0)).map((b) => b.id),
      ['long'],
    );
    c.set(1_000_000 + 5_000);
    assert.deepEqual(await saver.readBroadcasts('app', 0), []);
    await saver.close();
    const { saver: again } = await open({ now: c.now }, dir);
    assert.deepEqual(await again.readBroadcasts('app', 0), []);
    const next = await again.appendBroadcast('app', 'new', 4, 1_000);
    assert.equal(next.pos, 4);
    assert.deepEqual(
      (await again.readBroadcasts('app', 0)).map((b) => b.id),
      ['new'],
    );
    await again.close();
  });

  it('keeps an app broadcast log with increasing positions until expiry', async () => {
    const c = clock();
    const { saver, dir } = await open({ now: c.now });
    const b1 = await saver.appendBroadcast('app', 'b1', 'one', 1_000);
    const b2 = await saver.appendBroadcast('app', 'b2', 'two', 10_000);
    await saver.appendBroadcast('other', 'o1', 'x', 10_000);
    assert.deepEqual([b1.pos, b2.pos], [1, 2]);
    assert.deepEqual(
      (await saver.readBroadcasts('app', 0)).map((b) => b.id),
      ['b1', 'b2'],
    );
    assert.deepEqual(
      (await saver.readBroadcasts('app', 1)).map((b) => b.id),
      ['b2'],
    );
    c.set(1_000_000 + 1_000);
    assert.deepEqual(
      (await saver.readBroadcasts('app', 0)).map((b) => b.id),
      ['b2'],
    );
    await saver.sweep(c.now());
    await saver.close();
    const { saver: again } = await open({ now: c.now }, dir);
    assert.deepEqual(
      (await again.readBroadcasts('app', 0)).map((b) => b.pos),
      [2],
    );
    assert.equal((await again.appendBroadcast('app', 'b3', 'three', 10_000)).pos, 3);
    c.set(1_000_000 + 10_000);
    await again.sweep(c.now());
    c.set(1_000_000);
    assert.deepEqual(
      (await again.readBroadcasts('app', 0)).map((b) => b.id),
      ['b3'],
      'sweep deleted b2',
    );
    await again.close();
  });

  it('stores a publish under a given offset above the last; the history cap counts records across skipped offsets', async () => {
    const c = clock();
    const { saver } = await open({ now: c.now, topicHistoryMax: 4, topicHistoryMs: 1_000 });
    for (let i = 1; i <= 3; i++) await saver.publish('app', 't', i);
    assert.equal((await saver.publish('app', 't', 'moved', 1025)).offset, 1025, 'a new block of offsets (another owner)');
    assert.equal((await saver.publish('app', 't', 'next')).offset, 1026, 'by default the next one');
    assert.equal(await saver.topicLast('app', 't'), 1026);
    assert.equal(await saver.topicLast('app', 'never'), 0);
    await assert.rejects(saver.publish('app', 't', 'old', 1026), /not above the last/);
    assert.equal(await saver.topicLast('app', 't'), 1026, 'a refused offset changes nothing');
    // Four newest records, though the offsets 4..1024 never existed.
    assert.deepEqual(
      (await saver.readTopic('app', 't', 0)).map((r) => r.offset),
      [2, 3, 1025, 1026],
    );
    assert.deepEqual(
      (await saver.readTopic('app', 't', 3)).map((r) => r.offset),
      [1025, 1026],
    );
    await saver.close();
  });

  it("imports a previous owner's topic history under its offsets and times, and lists the topics it holds", async () => {
    const c = clock();
    const { saver, dir } = await open({ now: c.now, topicHistoryMax: 10, topicHistoryMs: 1_000 });
    await saver.publish('app', 'live', 'new', 2049);
    const handed = [
      { offset: 5, data: 'expired', ts: c.now() - 1_000 },
      { offset: 6, data: 'six', ts: c.now() - 10 },
      { offset: 7, data: { seven: 7 }, ts: c.now() },
    ];
    assert.equal(await saver.importTopic('app', 'live', handed), 2, 'the record past its time is not stored');
    assert.equal(await saver.importTopic('app', 'live', handed), 2, 'a repeated hand-over writes the same records again');
    assert.deepEqual(
      (await saver.readTopic('app', 'live', 0)).map((r) => [r.offset, r.data, r.ts]),
      [
        [6, 'six', c.now() - 10],
        [7, { seven: 7 }, c.now()],
        [2049, 'new', c.now()],
      ],
      'in offset order, below what this owner published already, each with its first time',
    );
    assert.equal(await saver.topicLast('app', 'live'), 2049, 'a lower import does not lower the last offset');
    assert.equal(await saver.importTopic('app', 'fresh', [{ offset: 40, data: 'x', ts: c.now() }]), 1);
    assert.equal(await saver.topicLast('app', 'fresh'), 40, 'an import into a topic new here raises its last offset');
    assert.equal((await saver.publish('app', 'fresh', 'after')).offset, 41);
    await saver.publish('b-app', 'z', 1);
    const all = await saver.listTopics(undefined, 10);
    const names = (ks: { app: string; topic: string }[]): string[] => ks.map((k) => `${k.app}/${k.topic}`);
    assert.deepEqual(names(all).sort(), ['app/fresh', 'app/live', 'b-app/z']);
    // Key order (length-prefixed strings), paged after a key: the pages together are the whole list, once each.
    const first = await saver.listTopics(undefined, 1);
    const rest = await saver.listTopics(first[0], 10);
    assert.deepEqual(names([...first, ...rest]), names(all));
    c.set(c.now() + 995);
    assert.deepEqual((await saver.readTopic('app', 'live', 0)).map((r) => r.offset), [7, 2049], 'an imported record expires at its own time');
    await saver.close();
    const { saver: again } = await open({ now: c.now, topicHistoryMax: 10, topicHistoryMs: 1_000 }, dir);
    assert.deepEqual((await again.readTopic('app', 'live', 6)).map((r) => r.offset), [7, 2049], 'imports are durable');
    await again.close();
  });

  it('gives topic offsets that persist and keeps a bounded history', async () => {
    const c = clock();
    const { saver, dir } = await open({ now: c.now, topicHistoryMax: 5, topicHistoryMs: 1_000 });
    for (let i = 1; i <= 8; i++) assert.equal((await saver.publish('app', 't', i)).offset, i);
    assert.equal((await saver.publish('app', 't2', 'x')).offset, 1);
    assert.deepEqual(
      (await saver.readTopic('app', 't', 0)).map((r) => r.offset),
      [4, 5, 6, 7, 8],
    );
    assert.deepEqual(
      (await saver.readTopic('app', 't', 6)).map((r) => r.data),
      [7, 8],
    );
    await saver.close();

    const { saver: again } = await open({ now: c.now, topicHistoryMax: 3, topicHistoryMs: 1_000 }, dir);
    // A smaller cap applies at once, even to records kept under the larger one.
    assert.deepEqual(
      (await again.readTopic('app', 't', 0)).map((r) => r.offset),
      [6, 7, 8],
    );
    c.set(1_000_000 + 500);
    assert.equal((await again.publish('app', 't', 9)).offset, 9);
    c.set(1_000_000 + 1_000);
    assert.deepEqual(
      (await again.readTopic('app', 't', 0)).map((r) => r.offset),
      [9],
    );
    await again.sweep(c.now());
    assert.deepEqual(
      (await again.readTopic('app', 't', 0)).map((r) => r.offset),
      [9],
    );
    c.set(1_000_000 + 1_500);
    assert.deepEqual(await again.readTopic('app', 't', 0), []);
    assert.equal((await again.publish('app', 't', 10)).offset, 10);
    await again.close();
  });

  it("forgets a topic once its newest record expired and was swept, not before; a publish after starts its counter again", async () => {
    const c = clock();
    const { saver, dir } = await open({ now: c.now, topicHistoryMax: 5, topicHistoryMs: 1_000 });
    await saver.publish('app', 'quiet', 'a', 1025);
    await saver.publish('app', 'quiet', 'b', 1026);
    await saver.publish('app', 'busy', 'a', 7);
    c.set(c.now() + 600);
    await saver.publish('app', 'busy', 'b', 8);
    const names = async (s: typeof saver): Promise<string[]> => (await s.listTopics(undefined, 10)).map((k) => k.topic).sort();
    c.set(c.now() + 500);
    await saver.sweep(c.now());
    assert.deepEqual(await names(saver), ['busy'], "quiet's records all expired: forgotten; busy still has its newest");
    assert.equal(await saver.topicLast('app', 'quiet'), 0);
    assert.equal(await saver.topicLast('app', 'busy'), 8);
    assert.deepEqual((await saver.readTopic('app', 'busy', 0)).map((r) => r.offset), [8]);
    assert.equal((await saver.publish('app', 'quiet', 'c', 2049)).offset, 2049, 'an offset above the block bound, as the cluster gives');
    await assert.rejects(saver.publish('app', 'quiet', 'd', 5), /not above the last/, 'offsets still only grow while it has history');
    await saver.close();
    const { saver: again } = await open({ now: c.now, topicHistoryMax: 5, topicHistoryMs: 1_000 }, dir);
    assert.deepEqual(await names(again), ['busy', 'quiet'], 'the forgetting and the new counter are durable');
    assert.equal(await again.topicLast('app', 'quiet'), 2049);
    await again.close();
  });

  it('keeps seqs right when idle users are evicted from a small cache', async () => {
    const { saver } = await open({ cacheEntriesMax: 2 });
    for (let round = 1; round <= 3; round++) {
      const seqs = await Promise.all(Array.from({ length: 10 }, (_, u) => saver.append(req([`u${u}`, `u${(u + 1) % 10}`], round))));
      for (const [u, s] of seqs.entries()) assert.ok(s[0] !== undefined && s[1] !== undefined, `user ${u}`);
    }
    for (let u = 0; u < 10; u++) {
      const items = await saver.read('app', `u${u}`, 0, 100);
      assert.deepEqual(
        items.map((i) => (i.kind === 'msg' ? i.msg.seq : -1)),
        [1, 2, 3, 4, 5, 6],
      );
    }
    for (let i = 0; i < 5; i++) assert.equal((await saver.publish('app', `t${i % 3}`, i)).offset, Math.floor(i / 3) + 1);
    await saver.close();
  });

  it('writes with fsync on', async () => {
    const { saver, dir } = await open({ fsync: true });
    await Promise.all(Array.from({ length: 20 }, (_, i) => saver.append(req(['u'], i))));
    await saver.setCursor('app', 'u', 'd', { acked: 20, pendingSeq: 0, pendingSends: 0, broadcastPos: 0 });
    await saver.close();
    const { saver: again } = await open({ fsync: true }, dir);
    assert.equal(await again.lastSeq('app', 'u'), 20);
    assert.equal((await again.cursor('app', 'u', 'd'))?.acked, 20);
    await again.close();
  });

  it('refuses nonsense options', async () => {
    const dir = await tempDir();
    await assert.rejects(openSaver({ dir, fsync: false, topicHistoryMax: 0 }), RangeError);
    await assert.rejects(openSaver({ dir, fsync: false, idempotencyMs: -1 }), RangeError);
  });

  it('rejects calls after close', async () => {
    const { saver } = await open();
    await saver.close();
    await assert.rejects(saver.append(req(['u'], 1)), /closed/);
  });

  it('loses no answered append when the writer is killed with SIGKILL', async () => {
    const dir = await tempDir();
    const script = fileURLToPath(new URL('./fixtures/saver-writer.js', import.meta.url));
    const child = spawn(process.execPath, [script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const answered: { user: string; seq: number; n: number }[] = [];
    let buf = '';
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        buf += chunk;
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const line of lines) {
          const [user, seq, n] = line.split(' ');
          answered.push({ user: user ?? '', seq: Number(seq), n: Number(n) });
        }
        if (answered.length >= 2_000) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await exited;
    assert.equal(child.signalCode, 'SIGKILL');

    const saver = await openSaver({ dir, fsync: false });
    const byUser = new Map<string, Map<number, unknown>>();
    for (const u of ['u0', 'u1', 'u2', 'u3']) {
      const items = await saver.read('app', u, 0, 1_000_000);
      byUser.set(u, new Map(items.map((i) => (i.kind === 'msg' ? [i.msg.seq, i.msg.data] : [0, 'gap']))));
      // Seqs are dense from 1: no gap, no hole.
      items.forEach((item, i) => assert.ok(item.kind === 'msg' && item.msg.seq === i + 1, `${u} item ${i}`));
    }
    for (const a of answered) {
      assert.deepEqual(byUser.get(a.user)?.get(a.seq), { n: a.n }, `answered ${a.user} seq ${a.seq} is stored`);
    }
    const maxU0 = Math.max(...answered.filter((a) => a.user === 'u0').map((a) => a.seq));
    const [next] = await saver.append(req(['u0'], 'after'));
    assert.ok(next !== undefined && next > maxU0);
    await saver.close();
  });
});
