// The new owner's gate around a pull: a store may not land before a pull
// that is still on its way, even once the move that started it has ended
// (a jepsen delivery run found the same seq given twice that way: the join
// record was deleted while a pull of a user, empty when the previous owner
// handed its users over, was still running; a push then stored seq 1 as
// "here", and the pull's import replaced that inbox under another seq 1);
// and a repeated idempotency key for a moving user is answered from the
// previous owner's record before its batch brings it.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Member } from '../../keeper/src/keeper.js';
import { HandoffGate, type GateOwnership } from '../src/handoff-gate.js';
import { Metrics } from '../src/metrics.js';
import type { Placement } from '../src/ownership.js';
import { openSaver } from '../src/saver/saver-level.js';
import type { AppendRequest, Saver } from '../src/saver/saver.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const PREVIOUS: Member = { id: 'n2', role: 'voter', peer: '127.0.0.1:1', api: '127.0.0.1:2', gateway: '127.0.0.1:3', zone: '' };
const MARK = 'join-mark-1';

function req(data: string): AppendRequest {
  return { app: 'app', users: ['u'], id: `id-${data}`, data, ttlMs: 60_000, maxInbox: 100 };
}

/** A ring whose placement of every user the test sets; a previous owner whose export answers when the test says. */
async function setup(): Promise<{ gate: HandoffGate; saver: Saver; place: (p: Placement) => void; answerExport: () => void; exports: () => number; recalls: () => number }> {
  const dir = await mkdtemp(join(tmpdir(), 'longwire-gate-'));
  dirs.push(dir);
  const saver = await openSaver({ dir, fsync: false });
  let placement: Placement = { kind: 'incoming', from: PREVIOUS, move: 'join', mark: MARK };
  const ownership: GateOwnership = { placement: () => placement, refresh: async () => undefined, joinRecords: () => [] };
  let release: () => void = () => undefined;
  const answered = new Promise<void>((r) => (release = r));
  let exports = 0;
  let recalls = 0;
  const peers = {
    of: () => ({
      call: async (_method: string, body: unknown) => {
        const op = (body as { op: string }).op;
        if (op === 'idempotency-get') {
          recalls++;
          const k = (body as { key: string }).key;
          if (k === 'known') return { app: 'app', key: k, answer: { id: 'first', results: [{ user: 'u', seq: 7 }] }, at: Date.now() };
          // The previous owner's own part of a multicast under the same key: other users.
          if (k === 'multi') return { app: 'app', key: k, answer: { id: 'm', results: [{ user: 'v', seq: 1 }, { user: 'w', seq: 3 }] }, at: Date.now() };
          return null;
        }
        exports++;
        const b = body as { app: string; user: string };
        await answered;
        // The user was empty on the previous owner: it had never been pushed to there.
        return { app: b.app, user: b.user, meta: { lastSeq: 0, floorTo: 0, floorReason: 'overflow', ranges: [] }, messages: [], cursors: [] };
      },
    }),
  };
  const gate = new HandoffGate('n3', ownership, saver, peers, new Metrics());
  return { gate, saver, place: (p) => (placement = p), answerExport: release, exports: () => exports, recalls: () => recalls };
}

/** The pusher's order: admit, then append. */
async function push(gate: HandoffGate, saver: Saver, data: string): Promise<number> {
  await gate.admit('app', ['u']);
  const [seq] = await saver.append(req(data));
  return seq ?? 0;
}

describe('handoff gate', () => {
  it('a push admitted after the move ended waits for the pull still running; every push gets its own seq and stays stored', async () => {
    const { gate, saver, place, answerExport, exports } = await setup();
    const first = push(gate, saver, 'w0');
    for (let i = 0; i < 200 && exports() === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(exports(), 1, 'the pull asked the previous owner');
    // The move ends (its record deleted) while the pull is on its way.
    place({ kind: 'here' });
    let secondDone = false;
    const second = push(gate, saver, 'w1').finally(() => (secondDone = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(secondDone, false, 'nothing stored before the pull landed');
    answerExport();
    const seqs = [await first, await second].sort();
    assert.deepEqual(seqs, [1, 2]);
    const items = await saver.read('app', 'u', 0, 10);
    const stored = items.flatMap((i) => (i.kind === 'msg' ? [`${i.msg.seq}:${String(i.msg.data)}`] : [])).sort();
    assert.deepEqual(stored.length, 2, `both messages kept: ${stored.join(', ')}`);
    assert.equal(exports(), 1, 'one pull for both');
    await saver.close();
  });

  it('a repeated idempotency key whose record is still on the previous owner is answered from it, not stored again', async () => {
    const { gate, saver, place, recalls } = await setup();
    assert.equal(await gate.recall('app', ['u'], 'known'), true);
    assert.deepEqual(await saver.idempotent('app', 'known'), { id: 'first', results: [{ user: 'u', seq: 7 }] });
    assert.equal(await gate.recall('app', ['u'], 'unknown'), false, 'the previous owner has none: store as new');
    assert.equal(await saver.idempotent('app', 'unknown'), undefined);
    // Its record under the key answers for its own users only (a multicast's other group): not this push's.
    assert.equal(await gate.recall('app', ['u'], 'multi'), false);
    assert.equal(await saver.idempotent('app', 'multi'), undefined, 'nothing imported');
    // Once the user is here (the move over, every record handed over) nobody is asked.
    place({ kind: 'here' });
    assert.equal(await gate.recall('app', ['u'], 'other'), false);
    assert.equal(recalls(), 3);
    await saver.close();
  });

  it('a push for a user already imported under the mark goes through without a pull', async () => {
    const { gate, saver, answerExport, exports } = await setup();
    answerExport();
    assert.equal(await push(gate, saver, 'a'), 1);
    assert.equal(await push(gate, saver, 'b'), 2);
    assert.equal(exports(), 1);
    await saver.close();
  });
});
