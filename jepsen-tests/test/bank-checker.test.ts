// The bank checker against known-good and known-bad histories: a transfer
// half made, a read across two revisions, an account lost or invented, and
// a negative balance each fail it; reads at any point between whole
// transfers pass.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkBank, type BankHistory, type BankRead } from '../checker/bank.js';

const accounts = ['/b/a0', '/b/a1', '/b/a2'];
let clock = 0;
const read = (balances: Record<string, number>, final = false): BankRead => ({ clientId: 1, node: 'n1', call: clock++, return: clock++, revision: clock, balances, ...(final ? { final } : {}) });
const history = (reads: BankRead[]): BankHistory => ({ accounts, total: 300, reads, transfers: [] });

test('bank checker: reads between whole transfers pass', () => {
  const r = checkBank(
    history([
      read({ '/b/a0': 100, '/b/a1': 100, '/b/a2': 100 }),
      read({ '/b/a0': 90, '/b/a1': 110, '/b/a2': 100 }),
      read({ '/b/a0': 0, '/b/a1': 110, '/b/a2': 190 }),
      read({ '/b/a0': 0, '/b/a1': 110, '/b/a2': 190 }, true),
    ]),
  );
  assert.deepEqual([r.ok, r.violations, r.stats.reads, r.stats.finalReads], [true, [], 4, 1]);
});

test('bank checker: a half-made transfer, a lost or invented account, a negative or non-whole balance each fail', () => {
  const bad: [string, Record<string, number>, RegExp][] = [
    ['money taken, not given (half a transfer)', { '/b/a0': 90, '/b/a1': 100, '/b/a2': 100 }, /add up to 290, not 300/],
    ['given twice (a read across two revisions)', { '/b/a0': 100, '/b/a1': 110, '/b/a2': 100 }, /add up to 310/],
    ['an account lost', { '/b/a0': 150, '/b/a1': 150 }, /missing \/b\/a2/],
    ['an account invented', { '/b/a0': 100, '/b/a1': 100, '/b/a2': 100, '/b/x': 0 }, /unknown \/b\/x/],
    ['a negative balance', { '/b/a0': -10, '/b/a1': 210, '/b/a2': 100 }, /0 or more: \/b\/a0=-10/],
    ['a value that is not a number', { '/b/a0': NaN, '/b/a1': 200, '/b/a2': 100 }, /0 or more: \/b\/a0=NaN/],
  ];
  for (const [what, balances, why] of bad) {
    const r = checkBank(history([read({ '/b/a0': 100, '/b/a1': 100, '/b/a2': 100 }), read(balances)]));
    assert.equal(r.ok, false, what);
    assert.ok(r.violations.some((v) => why.test(v)), `${what}: ${r.violations.join('; ')}`);
  }
});
