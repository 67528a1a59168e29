// The saver's per-user seal for joins: a previous owner seals the users a
// join moves (durably, ordered after queued appends and cursor writes) while
// it keeps serving the others; a sealed user gets no seq and no cursor, even
// after a restart; the export after the seal is final and the joiner's seqs
// continue from it; a drain never hands a sealed copy over (it would replace
// the joiner's live inbox); a user handed back, or a seal lifted, is served
// again; the moving-out check refuses a user before any seal is written.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSaver } from '../src/saver/saver-level.js';
import { SaverUserMovedError, type AppendRequest, type DeviceCursor, type Saver } from '../src/saver/saver.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function open(dir?: string): Promise<{ saver: Saver; dir: string }> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'longwire-user-seal-')));
  if (dir === undefined) dirs.push(d);
  return { saver: await openSaver({ dir: d, fsync: false }), dir: d };
}

function req(users: string[], data: number): AppendRequest {
  return { app: 'app', users, id: `id-${data}`, data, ttlMs: 60_000, maxInbox: 100 };
}

function cursor(acked: number): DeviceCursor {
  return { acked, pendingSeq: 0, pendingSends: 0, broadcastPos: 0 };
}

function moved(user: string, mark: string): (err: unknown) => boolean {
  return (err) => err instanceof SaverUserMovedError && err.user === user && err.mark === mark;
}

