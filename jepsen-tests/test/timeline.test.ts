// The HTML timeline renders a known history: every operation as a bar in its
// client's lane with its outcome's class, nemesis events as bands, the verdict
// and first anomaly at the top, escaped, and nothing fetched from the network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTimeline } from '../report/timeline.js';
import { renderKvTimeline } from '../report/kv-timeline.js';
import { checkBank, type BankHistory } from '../checker/bank.js';

const html = renderTimeline({
  title: 'round <7>',
  ok: false,
  verdict: 'linearizable=illegal',
  firstAnomaly: 'key /jepsen/k0: read "a" & saw <b>',
  ops: [
    { lane: 'c1', start: 0, end: 10, status: 'ok', label: 'write a' },
    { lane: 'c2', start: 5, end: 20, status: 'fail', label: 'cas-failed b' },
    { lane: 'c10', start: 8, end: Infinity, status: 'unknown', label: 'write c' },
    { lane: 'c1', start: 50, end: 100, status: 'ok', label: 'read a' },
  ],
  nemesis: [{ kind: 'partition', label: '[n1] | [n2,n3]', start: 30, end: 60 }],
});

test('timeline: lanes, bars by outcome, nemesis bands, verdict on top', () => {
  // Lanes in natural order, each once.
  const lanes = [...html.matchAll(/<div class="name">([^<]*)<\/div>/g)].map((m) => m[1]);
  assert.deepEqual(lanes, ['c1', 'c2', 'c10']);
  // One bar per operation, classed by outcome; the unanswered one is open and runs to the end (t=100).
  const bars = [...html.matchAll(/<div class="op ([a-z ]+)" style="left:([0-9.]+)%;width:([0-9.]+)%" title="([^"]*)"/g)].map((m) => ({ cls: m[1], left: Number(m[2]), width: Number(m[3]), title: m[4] }));
  assert.equal(bars.length, 4);
  assert.deepEqual(bars.map((b) => b.cls).sort(), ['fail', 'ok', 'ok', 'unknown open']);
  const open = bars.find((b) => b.cls === 'unknown open');
  assert.ok(open !== undefined && Math.abs(open.left - 8) < 0.01 && Math.abs(open.width - 92) < 0.01, JSON.stringify(open));
  assert.ok(bars.some((b) => b.title === '+50ms..+100ms read a'));
  // The band spans 30..60 of 0..100.
  assert.match(html, /<div class="band" style="left:30\.000%;width:30\.000%" title="\+30ms\.\.\+60ms \[n1\] \| \[n2,n3\]"><span>partition<\/span><\/div>/);
  // The verdict and anomaly come before the chart, escaped.
  const verdictAt = html.indexOf('<b>FAIL</b> linearizable=illegal');
  assert.ok(verdictAt > 0 && verdictAt < html.indexOf('id="chart"'));
  assert.ok(html.includes('key /jepsen/k0: read &#34;a&#34; &#38; saw &#60;b&#62;'));
  assert.ok(html.includes('<title>round &#60;7&#62;</title>'));
  // Self-contained: no external resources.
  assert.doesNotMatch(html, /\b(src|href)=|https?:\/\//);
});

test('keeper timeline: a lane per bank client, a read with a wrong total in red and named as the first anomaly', () => {
  const accounts = ['/jepsen-bank/a0', '/jepsen-bank/a1'];
  const bankHistory: BankHistory = {
    accounts,
    total: 200,
    reads: [
      { clientId: 1001, node: 'n1', call: 0, return: 5, revision: 4, balances: { '/jepsen-bank/a0': 100, '/jepsen-bank/a1': 100 } },
      { clientId: 1001, node: 'n2', call: 20, return: 25, revision: 6, balances: { '/jepsen-bank/a0': 90, '/jepsen-bank/a1': 100 } },
    ],
    transfers: [
      { clientId: 1001, node: 'n1', call: 6, return: 10, from: '/jepsen-bank/a0', to: '/jepsen-bank/a1', amount: 10, outcome: 'done' },
      { clientId: 1002, node: 'n3', call: 12, return: 30, from: '/jepsen-bank/a1', to: '/jepsen-bank/a0', amount: 5, outcome: 'unknown' },
    ],
  };
  const kv = renderKvTimeline({
    seed: 7,
    history: { operations: [], watches: [], finalRead: undefined },
    nemesis: [],
    linearizable: { verdict: 'ok', partitions: [] },
    revisionOrder: { ok: true, violations: [] },
    watch: { ok: true, violations: [], stats: { streams: 0, events: 0, progress: 0, truthEvents: 0 } },
    bank: { history: bankHistory, result: checkBank(bankHistory) },
    livenessFailure: undefined,
    ok: false,
  });
  const lanes = [...kv.matchAll(/<div class="name">([^<]*)<\/div>/g)].map((m) => m[1]);
  assert.deepEqual(lanes, ['bank 1001', 'bank 1002']);
  const bars = [...kv.matchAll(/<div class="op ([a-z ]+)" style="[^"]*" title="([^"]*)"/g)].map((m) => [m[1], m[2]]);
  assert.equal(bars.length, 4);
  assert.ok(bars.some(([cls, title]) => cls === 'fail' && /a0=90 a1=100 \(sum 190\)/.test(title ?? '')), JSON.stringify(bars));
  assert.ok(bars.some(([cls, title]) => cls === 'unknown open' && /move 5 .* unknown/.test(title ?? '')), JSON.stringify(bars));
  assert.match(kv, /bank=violated/);
  assert.match(kv, /bank: read by client 1001 through n2 at revision 6 .* add up to 190, not 200/);
});
