// The scope check of scoped tokens: a key or prefix range within a granted
// prefix, write implying read; scopes that reach /sys/ or do not read back
// are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allows, parseScope, scopeProblem } from '../src/keeper-scope.js';

const scope = { read: ['/config/'], write: ['/svc/a/'] };

test('a key or a prefix is allowed only within one granted prefix', () => {
  const cases: [string, 'read' | 'write', boolean][] = [
    ['/config/db', 'read', true],
    ['/config/', 'read', true],
    ['/config', 'read', false], // the range /config* holds /configX
    ['/configX', 'read', false],
    ['/', 'read', false],
    ['/config/db', 'write', false],
    ['/svc/a/k', 'read', true],
    ['/svc/a/k', 'write', true],
    ['/svc/a', 'write', false],
    ['/svc/ab', 'write', false],
    ['/svc/', 'write', false],
  ];
  for (const [key, access, want] of cases) assert.equal(allows(scope, access, key), want, `${access} ${key}`);
});

test('a scope may not reach /sys/, must name prefixes that start with /, and at most 32', () => {
  assert.equal(scopeProblem(scope), undefined);
  for (const bad of [{ read: ['/sys/'], write: [] }, { read: [], write: ['/sys/apps/x'] }, { read: ['/s'], write: [] }, { read: ['/'], write: [] }]) {
    assert.match(scopeProblem(bad) ?? '', /\/sys\//, JSON.stringify(bad));
  }
  assert.match(scopeProblem({ read: ['config/'], write: [] }) ?? '', /start with/);
  assert.match(scopeProblem({ read: [], write: [] }) ?? '', /at least one/);
  assert.match(scopeProblem({ read: Array.from({ length: 20 }, (_, i) => `/r${i}/`), write: Array.from({ length: 13 }, (_, i) => `/w${i}/`) }) ?? '', /at most 32/);
});

test('a stored scope that does not read back as a valid one is refused, so its token is dropped', () => {
  assert.deepEqual(parseScope(scope), scope);
  for (const bad of [null, 'x', { read: ['/config/'] }, { read: [1], write: [] }, { read: ['/sys/'], write: [] }, { read: [], write: [] }]) {
    assert.equal(parseScope(bad), undefined, JSON.stringify(bad));
  }
});
