// Ownership: every node computes the same owner, load is balanced, and a
// membership change moves only about 1/N of the users.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ownerOf, rankNodes } from '../src/ring.js';
import { dispatch } from '../src/dispatcher.js';
import type { Member } from '../../keeper/src/keeper.js';

function members(n: number, zones = 1): Member[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `n${i + 1}`,
    role: 'voter' as const,
    peer: `127.0.0.1:${9000 + i}`,
    api: `127.0.0.1:${8000 + i}`,
    gateway: `127.0.0.1:${7000 + i}`,
    zone: `z${i % zones}`,
  }));
}

const USERS = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);

test('owners are balanced across members', () => {
  const ms = members(5);
  const counts = new Map<string, number>();
  for (const u of USERS) {
    const o = ownerOf(ms, u)?.id ?? '';
    counts.set(o, (counts.get(o) ?? 0) + 1);
  }
  for (const [, c] of counts) assert.ok(Math.abs(c - USERS.length / 5) < USERS.length * 0.03, `unbalanced: ${JSON.stringify([...counts])}`);
});

test('a join moves about 1/N of users, all to the new node', () => {
  const before = members(4);
  const after = members(5);
  let moved = 0;
  for (const u of USERS) {
    const a = ownerOf(before, u)?.id;
    const b = ownerOf(after, u)?.id;
    if (a !== b) {
      moved++;
      assert.equal(b, 'n5');
    }
  }
  assert.ok(Math.abs(moved / USERS.length - 1 / 5) < 0.03, `moved ${moved}`);
});

test('the ranking does not depend on member order and skips learners', () => {
  const ms = members(4);
  const shuffled = [ms[2], ms[0], ms[3], ms[1]].filter((m): m is Member => m !== undefined);
  for (const u of USERS.slice(0, 500)) assert.deepEqual(rankNodes(ms, u).map((m) => m.id), rankNodes(shuffled, u).map((m) => m.id));
  const withLearner = [...ms, { ...ms[0], id: 'learner', role: 'learner' as const } as Member];
  for (const u of USERS.slice(0, 500)) assert.notEqual(ownerOf(withLearner, u)?.id, 'learner');
});

test('dispatch puts the owner first, spreads zones, and tried addresses last', () => {
  const ms = members(6, 3);
  const nodes = dispatch(ms, 'app', 'u1', new Set(), false);
  assert.equal(nodes[0]?.id, ownerOf(ms, 'app\u0000u1')?.id);
  assert.equal(nodes.length, 6);
  const zonesOfNext = new Set(nodes.slice(1, 3).map((n) => n.zone));
  assert.equal(zonesOfNext.size, 2);
  const first = ms.find((m) => m.id === nodes[0]?.id);
  const tried = dispatch(ms, 'app', 'u1', new Set([first?.gateway ?? '']), false);
  assert.equal(tried[tried.length - 1]?.id, nodes[0]?.id);
  assert.match(nodes[0]?.url ?? '', /^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
});
