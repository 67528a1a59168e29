// The linearizability checker and the register model against small known-good
// and known-bad histories. Each bad history is named after what it breaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLinearizable, checkPartition, type Verdict } from '../checker/linearizable.js';
import type { Operation } from '../checker/operation.js';
import { registerModel, type RegisterInput, type RegisterOutput } from '../model/register.js';

type Op = Operation<RegisterInput, RegisterOutput>;
const INF = Infinity;

const write = (c: number, call: number, ret: number, value: string, revision: number): Op => ({ clientId: c, input: { op: 'write', value }, call, return: ret, output: { kind: 'written', revision } });
const writeUnknown = (c: number, call: number, value: string): Op => ({ clientId: c, input: { op: 'write', value }, call, return: INF, output: { kind: 'unknown' } });
const read = (c: number, call: number, ret: number, value: string | null, modRevision: number): Op => ({ clientId: c, input: { op: 'read' }, call, return: ret, output: { kind: 'read', value, modRevision } });
const cas = (c: number, call: number, ret: number, ifModRevision: number, value: string, revision: number | 'failed' | 'unknown'): Op => ({
  clientId: c,
  input: { op: 'cas', value, ifModRevision },
  call,
  return: revision === 'unknown' ? INF : ret,
  output: revision === 'failed' ? { kind: 'cas-failed' } : revision === 'unknown' ? { kind: 'unknown' } : { kind: 'written', revision },
});
const del = (c: number, call: number, ret: number, revision: number, deleted: number): Op => ({ clientId: c, input: { op: 'delete' }, call, return: ret, output: { kind: 'deleted', revision, deleted } });

function verdict(ops: Op[]): Verdict {
  return checkPartition(registerModel, ops, 'k').verdict;
}

// Known-good histories.

test('good: sequential write then read', () => {
  assert.equal(verdict([write(1, 0, 1, 'a', 5), read(2, 2, 3, 'a', 5)]), 'ok');
});

test('good: a read concurrent with a write may see the old or the new value', () => {
  assert.equal(verdict([write(1, 0, 10, 'a', 5), read(2, 1, 2, null, 0), read(3, 3, 4, 'a', 5)]), 'ok');
  assert.equal(verdict([write(1, 0, 10, 'a', 5), read(2, 1, 2, 'a', 5), read(3, 3, 4, 'a', 5)]), 'ok');
});

test('good: touching intervals are concurrent (closed intervals)', () => {
  assert.equal(verdict([read(2, 0, 5, 'a', 5), write(1, 5, 9, 'a', 5)]), 'ok');
});

test('good: a write with unknown outcome that a later read observes', () => {
  assert.equal(verdict([write(1, 0, 1, 'a', 3), writeUnknown(2, 2, 'b'), read(3, 10, 11, 'b', 7), read(3, 12, 13, 'b', 7)]), 'ok');
});

test('good: a write with unknown outcome that never took effect', () => {
  assert.equal(verdict([write(1, 0, 1, 'a', 3), writeUnknown(2, 2, 'b'), read(3, 10, 11, 'a', 3)]), 'ok');
});

test('good: an unknown write may take effect long after its call, after later writes', () => {
  assert.equal(verdict([writeUnknown(2, 0, 'b'), write(1, 5, 6, 'a', 3), read(3, 7, 8, 'a', 3), read(3, 9, 10, 'b', 9)]), 'ok');
});

test('good: cas on the modRevision read, a competing cas fails, create-if-absent, delete', () => {
  assert.equal(
    verdict([
      cas(1, 0, 1, 0, 'a', 2),
      read(1, 2, 3, 'a', 2),
      cas(1, 4, 6, 2, 'b', 4),
      cas(2, 5, 7, 2, 'c', 'failed'),
      cas(2, 8, 9, 0, 'd', 'failed'),
      del(1, 10, 11, 6, 1),
      read(2, 12, 13, null, 0),
      del(2, 14, 15, 6, 0),
      cas(1, 16, 17, 0, 'e', 8),
    ]),
    'ok',
  );
});

test('good: cas with unknown outcome from an unknown state, both branches explored', () => {
  // b's revision is unknown; the cas on revision 9 may or may not have hit it.
  const ops = [write(1, 0, 1, 'a', 3), writeUnknown(2, 2, 'b'), cas(3, 3, 0, 9, 'c', 'unknown')];
  assert.equal(verdict([...ops, read(4, 20, 21, 'c', 12)]), 'ok');
  assert.equal(verdict([...ops, read(4, 20, 21, 'b', 10)]), 'ok');
  assert.equal(verdict([...ops, read(4, 20, 21, 'b', 9), read(4, 22, 23, 'c', 12)]), 'ok');
});

test('good: partitions by key are checked independently', () => {
  const ops = [
    { ...write(1, 0, 1, 'a', 2), key: 'x' },
    { ...write(1, 2, 3, 'b', 3), key: 'y' },
    { ...read(2, 4, 5, 'a', 2), key: 'x' },
    { ...read(2, 4, 5, null, 0), key: 'z' },
  ];
  const r = checkLinearizable(registerModel, ops, (op) => op.key);
  assert.equal(r.verdict, 'ok');
  assert.deepEqual(r.partitions.map((p) => p.partition), ['x', 'y', 'z']);
});

