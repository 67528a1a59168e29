// The saver's side of a drain: sealing (durable, ordered after queued
// appends), export and import of inboxes with cursors and drops, the handoff
// mark that makes a repeated import a no-op, and merged idempotency records.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSaver } from '../src/saver/saver-level.js';
import { SaverSealedError, type AppendRequest, type InboxItem, type Saver } from '../src/saver/saver.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function open(dir?: string): Promise<{ saver: Saver; dir: string }> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'longwire-handoff-')));
  if (dir === undefined) dirs.push(d);
  return { saver: await openSaver({ dir: d, fsync: false }), dir: d };
}

function req(users: string[], data: AppendRequest['data'], more: Partial<AppendRequest> = {}): AppendRequest {
  return { app: 'app', users, id: `id-${String(data)}`, data, ttlMs: 60_000, maxInbox: 3, ...more };
}

function show(items: InboxItem[]): string[] {
  return items.map((i) => (i.kind === 'msg' ? `m${i.msg.seq}:${JSON.stringify(i.msg.data)}` : `gap ${i.gap.from}..${i.gap.to} ${i.gap.reason}`));
}

describe('saver handoff', () => {
  it('seal waits for queued appends, refuses later appends and cursor writes, and survives a restart', async () => {
    const { saver, dir } = await open();
    const queued = saver.append(req(['u'], 1));
    const sealed = saver.seal();
    await assert.rejects(saver.append(req(['u'], 2)), SaverSealedError);
    assert.deepEqual(await queued, [1]);
    await sealed;
    assert.equal(saver.sealed(), true);
    await assert.rejects(saver.setCursor('app', 'u', 'd', { acked: 1, pendingSeq: 0, pendingSends: 0, broadcastPos: 0 }), SaverSealedError);
    await saver.close();
    const again = await open(dir);
    assert.equal(again.saver.sealed(), true);
    await assert.rejects(again.saver.append(req(['u'], 3)), SaverSealedError);
    assert.equal(await again.saver.lastSeq('app', 'u'), 1);
    await again.saver.close();
  });

  it('an inbox moves with its seqs, drops and cursors; the next seq continues; a repeated import changes nothing', async () => {
    const from = (await open()).saver;
    const to = (await open()).saver;
    // Five messages with a cap of three: seqs 1..2 dropped by overflow.
    for (let i = 1; i <= 5; i++) await from.append(req(['u', 'v'], i));
    await from.setCursor('app', 'u', 'phone', { acked: 3, pendingSeq: 4, pendingSends: 2, broadcastPos: 9 });
    // The new owner had an old inbox of u from an earlier ownership: it is replaced, not merged.
    await to.append(req(['u'], 'stale'));
    await to.setCursor('app', 'u', 'old-device', { acked: 1, pendingSeq: 0, pendingSends: 0, broadcastPos: 0 });
    await from.seal();
    const users = await from.exportUsers(undefined, 1);
    assert.deepEqual(
      users.map((u) => u.user),
      ['u'],
    );
    const rest = await from.exportUsers(users[0], 10);
    assert.deepEqual(
      rest.map((u) => u.user),
      ['v'],
    );
    assert.deepEqual(await to.importUsers('mark-1', [...users, ...rest]), { users: 2, messages: 6 });
    assert.equal(await to.handoffMark('app', 'u'), 'mark-1');
    assert.deepEqual(show(await to.read('app', 'u', 0, 10)), ['gap 1..2 overflow', 'm3:3', 'm4:4', 'm5:5']);
    assert.deepEqual(await to.cursor('app', 'u', 'phone'), { acked: 3, pendingSeq: 4, pendingSends: 2, broadcastPos: 0 });
    assert.equal(await to.cursor('app', 'u', 'old-device'), undefined);
    assert.equal(await to.lastSeq('app', 'u'), 5);
    assert.deepEqual(await to.append(req(['u'], 6)), [6]);
    // The same mark again (a drain retried): the newer state stays.
    assert.deepEqual(await to.importUsers('mark-1', users), { users: 0, messages: 0 });
    assert.equal(await to.lastSeq('app', 'u'), 6);
    await from.close();
    await to.close();
  });

  it('idempotency records move, and two parts of one push merge into one answer', async () => {
    const from = (await open()).saver;
    const to = (await open()).saver;
    const answer = (user: string) => (seqs: readonly number[]) => ({ id: 'm', results: [{ user, seq: seqs[0] ?? 0 }] });
    await from.append(req(['a'], 1, { idempotency: { key: 'k', answer: answer('a') } }));
    await to.append(req(['b'], 1, { idempotency: { key: 'k', answer: answer('b') } }));
    await from.seal();
    const records = await from.exportIdempotency(undefined, 10);
    assert.equal(records.length, 1);
    await to.importIdempotency(records);
    assert.deepEqual(await to.idempotent('app', 'k'), { id: 'm', results: [{ user: 'b', seq: 1 }, { user: 'a', seq: 1 }] });
    await from.close();
    await to.close();
  });
});