describe('saver per-user seal (joins)', () => {
  it('seals only the moved users, after queued appends and cursors, and keeps them sealed across a restart', async () => {
    const { saver, dir } = await open();
    await saver.append(req(['moved', 'stays'], 1));
    const queued = saver.append(req(['moved'], 2));
    const queuedCursor = saver.setCursor('app', 'moved', 'phone', cursor(1));
    const sealing = saver.sealUsers('join-1', [{ app: 'app', user: 'moved' }]);
    await assert.rejects(saver.append(req(['moved'], 3)), moved('moved', 'join-1'));
    await assert.rejects(saver.setCursor('app', 'moved', 'phone', cursor(2)), moved('moved', 'join-1'));
    assert.deepEqual(await queued, [2]);
    await queuedCursor;
    await sealing;
    // The export after the seal holds everything that got in before it.
    const exported = await saver.exportUser('app', 'moved');
    assert.deepEqual(
      exported.messages.map((m) => m.seq),
      [1, 2],
    );
    assert.deepEqual(exported.cursors, [{ device: 'phone', cursor: cursor(1) }]);
    assert.equal(exported.meta.movedOut, 'join-1');
    // Other users are served as before; a push naming both stores nothing (no seq for either).
    assert.deepEqual(await saver.append(req(['stays'], 4)), [2]);
    await assert.rejects(saver.append(req(['stays', 'moved'], 5)), moved('moved', 'join-1'));
    assert.equal(await saver.lastSeq('app', 'stays'), 2);
    await saver.setCursor('app', 'stays', 'phone', cursor(2));
    // A drain of this node later must not hand the sealed copy over.
    assert.deepEqual(
      (await saver.exportUsers(undefined, 10)).map((u) => u.user),
      ['stays'],
    );
    assert.deepEqual(
      (await saver.listUsers(undefined, 10)).map((u) => u.user),
      ['moved', 'stays'],
    );
    await saver.close();
    const again = (await open(dir)).saver;
    await assert.rejects(again.append(req(['moved'], 6)), moved('moved', 'join-1'));
    assert.equal(await again.movedOut('app', 'moved'), 'join-1');
    assert.equal(await again.lastSeq('app', 'moved'), 2);
    assert.deepEqual(await again.append(req(['stays'], 7)), [3]);
    await again.close();
  });

  it('the joiner imports the sealed export as a live inbox whose seqs go on; a repeated seal and import change nothing', async () => {
    const from = (await open()).saver;
    const to = (await open()).saver;
    for (let i = 1; i <= 50; i++) await from.append(req(['u'], i));
    await from.setCursor('app', 'u', 'phone', cursor(40));
    await from.sealUsers('join-1', [{ app: 'app', user: 'u' }]);
    const u = await from.exportUser('app', 'u');
    assert.deepEqual(await to.importUsers('join-1', [u]), { users: 1, messages: 50 });
    assert.equal(await to.movedOut('app', 'u'), undefined);
    assert.deepEqual(await to.append(req(['u'], 51)), [51]);
    assert.deepEqual(await to.cursor('app', 'u', 'phone'), cursor(40));
    // The previous owner's sweep runs again (it restarted): same seal, same export, and the import skips it.
    await from.sealUsers('join-1', [{ app: 'app', user: 'u' }]);
    assert.deepEqual(await to.importUsers('join-1', [await from.exportUser('app', 'u')]), { users: 0, messages: 0 });
    assert.equal(await to.lastSeq('app', 'u'), 51);
    // Handed back later (the joiner drained): the previous owner serves the user again, from the newer state.
    await to.seal();
    assert.deepEqual(await from.importUsers('drain-1', await to.exportUsers(undefined, 10)), { users: 1, messages: 51 });
    assert.equal(await from.movedOut('app', 'u'), undefined);
    assert.deepEqual(await from.append(req(['u'], 52)), [52]);
    await from.close();
    await to.close();
  });

  it('a handoff mark is reported only once its inbox is readable; a crossing import of it waits for the first', async () => {
    // Regression (jepsen delivery, SEED=2115006158): a pull and the previous
    // owner's batch imported the same inbox at once; the mark was visible in
    // memory before the batch was written, so a bind on the joiner went ahead,
    // read no cursor and lastSeq 0, and replayed seqs 1..90 the device had acked.
    const from = (await open()).saver;
    const to = (await open()).saver;
    for (let i = 1; i <= 20; i++) await from.append(req(['u'], i));
    await from.setCursor('app', 'u', 'phone', cursor(20));
    await from.sealUsers('join-3', [{ app: 'app', user: 'u' }]);
    const u = await from.exportUser('app', 'u');
    const batch = to.importUsers('join-3', [u]);
    const pull = to.importUsers('join-3', [u]);
    // As soon as the mark shows, the inbox and the cursor it names are readable.
    for (let i = 0; ; i++) {
      if ((await to.handoffMark('app', 'u')) === 'join-3') break;
      assert.ok(i < 10_000, 'the mark never showed');
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(await to.lastSeq('app', 'u'), 20);
    assert.deepEqual(await to.cursor('app', 'u', 'phone'), cursor(20));
    assert.deepEqual(await pull, { users: 0, messages: 0 });
    assert.deepEqual(await batch, { users: 1, messages: 20 });
    await from.close();
    await to.close();
  });

  it('a lifted seal serves the user again from where it stopped; another mark does not lift it', async () => {
    const saver = (await open()).saver;
    await saver.append(req(['u'], 1));
    await saver.sealUsers('join-1', [{ app: 'app', user: 'u' }]);
    await saver.liftSeal('app', 'u', 'join-0');
    await assert.rejects(saver.append(req(['u'], 2)), moved('u', 'join-1'));
    await saver.liftSeal('app', 'u', 'join-1');
    assert.deepEqual(await saver.append(req(['u'], 2)), [2]);
    await saver.close();
  });

  it('the moving-out check refuses a user inside the step that gives out seqs, with nothing written', async () => {
    const saver = (await open()).saver;
    let moving: string | undefined;
    saver.setMovingOut((_app, user) => (user === 'u' ? moving : undefined));
    assert.deepEqual(await saver.append(req(['u'], 1)), [1]);
    moving = 'join-2';
    await assert.rejects(saver.append(req(['u', 'v'], 2)), moved('u', 'join-2'));
    await assert.rejects(saver.setCursor('app', 'u', 'd', cursor(1)), moved('u', 'join-2'));
    assert.equal(await saver.lastSeq('app', 'v'), 0);
    assert.deepEqual(await saver.append(req(['v'], 3)), [1]);
    saver.setMovingOut(undefined);
    assert.deepEqual(await saver.append(req(['u'], 4)), [2]);
    await saver.close();
  });
});
