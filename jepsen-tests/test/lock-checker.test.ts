// The lock checker on known histories: holders in turn pass; a write by an
// earlier holder after a later one's, or a counter that does not go up, fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLock, type LockWrite } from '../checker/lock.js';

const done = (clientId: number, token: number, revision: number, counter: number): LockWrite => ({ clientId, token, call: revision, return: revision + 1, outcome: 'done', revision, counter });

test('lock checker: holders in turn pass, failed and unknown writes aside', () => {
  const r = checkLock([
    done(1, 10, 11, 1),
    done(1, 10, 12, 2),
    { clientId: 1, token: 10, call: 13, return: 14, outcome: 'unknown' },
    done(2, 15, 17, 4), // the unknown write went through: the counter skipped 3
    { clientId: 1, token: 10, call: 18, return: 19, outcome: 'compare-failed' }, // fenced off: its key is gone
    done(3, 20, 21, 5),
  ]);
  assert.deepEqual([r.ok, r.violations, r.stats.holders, r.stats.done, r.stats.unknown, r.stats['compare-failed']], [true, [], 3, 4, 1, 1]);
});

test('lock checker: an earlier holder writing after a later one is two holders at once', () => {
  const r = checkLock([done(1, 10, 11, 1), done(2, 15, 12, 2), done(1, 10, 13, 3)]);
  assert.equal(r.ok, false);
  assert.match(r.violations.join('\n'), /client 1 wrote at revision 13 holding token 10, after client 2 wrote at revision 12 holding the later token 15: two holders at once/);
});

test('lock checker: a counter that does not go up is a lost or repeated increment (whatever order the writes were recorded in)', () => {
  const r = checkLock([done(2, 15, 14, 2), done(1, 10, 11, 2)]);
  assert.equal(r.ok, false);
  assert.match(r.violations.join('\n'), /the counter went from 2 \(revision 11\) to 2 \(revision 14\)/);
});