// Known-bad histories, named after what they break.

test('bad: stale read (a read after a completed write returns the older value)', () => {
  assert.equal(verdict([write(1, 0, 1, 'a', 3), write(1, 2, 3, 'b', 4), read(2, 4, 5, 'a', 3)]), 'illegal');
});

test('bad: lost acknowledged write (read returns absent after the write completed)', () => {
  assert.equal(verdict([write(1, 0, 1, 'a', 3), read(2, 2, 3, null, 0)]), 'illegal');
});

test('bad: read of a value nobody wrote', () => {
  assert.equal(verdict([write(1, 0, 1, 'a', 3), read(2, 2, 3, 'zzz', 3)]), 'illegal');
});

test('bad: read from the future (value of a write called after the read returned)', () => {
  assert.equal(verdict([read(2, 0, 1, 'a', 3), write(1, 2, 3, 'a', 3)]), 'illegal');
});

test('bad: non-monotonic reads (two sequential reads flip back)', () => {
  assert.equal(verdict([write(1, 0, 10, 'a', 3), write(3, 0, 10, 'b', 4), read(2, 1, 2, 'b', 4), read(2, 3, 4, 'a', 3)]), 'illegal');
});

test('bad: double cas (two cas on the same modRevision both succeed)', () => {
  assert.equal(verdict([write(1, 0, 1, 'a', 3), cas(2, 2, 5, 3, 'b', 4), cas(3, 2, 5, 3, 'c', 5)]), 'illegal');
});

test('bad: spurious cas failure (compare held but the cas reported failure)', () => {
  assert.equal(verdict([write(1, 0, 1, 'a', 3), cas(2, 2, 3, 3, 'b', 'failed'), read(2, 4, 5, 'a', 3)]), 'illegal');
});

test('bad: create-if-absent succeeds on a present key', () => {
  assert.equal(verdict([write(1, 0, 1, 'a', 3), cas(2, 2, 3, 0, 'b', 4)]), 'illegal');
});

test('bad: revision goes backwards (a later write gets a lower revision)', () => {
  assert.equal(verdict([write(1, 0, 1, 'a', 5), write(1, 2, 3, 'b', 4)]), 'illegal');
});

test('bad: revision reused across a delete (a re-created key gets a revision below the delete)', () => {
  // Found by the generated-history test: the model once forgot a key's past revisions after a delete.
  assert.equal(verdict([write(1, 0, 1, 'a', 3), del(1, 2, 3, 4, 1), cas(2, 4, 5, 0, 'b', 2)]), 'illegal');
  assert.equal(verdict([write(1, 0, 1, 'a', 3), del(1, 2, 3, 4, 1), cas(2, 4, 5, 0, 'b', 5)]), 'ok');
});

test('bad: read reports the wrong modRevision for the value', () => {
  assert.equal(verdict([write(1, 0, 1, 'a', 5), read(2, 2, 3, 'a', 6)]), 'illegal');
});

test('bad: unknown write surfaces with a revision older than a completed write', () => {
  assert.equal(verdict([writeUnknown(2, 0, 'b'), write(1, 5, 6, 'a', 8), read(3, 7, 8, 'a', 8), read(3, 9, 10, 'b', 7)]), 'illegal');
});

test('bad: deleted key still readable', () => {
  assert.equal(verdict([write(1, 0, 1, 'a', 3), del(1, 2, 3, 4, 1), read(2, 4, 5, 'a', 3)]), 'illegal');
});

test('bad: explanation names the operations that cannot be placed', () => {
  const r = checkPartition(registerModel, [write(1, 0, 1, 'a', 3), write(1, 2, 3, 'b', 4), read(2, 4, 5, 'a', 3)], 'k');
  assert.equal(r.verdict, 'illegal');
  assert.match(r.explanation ?? '', /read\(\) → a@3/);
});

test('a search over budget answers "unknown", not a guess', () => {
  // Many concurrent unknown writes and reads: a large search space.
  const ops: Op[] = [];
  for (let i = 0; i < 14; i++) ops.push(writeUnknown(i, 0, `v${i}`));
  for (let i = 0; i < 14; i++) ops.push(read(100 + i, 1, 2, `v${13 - i}`, 100 + i));
  const r = checkPartition(registerModel, ops, 'k', { stepsMax: 50 });
  assert.equal(r.verdict, 'unknown');
});

test('many concurrent clients: a good history with 300 operations checks quickly', () => {
  const ops: Op[] = [];
  let rev = 1;
  let value: string | null = null;
  let modRevision = 0;
  for (let i = 0; i < 100; i++) {
    const t = i * 10;
    rev++;
    ops.push(write(i % 5, t, t + 6, `w${i}`, rev));
    // A read overlapping the write sees either side of it.
    ops.push(read(10 + (i % 5), t + 1, t + 2, value, modRevision));
    value = `w${i}`;
    modRevision = rev;
    ops.push(read(20 + (i % 5), t + 7, t + 8, value, modRevision));
  }
  const r = checkPartition(registerModel, ops, 'k');
  assert.equal(r.verdict, 'ok');
});
