import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdSet } from '../src/core/id-set.js';

test('remembers at most capacity ids, forgetting the oldest', () => {
  const s = new IdSet(3);
  assert.equal(s.add('a'), true);
  assert.equal(s.add('a'), false);
  s.add('b');
  s.add('c');
  s.add('d');
  assert.equal(s.size, 3);
  assert.equal(s.add('a'), true, 'a was evicted');
  assert.equal(s.add('c'), false);
});
