// The linearizability checker on generated histories: a simulated register
// with concurrent clients, where each operation takes effect at a random point
// of its interval (and an operation with an unknown outcome takes effect at
// some point after its call, or never). Every such history is linearizable and
// must pass; the same history with one read made stale (returning a value that
// a later, completed write had overwritten before the read was called) must
// not. Seeds are fixed so a failure replays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPartition } from '../checker/linearizable.js';
import type { Operation } from '../checker/operation.js';
import { Rng } from '../cluster/rng.js';
import { registerModel, type RegisterInput, type RegisterOutput } from '../model/register.js';

type Op = Operation<RegisterInput, RegisterOutput>;

interface Planned {
  readonly clientId: number;
  readonly call: number;
  readonly ret: number;
  /** When it takes effect; Infinity: never. */
  readonly effect: number;
  readonly unknown: boolean;
  readonly kind: RegisterInput['op'];
  readonly value: string;
}

function simulate(rng: Rng, clients: number, opsPerClient: number, unknownRate: number): Op[] {
  const planned: Planned[] = [];
  for (let c = 0; c < clients; c++) {
    let t = rng.int(5);
    for (let i = 0; i < opsPerClient; i++) {
      const call = t + rng.int(4);
      const ret = call + 1 + rng.int(12);
      const r = rng.next();
      const kind: RegisterInput['op'] = r < 0.4 ? 'read' : r < 0.7 ? 'write' : r < 0.92 ? 'cas' : 'delete';
      const unknown = kind !== 'read' && rng.next() < unknownRate;
      // An unknown operation takes effect within a long window after its call, or never.
      const effect = unknown ? (rng.next() < 0.5 ? call + rng.next() * 60 : Infinity) : call + rng.next() * (ret - call);
      planned.push({ clientId: c, call, ret, effect, unknown, kind, value: `c${c}-${i}` });
      t = ret;
    }
  }
  // Apply in effect order; a cas compares against what its client last saw (computed in the same order).
  const order = planned.map((p, i) => ({ p, i })).sort((a, b) => a.p.effect - b.p.effect || a.i - b.i);
  let value: string | null = null;
  let modRevision = 0;
  let revision = 1;
  const lastSeen = new Map<number, number>();
  const out: Op[] = [];
  for (const { p } of order) {
    const seen = lastSeen.get(p.clientId) ?? 0;
    let input: RegisterInput;
    let output: RegisterOutput;
    const applies = p.effect !== Infinity;
    switch (p.kind) {
      case 'read':
        input = { op: 'read' };
        output = { kind: 'read', value, modRevision };
        lastSeen.set(p.clientId, modRevision);
        break;
      case 'write':
        input = { op: 'write', value: p.value };
        if (applies) {
          revision += 1 + (rng.next() < 0.3 ? 1 : 0);
          value = p.value;
          modRevision = revision;
        }
        output = { kind: 'written', revision };
        break;
      case 'cas': {
        input = { op: 'cas', value: p.value, ifModRevision: seen };
        const holds = seen === 0 ? value === null : value !== null && modRevision === seen;
        if (applies && holds) {
          revision += 1;
          value = p.value;
          modRevision = revision;
          output = { kind: 'written', revision };
        } else {
          output = { kind: 'cas-failed' };
        }
        break;
      }
      case 'delete': {
        input = { op: 'delete' };
        const present = value !== null;
        if (applies && present) {
          revision += 1;
          value = null;
          modRevision = 0;
        }
        output = { kind: 'deleted', revision, deleted: present ? 1 : 0 };
        break;
      }
    }
    if (p.unknown) out.push({ clientId: p.clientId, input, call: p.call, output: { kind: 'unknown' }, return: Infinity });
    else out.push({ clientId: p.clientId, input, call: p.call, output, return: p.ret });
    // Remember what a completed write made visible, for the mutation below.
    if (output.kind === 'written' || output.kind === 'read') lastSeen.set(p.clientId, output.kind === 'written' ? output.revision : output.modRevision);
  }
  return out.sort((a, b) => a.call - b.call);
}

/** Makes one read stale: it returns the value of write W1 that a completed write W2 with a higher revision had replaced before the read's call. */
function makeStale(ops: readonly Op[]): Op[] | undefined {
  const writes = ops.filter((o): o is Op & { input: { op: 'write' | 'cas'; value: string }; output: { kind: 'written'; revision: number } } => (o.input.op === 'write' || o.input.op === 'cas') && o.output.kind === 'written');
  for (const [ri, r] of ops.entries()) {
    if (r.input.op !== 'read' || r.output.kind !== 'read') continue;
    for (const w1 of writes) {
      const overwritten = writes.some((w2) => w2.output.revision > w1.output.revision && w2.return < r.call);
      if (!overwritten || w1.input.value === r.output.value) continue;
      const copy = [...ops];
      copy[ri] = { ...r, output: { kind: 'read', value: w1.input.value, modRevision: w1.output.revision } };
      return copy;
    }
  }
  return undefined;
}

test('generated linearizable histories pass, and each with one stale read fails', () => {
  let staleChecked = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const rng = new Rng(seed);
    const ops = simulate(rng, 2 + rng.int(4), 10 + rng.int(25), seed % 3 === 0 ? 0.2 : 0.05);
    const good = checkPartition(registerModel, ops, `seed ${seed}`);
    assert.equal(good.verdict, 'ok', `seed ${seed}: a linearizable history was judged ${good.verdict}\n${good.explanation ?? ''}`);
    const stale = makeStale(ops);
    if (stale === undefined) continue;
    const bad = checkPartition(registerModel, stale, `seed ${seed}`);
    assert.equal(bad.verdict, 'illegal', `seed ${seed}: a history with a stale read was judged ${bad.verdict}`);
    staleChecked++;
  }
  assert.ok(staleChecked >= 30, `only ${staleChecked} seeds produced a stale-read mutation`);
});
